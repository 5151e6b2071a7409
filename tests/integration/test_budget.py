"""The tenant's shared call budget on Azurite: several instances (budgets over one ledger)
never together exceed a window's allowance, a 429 seen by one slows all of them, the rate
climbs back while calls succeed, and callers that found no room go before lower priorities."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from pcsim.admin import SimulatorClient
from shared.fanout import fan_out
from shared.partnercenter.budget import TenantBudget
from shared.partnercenter.budget_row import CONTROL, ROW
from shared.partnercenter.budget_window import Window
from shared.partnercenter.call_priority import Priority, priority
from shared.partnercenter.client import PartnerCenterClient
from shared.partnercenter.errors import BudgetExhausted, Throttled
from shared.partnercenter.retries import MAX_RETRY_AFTER
from shared.pipeline.effects import Pipeline
from tests.integration.conftest import proven


@pytest.fixture(autouse=True)
def fresh(pipeline: Pipeline) -> Iterator[None]:
    """Each test starts from no budget row, and leaves none: its press marks and full
    windows would keep the next test's poller from reading anything due."""
    with contextlib.suppress(ResourceNotFoundError):
        pipeline.ledger.table().delete_entity(CONTROL, ROW)
    yield
    with contextlib.suppress(ResourceNotFoundError):
        pipeline.ledger.table().delete_entity(CONTROL, ROW)


def counting_writes(budget: TenantBudget) -> list[Window]:
    """The windows the budget writes to the row from now on (one a talk)."""
    writes: list[Window] = []
    write = budget.row.write

    def counted(window: Window, etag: str | None) -> bool:
        writes.append(window)
        return write(window, etag)

    budget.row.write = counted  # type: ignore[method-assign]
    return writes


def test_an_instance_alone_on_the_row_talks_in_one_request(pipeline: Pipeline) -> None:
    """Once an instance's read finds the row as it wrote it, its talks start from its own last
    write: a write and no read, so the callers waiting on a talk wait half as long. When
    another instance writes meanwhile, the write fails on its ETag and the talk reads the row:
    the calls both took are in it."""
    now = time.time()
    one = TenantBudget(pipeline.ledger, 6000, batch=4, roomy_batch=4, clock=lambda: now)
    reads: list[int] = []
    read = one.row.read

    def counted() -> tuple[Window, str | None]:
        reads.append(1)
        return read()

    one.row.read = counted  # type: ignore[method-assign]
    writes = counting_writes(one)
    for _ in range(3):
        assert one._take(now, 4) == 0
    assert (len(reads), len(writes)) == (2, 3)  # the second read found its own write
    other = TenantBudget(pipeline.ledger, 6000, batch=4, roomy_batch=4, clock=lambda: now)
    assert other._take(now, 5) == 0
    assert one._take(now, 4) == 0
    assert (len(reads), len(writes)) == (3, 5)  # its copy was stale: written, refused, read
    stored = Window(**json.loads(pipeline.ledger.table().get_entity(CONTROL, ROW)["data"]))
    assert stored.used() == 4 + 4 + 4 + 5 + 4
    assert one._take(now, 4) == 0  # not alone any more: it reads before it writes
    assert (len(reads), len(writes)) == (4, 6)


def test_instances_share_one_allowance(pipeline: Pipeline) -> None:
    # 600 a minute in 1-second windows: 10 calls a window for the whole tenant.
    instances = [
        TenantBudget(pipeline.ledger, 600, window_seconds=1.0, batch=3, max_wait_seconds=30)
        for _ in range(3)
    ]
    stamps: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + 3.0

    def work(budget: TenantBudget) -> None:
        while time.monotonic() < stop:
            budget.acquire()
            with lock:
                stamps.append(time.time())

    threads = [threading.Thread(target=work, args=(b,)) for b in instances for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # At most 10 a window, a window or two at the edges aside: 3 s is 3-4 windows.
    assert 15 <= len(stamps) <= 4 * 10 + 6, len(stamps)


def test_a_429_slows_every_instance_and_the_rate_climbs_back(pipeline: Pipeline) -> None:
    one = TenantBudget(pipeline.ledger, 1200, window_seconds=0.5)
    other = TenantBudget(pipeline.ledger, 1200, window_seconds=0.5)
    one.acquire()
    one.throttled(retry_after=1.0)
    assert other.rate() == 600  # halved for everyone
    started = time.monotonic()
    other.acquire()  # held until the Retry-After has passed
    assert time.monotonic() - started >= 0.8
    for _ in range(6):  # windows without a 429: back up a twentieth of the ceiling each
        time.sleep(0.55)
        other.acquire()
    assert 600 < other.rate() <= 1200


@pytest.mark.parametrize("told", ["1e309", "99999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_retry_after_of_years_holds_the_tenant_an_hour_at_most(
    pipeline: Pipeline, admin: SimulatorClient, told: str
) -> None:
    """One 429 naming years (or infinity) held every instance's calls for good: the hold
    was written to the shared row as it came."""
    budget, pc = pipeline.budget, pipeline.stage_deps.pc
    assert budget is not None and isinstance(pc, PartnerCenterClient)  # as deployed
    offer = admin.add_offer(f"years-{uuid.uuid4().hex[:8]}", ["basic"])
    admin.set_faults(rules=[{"path": offer["id"] + "$", "status": 429, "retryAfter": told}])
    with pytest.raises(Throttled) as caught:
        pc.get_product(offer["id"])
    assert caught.value.retry_after == MAX_RETRY_AFTER == 3600
    held = budget.row.read()[0].hold_until - time.time()
    assert 3500 < held <= 3600


def test_a_429_with_a_full_window_teaches_every_instance_the_limit(pipeline: Pipeline) -> None:
    """With the ceiling above the service's limit, the 429 comes with about the limit's calls
    in the window: every instance goes on just under that count, not at half the ceiling."""
    one, other, sender = (TenantBudget(pipeline.ledger, 1500) for _ in range(3))
    proven(sender)
    assert sender._take(time.time(), 1210) == 0  # the tenant's calls so far this minute
    assert one._take(time.time(), 10) == 0  # taken, not yet sent when the 429 comes:
    one.throttled(retry_after=None)  # given back, not counted as what the service let through
    assert other.rate() == pytest.approx(0.9 * 1210)
    assert other.row.read()[0].knee == 1210


def test_callers_that_found_no_room_go_before_lower_priorities(pipeline: Pipeline) -> None:
    """Calls that lead up to a submission, then the rest, then polls; and no room is left
    idle once the higher priorities stop asking."""
    clock = [1000.0]
    budget = proven(
        TenantBudget(
            pipeline.ledger, 60, window_seconds=60.0, batch=1, roomy_batch=1, clock=lambda: clock[0]
        )
    )  # one call a second; a slot is 1 s
    for _ in range(60):
        assert budget._take(clock[0], 1, Priority.START) == 0
    clock[0] = 1060.5
    assert budget._take(clock[0], 1, Priority.START) > 0  # the window is full: START presses
    # The first slot (1000-1001 s) left the window a whole window after its end: 60 calls
    # free, but START pressed...
    clock[0] = 1061.0
    assert budget._take(clock[0], 1, Priority.FINISH) > 0  # ...so FINISH keeps off,
    assert budget._take(clock[0], 1, Priority.POLL) > 0  # and polls too,
    assert budget._take(clock[0], 1, Priority.START) == 0  # while START takes its call,
    assert budget._take(clock[0], 1, Priority.FINISH) == 0  # served with room to spare: off
    clock[0] = 1064.0  # START has not pressed for over a slot: the room is anyone's
    assert budget._take(clock[0], 1, Priority.POLL) == 0
    with priority(Priority.FINISH):
        budget.acquire()


def test_a_run_past_its_lookup_goes_before_another_runs_lookup(pipeline: Pipeline) -> None:
    """Depth first: while a submission's calls find no room, no run starts its lookup; and
    the polls that lead on (a preview found ready) go before those that can only find a run
    done."""
    clock = [1000.0]
    budget = proven(
        TenantBudget(
            pipeline.ledger, 20, window_seconds=60.0, batch=1, roomy_batch=1, clock=lambda: clock[0]
        )
    )  # 20 calls a window
    for _ in range(20):
        assert budget._take(clock[0], 1, Priority.POLL) == 0
    clock[0] = 1060.5
    assert budget._take(clock[0], 1, Priority.SUBMIT) > 0  # full: SUBMIT presses
    assert budget._take(clock[0], 1, Priority.POLL) > 0  # POLL presses too
    clock[0] = 1061.0  # the window's calls are free again
    assert budget._take(clock[0], 1, Priority.START) > 0  # SUBMIT's mark keeps START off
    assert budget._take(clock[0], 1, Priority.LAST) > 0  # and the live polls
    assert budget._take(clock[0], 1, Priority.SUBMIT) == 0


def test_slots_and_marks_from_a_clock_far_ahead_are_not_counted(pipeline: Pipeline) -> None:
    """An instance whose clock runs fast (or a test's driven clock) wrote a full window and
    a press mark in the future: the others' window is not shut by them."""
    ahead = [time.time() + 3 * 24 * 3600]
    fast = proven(
        TenantBudget(
            pipeline.ledger, 60, window_seconds=60.0, batch=1, roomy_batch=1, clock=lambda: ahead[0]
        )
    )
    for _ in range(60):
        assert fast._take(ahead[0], 1, Priority.START) == 0
    assert fast._take(ahead[0], 1, Priority.START) > 0  # its window is full and it presses
    budget = TenantBudget(pipeline.ledger, 60, window_seconds=60.0, batch=1, roomy_batch=1)
    assert budget.room_for(Priority.POLL) == 60
    assert budget._take(time.time(), 1, Priority.POLL) == 0


def test_a_poll_gives_up_rather_than_wait_long(pipeline: Pipeline) -> None:
    budget = TenantBudget(
        pipeline.ledger, 1, window_seconds=60.0, batch=1, roomy_batch=1, poll_wait_seconds=0.3
    )
    budget.acquire()  # the window's one call
    started = time.monotonic()
    with priority(Priority.POLL), pytest.raises(BudgetExhausted):
        budget.acquire()
    assert time.monotonic() - started < 1.0


def test_a_budget_that_found_no_room_for_polls_says_it_holds_them(pipeline: Pipeline) -> None:
    """What a write asks before it sends a check itself (shared.pipeline.sends): the
    instance's own view, no read. A full window it just saw holds polls back."""
    budget = TenantBudget(
        pipeline.ledger, 1, window_seconds=60.0, batch=1, roomy_batch=1, poll_wait_seconds=0.3
    )
    assert not budget.holds_polls()
    budget.acquire()  # the window's one call
    with priority(Priority.POLL), pytest.raises(BudgetExhausted):
        budget.acquire()
    assert budget.holds_polls()


def test_a_full_budget_bounds_the_wait(pipeline: Pipeline) -> None:
    """A delivery holds its claim while it waits: the wait ends, as an error the stage retries."""
    budget = TenantBudget(
        pipeline.ledger, 1, window_seconds=60.0, batch=1, roomy_batch=1, max_wait_seconds=0.5
    )
    budget.acquire()  # the window's one call
    started = time.monotonic()
    with pytest.raises(BudgetExhausted):
        budget.acquire()
    assert time.monotonic() - started < 1.0


def test_one_talk_to_the_row_serves_the_callers_of_every_priority_waiting(
    pipeline: Pipeline,
) -> None:
    """Callers of several priorities waiting at once: the one talk to the row (one read, one
    write) takes a batch for each of them; a talk each queued every caller behind the others'
    round trips."""
    now = time.time()  # held: calls in hand count only in the slot they were taken in
    budget = TenantBudget(pipeline.ledger, 600, batch=2, roomy_batch=2, clock=lambda: now)
    writes = counting_writes(budget)
    budget._waiting[Priority.START] = 3  # threads of these priorities wait for the talk...
    budget._waiting[Priority.LAST] = 1
    budget._waiting[Priority.SUBMIT] = 1  # ...and this one talks
    assert budget._one(Priority.SUBMIT) == 0
    assert len(writes) == 1
    assert budget._tokens == {
        Priority.SUBMIT: 1,  # its batch, less the call it made
        Priority.START: 3,  # one for each caller waiting
        Priority.FINISH: 0,
        Priority.POLL: 0,
        Priority.LAST: 2,
    }
    assert (
        Window(**json.loads(pipeline.ledger.table().get_entity(CONTROL, ROW)["data"])).used() == 7
    )
    for _ in range(3):
        assert budget._spend(Priority.START)  # the waiting callers spend without a talk
    # A caller may go before a lower priority: START spends what LAST had left...
    assert budget._spend(Priority.START) and budget._spend(Priority.START)
    # ...but never what a higher one holds: SUBMIT's call stays for SUBMIT's callers.
    assert not budget._spend(Priority.START) and not budget._spend(Priority.LAST)
    assert budget._tokens == {**dict.fromkeys(Priority, 0), Priority.SUBMIT: 1}
    assert budget._spend(Priority.SUBMIT)


def test_a_burst_is_served_in_talks_that_double_and_what_it_left_is_given_back(
    pipeline: Pipeline,
) -> None:
    """Sixty-four calls in one slot (twenty stages' reads at once) take three talks to the row,
    not sixteen batches of four: the window has room to spare, so the first takes sixteen;
    the calls taken and not made go back to the window."""
    now = [time.time()]
    budget = TenantBudget(pipeline.ledger, 6000, batch=4, clock=lambda: now[0])
    writes = counting_writes(budget)
    for _ in range(64):
        budget.acquire()
    assert len(writes) == 3  # 16, 16, 32
    now[0] += 2 * budget.slot_seconds  # the slot is over: its tokens left are given back
    budget.acquire()

    def used() -> int:
        row = pipeline.ledger.table().get_entity(CONTROL, ROW)
        return Window(**json.loads(row["data"])).used()

    assert used() == 64 + 16  # the burst's calls, and the new slot's batch


def test_a_read_waiting_for_room_gives_up_once_a_read_beside_it_failed(
    pipeline: Pipeline,
) -> None:
    """A stage's reads fan out; one fails (a 429, say) while another waits for room: the
    waiting one stops at its next look instead of holding the stage until room comes, and
    spends no call the stage would throw away."""
    budget = TenantBudget(pipeline.ledger, 1, window_seconds=60.0, batch=1, roomy_batch=1)
    budget.acquire()  # the window's one call: the next waits about a minute

    def read(n: int) -> int:
        if n == 0:
            time.sleep(0.2)
            raise LookupError("the read that failed")
        budget.acquire()
        return n

    started = time.monotonic()
    with pytest.raises(LookupError, match="the read that failed"):
        fan_out(read, [0, 1])
    assert time.monotonic() - started < 3.0
    assert budget.waited < 3.0


def test_the_paced_wave_is_kept_where_an_older_instance_can_read_the_row(
    pipeline: Pipeline,
) -> None:
    """The row's `data` keeps the fields every version knows (an older instance that met a
    field it does not know would start the window afresh, forgetting the calls counted); the
    paced wave is a column beside it, read back by this version, and a row without it (an
    older instance's write) counts no wave."""
    budget = TenantBudget(pipeline.ledger, 1200)
    window = Window(rate=1100, slots={"100": 7}, knee=1150.0, wave=503, wave_granted=3)
    assert budget.row.write(window, None)
    row = pipeline.ledger.table().get_entity(CONTROL, ROW)
    older = json.loads(row["data"])
    assert "wave" not in older and "wave_granted" not in older
    assert Window(**older).slots == {"100": 7}  # as an older version reads it
    read, etag = budget.row.read()
    assert (read.wave, read.wave_granted, read.knee) == (503, 3, 1150.0)
    assert etag
    row["wave"] = "not:a-wave"
    pipeline.ledger.table().upsert_entity(row)
    assert budget.row.read()[0].wave == -1
    older_write = {"PartitionKey": CONTROL, "RowKey": ROW, "data": row["data"]}
    pipeline.ledger.table().upsert_entity(older_write, mode=UpdateMode.REPLACE)
    assert "wave" not in pipeline.ledger.table().get_entity(CONTROL, ROW)
    stored = budget.row.read()[0]
    assert (stored.wave, stored.wave_granted, stored.slots) == (-1, 0, {"100": 7})
