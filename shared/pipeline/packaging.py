"""Packages: check every source, create each plan's package (named for the run, so a
redelivery finds it), upload it to the SAS URI, and wait until Partner Center processed it."""

from __future__ import annotations

import re

from shared.ledger import Run
from shared.messages import Stage
from shared.partnercenter.errors import Conflict, PreconditionFailed
from shared.pipeline import intents
from shared.pipeline.deps import StageDeps
from shared.pipeline.outcomes import Advance, Failed, Outcome, Patch, Wait
from shared.publish_request import DraftChanges, PackageSource


def upload_package(run: Run, deps: StageDeps) -> Outcome:
    """Create each plan's package, upload its file to the SAS URI, mark it uploaded.

    Every source is checked (allowed, present, within the size limit) before the first package
    is created, so a bad source leaves no package behind. Each creation is an intent recorded
    first (shared.pipeline.intents); package names carry the run id, so a delivery that finds
    an unanswered attempt lists packages and takes the one with its name, never another.
    """
    assert run.product_id is not None and deps.files is not None
    pid = run.product_id
    changes = DraftChanges.model_validate(run.changes)
    for plan, source in sorted(changes.package_plans.items()):
        if plan not in run.packages:
            deps.files.check(source)
    pending = {
        plan: source
        for plan, source in sorted(changes.package_plans.items())
        if plan not in run.packages
    }
    names = {plan: package_file_name(run.run_id, plan, source) for plan, source in pending.items()}
    new = {
        _key(plan): {"file": names[plan]}
        for plan in pending
        if intents.state(run, _key(plan)) in ("none", "refused")
    }
    if new:
        return intents.intend_all(run, new)
    unknown = [plan for plan in pending if intents.state(run, _key(plan)) == "unknown"]
    # Only an attempt whose answer never came may have made one: find it by its run's name.
    existing = {p.file_name: p for p in deps.pc.packages(pid)} if unknown else {}
    lost = {_key(p): {"file": names[p]} for p in unknown if names[p] not in existing}
    if lost:  # never made: record a fresh intent and create it
        return intents.intend_all(run, lost)
    done = dict(run.packages)
    made = dict(run.intents)
    for plan, source in pending.items():
        package = existing.get(names[plan]) or deps.pc.create_package(pid, names[plan])
        if package.state == "PendingUpload":
            assert package.file_sas_uri, "Partner Center gave no upload URI"
            deps.files.upload(package.file_sas_uri, deps.files.read(source))
            try:
                package = deps.pc.mark_uploaded(pid, package)
            except (PreconditionFailed, Conflict):
                package = deps.pc.get_package(pid, package.id)  # marked meanwhile?
                if package.state == "PendingUpload":
                    raise
        done[plan] = package.id
        made[_key(plan)] = {**made[_key(plan)], "state": intents.DONE, "id": package.id}
    return Wait(
        check=Stage.AWAIT_PACKAGE,
        delay_seconds=deps.poll_seconds,
        reason="package processing",
        patch=Patch(packages=done, intents=made),
    )


def _key(plan: str) -> str:
    return f"package:{plan}"


def package_file_name(run_id: str, plan: str, source: PackageSource) -> str:
    return re.sub(r"[^\w.-]", "-", f"{run_id}-{plan}-{source.file_name}")[:200]


def await_package(run: Run, deps: StageDeps) -> Outcome:
    """Poll until every uploaded package is Processed, or fail with its validation items."""
    assert run.product_id is not None
    for plan, package_id in sorted(run.packages.items()):
        package = deps.pc.get_package(run.product_id, package_id)
        if package.state == "ProcessFailed":
            items = (
                "; ".join(
                    f"{i.severity or 'Error'} {i.error_code}: {i.message}"
                    for i in package.validation_items
                )
                or "no details given"
            )
            return Failed(reason=f"package for plan {plan} failed processing: {items}")
        if package.state != "Processed":
            return Wait(
                check=Stage.AWAIT_PACKAGE,
                delay_seconds=deps.poll_seconds,
                reason=f"package for plan {plan} is {package.state}",
            )
    return Advance(to=Stage.UPDATE_DRAFT)
