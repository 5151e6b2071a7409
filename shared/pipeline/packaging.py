"""Packages: check every source, create each package (named for the run, so a redelivery
finds it), upload it to the SAS URI, and wait until Partner Center processed it.

Where packages sit and what they are called comes from the offer type: one per plan for an
Azure Application, the main app and its libraries at offer level for Business Central (several
library apps go up as one zip, as Microsoft's own Business Central tooling sends them).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

from shared.ledger import Run
from shared.messages import Stage
from shared.offer_types import OfferType, of_run
from shared.partnercenter.errors import Conflict, PreconditionFailed
from shared.partnercenter.models import Package
from shared.partnercenter.responses import upload_uri
from shared.pipeline import intents
from shared.pipeline.deps import PackageFiles, StageDeps
from shared.pipeline.outcomes import Advance, Failed, Outcome, Patch, Wait
from shared.publish_request import DraftChanges, PackageSource

APP = "offer:app"
LIBRARIES = "offer:libraries"


@dataclass(frozen=True)
class Slot:
    """One package the run uploads: a plan's, or the offer's app or libraries."""

    key: str  # a plan id, APP or LIBRARIES (plan ids cannot hold ':')
    sources: tuple[PackageSource, ...]
    package_type: str

    def file_name(self, run_id: str) -> str:
        name = self.sources[0].file_name if len(self.sources) == 1 else "libraries.zip"
        label = self.key.removeprefix("offer:")
        return re.sub(r"[^\w.-]", "-", f"{run_id}-{label}-{name}")[:200]

    def describe(self) -> str:
        return f"plan {self.key}" if ":" not in self.key else self.key.replace(":", " ")


def slots(kind: OfferType, changes: DraftChanges) -> list[Slot]:
    found = [
        Slot(plan, (source,), kind.package_types["plan"])
        for plan, source in sorted(changes.package_plans.items())
        if "plan" in kind.package_types
    ]
    if changes.package and kind.offer_packages:
        found.append(Slot(APP, (changes.package.app,), kind.package_types["app"]))
        if changes.package.libraries:
            libraries = tuple(changes.package.libraries)
            found.append(Slot(LIBRARIES, libraries, kind.package_types["library"]))
    return found


def upload_package(run: Run, deps: StageDeps) -> Outcome:
    """Create each package, upload its file to the SAS URI, mark it uploaded.

    Every source is checked (allowed, present, within the size limit) before the first package
    is created, so a bad source leaves no package behind. Each creation is an intent recorded
    first (shared.pipeline.intents); package names carry the run id, so a delivery that finds
    an unanswered attempt lists packages and takes the one with its name, never another.
    """
    assert run.product_id is not None and deps.files is not None
    pid = run.product_id
    kind = of_run(run.offer_type)
    pending = [
        s
        for s in slots(kind, DraftChanges.model_validate(run.changes))
        if s.key not in run.packages
    ]
    for slot in pending:
        for source in slot.sources:
            deps.files.check(source)
    names = {slot.key: slot.file_name(run.run_id) for slot in pending}
    new = {
        _key(s.key): {"file": names[s.key]}
        for s in pending
        if intents.state(run, _key(s.key)) in ("none", "refused")
    }
    if new:
        return intents.intend_all(run, new)
    unknown = [s.key for s in pending if intents.state(run, _key(s.key)) == "unknown"]
    # Only an attempt whose answer never came may have made one: find it by its run's name.
    existing = {p.file_name: p for p in deps.pc.packages(pid)} if unknown else {}
    lost = {_key(k): {"file": names[k]} for k in unknown if names[k] not in existing}
    if lost:  # never made: record a fresh intent and create it
        return intents.intend_all(run, lost)
    done = dict(run.packages)
    made = dict(run.intents)
    states: dict[str, Package] = {}
    for slot in pending:
        name = names[slot.key]
        found = existing.get(name)
        # Read before creating: a file grown past its limit since the check makes no package.
        content = _content(deps.files, slot) if found is None or _to_upload(found) else b""
        package = found or deps.pc.create_package(pid, name, slot.package_type)
        if _to_upload(package):
            deps.files.upload(upload_uri(package.file_sas_uri, slot.describe()), content)
            try:
                package = deps.pc.mark_uploaded(pid, package)
            except (PreconditionFailed, Conflict):
                package = deps.pc.get_package(pid, package.id)  # marked meanwhile?
                if _to_upload(package):
                    raise
        states[slot.key] = package
        done[slot.key] = package.id
        made[_key(slot.key)] = {**made[_key(slot.key)], "state": intents.DONE, "id": package.id}
    patch = Patch(packages=done, intents=made)
    if kind.processed_on_upload:  # the upload PUT answered the final state: no polling
        failed = next((p for p in states.values() if p.state == "ProcessFailed"), None)
        if failed is not None:
            slot = next(s for s in pending if states[s.key] is failed)
            return Failed(reason=_failure(slot, failed), patch=patch)
        if all(p.state == "Processed" for p in states.values()):
            return Advance(to=Stage.UPDATE_DRAFT, patch=patch)
    delay, aimed = deps.next_poll(run, Stage.AWAIT_PACKAGE)
    return Wait(
        check=Stage.AWAIT_PACKAGE,
        delay_seconds=delay,
        aimed=aimed,
        reason="package processing",
        patch=patch,
    )


def _content(files: PackageFiles, slot: Slot) -> bytes:
    """The file to upload: the one source, or the library apps zipped together (entries in
    request order, fixed timestamps, so a redelivery uploads the same bytes)."""
    if len(slot.sources) == 1:
        return files.read(slot.sources[0])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        seen: set[str] = set()
        for i, source in enumerate(slot.sources):
            name = source.file_name if source.file_name not in seen else f"{i}-{source.file_name}"
            seen.add(name)
            archive.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), files.read(source))
    return buffer.getvalue()


def _to_upload(package: Package) -> bool:
    return package.state == "PendingUpload"


def _key(slot: str) -> str:
    return f"package:{slot}"


def _failure(slot: Slot, package: Package) -> str:
    items = (
        "; ".join(
            f"{i.severity or 'Error'} {i.error_code}: {i.message}" for i in package.validation_items
        )
        or "no details given"
    )
    return f"package for {slot.describe()} failed processing: {items}"


def await_package(run: Run, deps: StageDeps) -> Outcome:
    """Poll until every uploaded package is Processed, or fail with its validation items."""
    assert run.product_id is not None
    for key, package_id in sorted(run.packages.items()):
        slot = Slot(key, (), "")
        package = deps.pc.get_package(run.product_id, package_id)
        if package.state == "ProcessFailed":
            return Failed(reason=_failure(slot, package))
        if package.state != "Processed":
            delay, aimed = deps.next_poll(run)
            return Wait(
                check=Stage.AWAIT_PACKAGE,
                delay_seconds=delay,
                aimed=aimed,
                reason=f"package for {slot.describe()} is {package.state}",
            )
    return Advance(to=Stage.UPDATE_DRAFT)
