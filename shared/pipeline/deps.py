"""What stages are given: the Partner Center API they call (a protocol, so tests can hand in
the simulator), package files, the offer lock and the settings that shape their decisions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from shared.ledger import Run, now_utc, parse_stamp
from shared.partnercenter.models import (
    CertificationReport,
    ListingMedia,
    ListingVideo,
    Package,
    Product,
    ProductSetup,
    Submission,
    ValidationItem,
    Variant,
    WorkflowDetail,
)
from shared.pipeline.drafts import DraftApi
from shared.pipeline.outcomes import Outcome
from shared.publish_request import PackageSource
from shared.wait_history import Learned, kind_of, learned_delay, toward_aim

if TYPE_CHECKING:
    from shared.releases import Releases


class PartnerCenterApi(DraftApi, Protocol):
    def warm(self) -> None: ...  # the client built and a token taken (no call)
    def get_product(self, product_id: str) -> Product: ...
    def find_products(self, offer_id: str) -> list[Product]: ...
    def submissions(self, product_id: str) -> list[Submission]: ...
    def get_submission(self, product_id: str, submission_id: str) -> Submission: ...
    def create_submission(self, product_id: str, body: Mapping[str, Any]) -> Submission: ...
    def promote(self, product_id: str, submission_id: str) -> None: ...
    def delete_submission(self, product_id: str, submission_id: str) -> None: ...
    def validations(self, product_id: str, submission_id: str) -> list[ValidationItem]: ...
    def workflow_details(self, product_id: str, submission_id: str) -> list[WorkflowDetail]: ...
    def reports(self, product_id: str, submission_id: str) -> list[CertificationReport]: ...
    def variants(self, product_id: str) -> list[Variant]: ...
    def setup(self, product_id: str) -> ProductSetup: ...
    def packages(self, product_id: str) -> list[Package]: ...
    def get_package(self, product_id: str, package_id: str) -> Package: ...
    def create_package(
        self, product_id: str, file_name: str, resource_type: str = ...
    ) -> Package: ...
    def mark_uploaded(self, product_id: str, package: Package) -> Package: ...
    def media(self, product_id: str, listing_id: str, collection: str) -> list[ListingMedia]: ...
    def create_media(
        self, product_id: str, listing_id: str, collection: str, body: Mapping[str, Any]
    ) -> ListingMedia: ...
    def put_media(
        self,
        product_id: str,
        listing_id: str,
        collection: str,
        body: Mapping[str, Any],
        etag: str | None,
    ) -> ListingMedia: ...
    def videos(self, product_id: str, listing_id: str) -> list[ListingVideo]: ...
    def create_video(
        self, product_id: str, listing_id: str, body: Mapping[str, Any]
    ) -> ListingVideo: ...
    def put_video(
        self, product_id: str, listing_id: str, body: Mapping[str, Any], etag: str | None
    ) -> ListingVideo: ...
    def delete_media(
        self, product_id: str, listing_id: str, collection: str, media_id: str
    ) -> None: ...


class PackageFiles(Protocol):
    """Where package bytes come from and go to (blob storage, outside Partner Center)."""

    def check(self, source: PackageSource) -> int: ...
    def read(self, source: PackageSource) -> bytes: ...
    def upload(self, sas_uri: str, data: bytes) -> None: ...


class ExportStore(Protocol):
    """Where an export's request is written (a blob of the app's storage); returns its name."""

    def write(self, name: str, text: str) -> str: ...


class OfferLookup(Protocol):
    def product_ids(self, offer_id: str) -> list[str]: ...


# (product id, run id) -> the other run holding the offer's turn and what it is doing, if any
OfferLock = Callable[[str, str], "str | None"]


@dataclass(frozen=True, kw_only=True)
class StageDeps:
    pc: PartnerCenterApi
    poll_seconds: float = 60.0
    offer_lock: OfferLock | None = None
    # (product id, run id): give back a turn the run took (on a product that was not its own)
    offer_unlock: Callable[[str, str], object] | None = None
    files: PackageFiles | None = None
    exports: ExportStore | None = None
    foreign_submission: Literal["wait", "fail", "delete"] = "wait"
    # The Product Ingestion API, asked for an offer's product when v1's listing fails.
    lookup: OfferLookup | None = None
    # offer id -> the product id a run of that offer found before (the ledger remembers)
    known_product: Callable[[str], str | None] | None = None
    # (product id, submission id) -> (the pc-publisher run that created it, whether that run
    # is over), or None for a submission started elsewhere
    submission_owner: Callable[[str, str], tuple[str, bool] | None] | None = None
    # Releases in the ledger (the gates read them; shared.releases).
    releases: Releases | None = None
    now: Callable[[], datetime] = now_utc
    approval_timeout_seconds: float = 7 * 24 * 3600.0
    approval_remind_seconds: float = 24 * 3600.0
    # Status polls start at poll_seconds and stretch to a tenth of the time already waited,
    # up to this: certification takes hours to days.
    max_poll_seconds: float = 900.0
    # A kind of wait (shared.wait_history.kind_of) -> what the history says of such waits.
    expected_wait: Callable[[str], Learned | None] | None = None

    def next_poll(self, run: Run, wait: str | None = None) -> tuple[float, bool]:
        """When to look again at a run waiting on Partner Center in `wait` (by default its
        own stage; a run elsewhere is entering it), and whether that is a time the history
        aimed at. Counted from when this check was due, not from when it ended, so checks
        keep their interval however long the tick, the queue and the call took (at least
        half the interval from now); and no sooner than waits of its kind usually end, and
        at where their answers came (shared.wait_history)."""
        stage = wait or run.stage
        waited, late, interval = self._schedule(run, stage)
        known = self.expected_wait(kind_of(run.offer_type, stage)) if self.expected_wait else None
        if known is None:
            return max(interval - late, interval / 2), False
        delay = learned_delay(waited, interval, known.span, self.max_poll_seconds)
        delay = max(delay - late, delay / 2)
        aimed = toward_aim(waited, delay, known.aims, interval / 4)
        return aimed, aimed < delay

    def plain_poll(self, run: Run, wait: str | None = None) -> float:
        """The next check's delay on the plain schedule alone, for a wait with no history of
        its kind (a gate's)."""
        _, late, interval = self._schedule(run, wait or run.stage)
        return max(interval - late, interval / 2)

    def _schedule(self, run: Run, stage: str) -> tuple[float, float, float]:
        """How long the run has waited in `stage`, how late this check is, and the plain
        interval: the base one, stretched to a tenth of the time waited, up to the longest."""
        last = run.timeline[-1] if run.timeline else None
        now = self.now()
        waited = late = 0.0
        if last is not None and last.ended is None and last.stage == stage == run.stage:
            waited = (now - parse_stamp(last.started)).total_seconds()
            if run.next_check_at:
                late = max(0.0, (now - parse_stamp(run.next_check_at)).total_seconds())
        interval = min(
            max(self.poll_seconds, waited / 10), max(self.max_poll_seconds, self.poll_seconds)
        )
        return waited, late, interval


StageFn = Callable[[Run, StageDeps], Outcome]
