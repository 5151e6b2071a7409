"""Packages: check every source, create each plan's package (named for the run, so a
redelivery finds it), upload it to the SAS URI, and wait until Partner Center processed it."""

from __future__ import annotations

import re

from shared.ledger import Run
from shared.messages import Stage
from shared.partnercenter.errors import Conflict, PreconditionFailed
from shared.pipeline.deps import StageDeps
from shared.pipeline.outcomes import Advance, Failed, Outcome, Patch, Wait
from shared.publish_request import DraftChanges, PackageSource


def upload_package(run: Run, deps: StageDeps) -> Outcome:
    """Create each plan's package, upload its file to the SAS URI, mark it uploaded.

    Package names carry the run id, so a redelivery finds the package an earlier delivery
    created (listing packages) instead of creating another. Every source is checked (allowed,
    present, within the size limit) before the first package is created, so a bad source
    leaves no package behind.
    """
    assert run.product_id is not None and deps.files is not None
    pid = run.product_id
    changes = DraftChanges.model_validate(run.changes)
    for plan, source in sorted(changes.package_plans.items()):
        if plan not in run.packages:
            deps.files.check(source)
    # Only a repeated attempt can have created packages already: the first one need not look.
    existing = {p.file_name: p for p in deps.pc.packages(pid)} if run.attempts != 1 else {}
    done = dict(run.packages)
    for plan, source in sorted(changes.package_plans.items()):
        if plan in done:
            continue
        name = package_file_name(run.run_id, plan, source)
        package = existing.get(name)
        if package is None:
            package = deps.pc.create_package(pid, name)
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
    return Wait(
        check=Stage.AWAIT_PACKAGE,
        delay_seconds=deps.poll_seconds,
        reason="package processing",
        patch=Patch(packages=done),
    )


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
