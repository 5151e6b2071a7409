"""Throughput, calls per run and polling cost: N offers published to live through the local
host, Azurite and the simulator, with a per-call latency and a per-tenant rate limit.

Reports the wall time against the lower bound the simulator's own settings imply: the larger
of one run's critical path and the *minimal* calls of all runs divided by the rate limit (the
calls a run cannot do without, not the calls made), the 429s our own bursts caused, Partner
Center calls per run against the minimal sequence, status calls per waiting run per hour, and
the local hosts' peak memory. Writes bench/results/throughput.json.

With `--warm`, the same batch again on the same stack a minute later, once the waits of the
first are known (shared.wait_history): its wall time, calls and status polls per run.

    python -m bench.throughput [--offers 200] [--hosts 1] [--latency-ms 100] [--warm]
        [--send-after S]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from azure.core.exceptions import ResourceNotFoundError

from bench import timeline
from pcpub.ops import Storage, enqueue
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from shared.ledger import Run, parse_stamp
from shared.partnercenter.budget_row import CONTROL, ROW

ROOT = Path(__file__).resolve().parents[1]
# A no-change publish to live of an offer never seen before, on the 2026 service, needs these
# v1 calls: find the product (the listing comes back empty for a migrated offer, so the
# product is then read by the id the Product Ingestion API gave: one call to that other API,
# not counted here), list its submissions (in-flight guard), read 4 modules' branches and the
# ResellerConfiguration branch, create the submission, promote it; plus status polls. A later
# run of the same offer reads the remembered product directly: 9.
MINIMAL_CALLS = 10
MINIMAL_POLLS = 2  # one status read that finds preview ready, one that finds it live
MINIMAL = MINIMAL_CALLS + MINIMAL_POLLS
# The idle intake queue's poll interval (host.json maxPollingInterval) and the waits' base
# check interval in the local stack: where in it a small batch falls moves its wall time.
CYCLE = 1.0
POLL_PATH = re.compile(r"/submissions/\d+$")


def kind(entry: dict[str, Any]) -> str:
    path = re.sub(r"/[0-9a-f-]{36}", "/{id}", entry["path"].split("/v1.0/ingestion")[-1])
    path = re.sub(r"/\d{6,}", "/{sid}", path)
    path = re.sub(r"module=\w+", "module=*", path)
    return f"{entry['method']} {path}"


def run(
    offers: int,
    latency_ms: float,
    rate_per_minute: float,
    certify: float,
    publish: float,
    headroom: float,
    hosts: int = 1,
    warm: bool = False,
    send_after: float = 0.0,
) -> dict[str, Any]:
    settings = {
        "PC_RATE_LIMIT_PER_MINUTE": str(rate_per_minute * headroom),
        # As deployed (infra: every minute); the local stack sweeps every 2 s so tests see
        # dead letters at once, which is 12 queue reads every 2 s against the stack measured.
        "DEADLETTER_SCHEDULE": "0 * * * * *",
        "PC_STATUS_POLL_LEARN": "true",  # as deployed (the local stack's default is off)
    }
    with LocalStack(profile="fast", extra_settings=settings, hosts=hosts) as stack:
        admin = SimulatorClient(stack.sim_config)
        admin.admin_put("timings", {"accept": 0.5, "certify": certify, "publish": publish})
        names = [f"bench-{i:04d}" for i in range(offers)]
        later = [f"bench-w-{i:04d}" for i in range(offers if warm else 0)]
        for name in names + later:
            admin.add_offer(name, ["basic"])
        admin.set_faults(latencyMs=latency_ms, rateLimit=int(rate_per_minute), rateWindowSeconds=60)
        storage = Storage(stack.connection_string)
        time.sleep(send_after)  # where in the idle intake queue's poll interval it is sent
        runs, sent, wall, log = _batch(admin, storage, names)
        peak_kib = max(_peak_rss_kib(host.pid) for host in stack.hosts)
        stats = admin.http.get(f"{stack.sim_config['adminUrl']}/stats").json()
        budget = _budget(storage)
        # The same batch again on the same stack, once the waits of the first are known
        # (a minute on, so every instance reads them anew).
        again = None
        if warm:
            time.sleep(61)
            again = _batch(admin, storage, later)
        admin.close()
    ok, per_run, calls, polls, waits = _per_run(runs, log)
    one_run_calls = statistics.median(calls) if calls else 0
    critical = critical_path(certify, publish, latency_ms)
    rate_bound = offers * MINIMAL / (rate_per_minute / 60)  # the limit's average rate
    bound = max(critical, rate_bound)
    kinds = Counter(kind(e) for r in ok[:1] for e in per_run.get(r.run_id, []))
    non_poll = [c - p for c, p in zip(calls, polls, strict=True)]
    result: dict[str, Any] = {
        "offers": offers,
        "hosts": hosts,
        "succeeded": len(ok),
        "wall_s": round(wall, 1),
        "lower_bound_s": round(bound, 1),
        "ratio": round(wall / bound, 2),
        "target_ratio": 1.3,
        "critical_path_s": round(critical, 1),
        "rate_bound_s": round(rate_bound, 1),
        "calls_total": len(log),
        "throttled_429": stats["throttled"],
        "peak_concurrency": stats["peakConcurrency"],
        "calls_per_run_median": one_run_calls,
        "polls_per_run_median": statistics.median(polls) if polls else 0,
        "calls_per_run_excluding_polls_median": statistics.median(non_poll) if non_poll else 0,
        "minimal_calls_excluding_polls": MINIMAL_CALLS,
        "excess_calls_per_run": (statistics.median(non_poll) - MINIMAL_CALLS) if non_poll else 0,
        "calls_by_kind_one_run": dict(sorted(kinds.items())),
        "stages": timeline.profile(ok, sent),
        "status_polls_per_waiting_run_hour": round(3600 * sum(polls) / max(sum(waits), 1e-9), 1),
        "host_peak_rss_mib": round(peak_kib / 1024, 1),
        "budget_rate_at_end": round(budget.get("rate", 0.0)),
        "budget_knee": round(budget.get("knee", 0.0)),
        "settings": {
            "latency_ms": latency_ms,
            "rate_per_minute": rate_per_minute,
            "client_pace_per_minute": rate_per_minute * headroom,
            "certify_s": certify,
            "publish_s": publish,
            "send_after_s": send_after,
        },
    }
    if again is not None:
        result["warm"] = _warm(again, bound)
    return result


def shifts(batches: int) -> tuple[float, ...]:
    """How much later each of `batches` small batches is sent, and its Partner Center waits
    end: spread evenly over `CYCLE`. A batch's wall time moves by up to that much with where
    it falls in it, and on fresh stacks it falls in the same place every time (the setup takes
    as long each time): without a spread, a median of batches is one phase measured again."""
    return tuple(round(i * CYCLE / batches, 3) for i in range(batches))


def critical_path(certify: float, publish: float, latency_ms: float) -> float:
    """One run's shortest way to live on the simulator: its acceptance (0.5 s), certification
    and publishing, and the minimal calls (status polls included) one after another."""
    return 0.5 + certify + publish + MINIMAL * latency_ms / 1000


def _warm(batch: Batch, bound: float) -> dict[str, Any]:
    """The second batch's figures: what knowing the first batch's waits changed."""
    runs, _, wall, log = batch
    ok, _, calls, polls, _ = _per_run(runs, log)
    return {
        "succeeded": len(ok),
        "wall_s": round(wall, 1),
        "ratio": round(wall / bound, 2),
        "calls_per_run_median": statistics.median(calls) if calls else 0,
        "polls_per_run_median": statistics.median(polls) if polls else 0,
        "throttled_429": sum(1 for e in log if e.get("status") == 429),
    }


class Batch(NamedTuple):
    """A batch's runs once ended, when it was sent, the wall time from then to the last run's
    last write, and its Partner Center calls."""

    runs: dict[str, Run]
    sent: datetime
    wall: float
    log: list[dict[str, Any]]


def _batch(admin: SimulatorClient, storage: Storage, names: list[str]) -> Batch:
    """Send a publish request for each offer at once, and watch the runs to their end."""
    since = len(admin.requests())
    started = time.monotonic()
    sent = datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=8) as pool:  # the sender sends them all at once
        list(pool.map(lambda name: enqueue(storage, _request(name)), names))
    runs = watch(storage, {f"run-{n}" for n in names}, time.monotonic() + 3600)
    ended = [parse_stamp(r.updated_at) for r in runs.values()]
    wall = (max(ended) - sent).total_seconds() if ended else time.monotonic() - started
    log = [r for r in admin.requests(since) if "/v1.0/ingestion" in r["path"]]
    return Batch(runs, sent, wall, log)


def _per_run(
    runs: dict[str, Run], log: list[dict[str, Any]]
) -> tuple[list[Run], dict[str, list[dict[str, Any]]], list[int], list[int], list[float]]:
    """The runs that succeeded, the calls by run, and per run: calls, status polls and the
    seconds spent in the two waits."""
    per_run: dict[str, list[dict[str, Any]]] = {}
    for entry in log:
        crid = entry.get("clientRequestId") or ""
        per_run.setdefault(crid.split(".")[0], []).append(entry)
    ok = [r for r in runs.values() if str(r.status) == "succeeded"]
    calls = [len(per_run.get(r.run_id, [])) for r in ok]
    polls = [
        sum(
            1
            for e in per_run.get(r.run_id, [])
            if e["method"] == "GET" and POLL_PATH.search(e["path"])
        )
        for r in ok
    ]
    waits = [
        sum(
            _seconds(s.started, s.ended)
            for s in r.timeline
            if s.stage in ("await_preview", "await_live")
        )
        for r in ok
    ]
    return ok, per_run, calls, polls, waits


def watch(storage: Storage, run_ids: set[str], deadline: float) -> dict[str, Run]:
    """The runs, once each has ended. Light on the stack it measures: one query of the index
    of runs still going a second, and one read of each run that has left it (reading every
    run four times a second was a fifth of the storage emulator's work at 20 offers). The wall
    time is read from each run's own last write, not from when this loop saw it."""
    runs: dict[str, Run] = {}
    seen: set[str] = set()
    while len(runs) < len(run_ids) and time.monotonic() < deadline:
        going = {row.run_id for row in storage.ledger.index.query("RowKey ne ''", {})}
        seen |= going & run_ids
        idle = not going & run_ids
        # A run out of the index has ended, or was never indexed (refused at intake): read it.
        for run_id in (seen if not idle else run_ids) - going - runs.keys():
            record = storage.ledger.get(run_id)
            if record is not None and record.status.terminal:
                runs[run_id] = record
        time.sleep(1.0)
    return runs


def _budget(storage: Storage) -> dict[str, Any]:
    """The tenant budget's row as the run left it: the rate it ended at, and the calls per
    minute a 429 was seen at (0: none)."""
    try:
        row = storage.ledger.table().get_entity(CONTROL, ROW)
    except ResourceNotFoundError:
        return {}
    data: dict[str, Any] = json.loads(row["data"])
    return data


def _request(name: str) -> str:
    return json.dumps(
        {
            "schemaVersion": 1,
            "requestId": f"run-{name}",
            "offer": {"externalId": name},
            "target": "live",
        }
    )


def _seconds(start: str | None, end: str | None) -> float:
    if not start or not end:
        return 0.0
    return (parse_stamp(end) - parse_stamp(start)).total_seconds()


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=200)
    parser.add_argument("--hosts", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--rate-per-minute", type=float, default=1200)
    parser.add_argument("--certify", type=float, default=5.0)
    parser.add_argument("--publish", type=float, default=5.0)
    parser.add_argument(
        "--headroom",
        type=float,
        default=0.95,
        help="the client paces itself at this share of the limit",
    )
    parser.add_argument(
        "--send-after",
        type=float,
        default=0.0,
        help="seconds between the stack being ready and the batch being sent",
    )
    parser.add_argument(
        "--warm",
        action="store_true",
        help="then the same batch again, once the first batch's waits are known",
    )
    args = parser.parse_args()
    result = run(
        args.offers,
        args.latency_ms,
        args.rate_per_minute,
        args.certify,
        args.publish,
        args.headroom,
        args.hosts,
        warm=args.warm,
        send_after=args.send_after,
    )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "throughput.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
