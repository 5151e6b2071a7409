"""Partner Center's answers bent on the wire (a field set to null, a number, an empty list, a
string where an object was): every stage still ends in an outcome or in one of the client's
typed errors, which the runner turns into a retry or a failure with a reason. Anything else
is a bug's error, which the host retries five times and then poisons. Seeded: each case is
the same every run, and a failing seed is the case to read."""

from __future__ import annotations

import copy
import json
import random
from dataclasses import replace
from typing import Any

import httpx
import pytest

from pcsim.app import Simulator
from pcsim.seed import DEFAULT_SEED
from pcsim.timing import Profile
from pcsim.world import World
from shared.ledger import Run
from shared.messages import Stage
from shared.packages import origin_allowed
from shared.partnercenter.errors import PartnerCenterError, UploadRefused
from shared.partnercenter.lookup import ProductIngestionLookup
from shared.pipeline import stages
from shared.pipeline.drafts import NotApplied
from shared.pipeline.stages import StageDeps
from shared.pipeline.submission_state import SubmissionCancelled
from tests.conftest import BASE, SimFiles, SimTokens, make_client, settle
from tests.unit.stage_runs import new_run, patched
from tests.unit.test_offer_as_code import MemoryExports

ODD: list[Any] = [
    None,
    True,
    0,
    -1,
    "",
    "x",
    [],
    {},
    [1],
    [None],
    {"a": 1},
    [{}],
    "Published",
    [[]],
    # text no id or header can hold as it is: a line break, past ASCII, a climb, too long
    "a\nb",
    "caf\u00e9",
    "../x?y#z",
    "i" * 100_000,
]
OFFERS = ["contoso-backup", "contoso-timesheets", "contoso-analytics", "contoso-landing-zone"]
DEEPER = 0.9  # a bend goes down into what it meets this often: fields, not pages, get bent
WAITS = (Stage.AWAIT_PACKAGE, Stage.AWAIT_PREVIEW, Stage.AWAIT_LIVE)
# What a stage may raise: the runner classifies each (a retry, or a failure with a reason).
CLASSIFIED = (PartnerCenterError, LookupError, NotApplied, SubmissionCancelled)


def bend(data: Any, rng: random.Random, depth: int = 0) -> None:
    """Set one field somewhere in `data` to an odd value."""
    keys: list[Any] = list(data) if isinstance(data, dict) else list(range(len(data)))
    if not keys:
        return
    key = rng.choice(keys)
    inner = data[key]
    if isinstance(inner, dict | list) and inner and depth < 5 and rng.random() < DEEPER:
        bend(inner, rng, depth + 1)
    else:
        data[key] = copy.deepcopy(rng.choice(ODD))


class Bent:
    """The simulator's transport, bending a share of its JSON answers (of those whose path
    holds `only`, when given)."""

    def __init__(self, sim: Simulator, rng: random.Random, share: float, only: str) -> None:
        self.sim, self.rng, self.share, self.only = sim, rng, share, only

    def __call__(self, request: httpx.Request) -> httpx.Response:
        answer = self.sim.transport(request)
        path = request.url.path
        if "/oauth2/" in path or self.only not in path or self.rng.random() > self.share:
            return answer
        try:
            data = json.loads(answer.content)
        except ValueError:
            return answer
        if not isinstance(data, dict | list) or not data:
            return answer
        bend(data, self.rng)
        return httpx.Response(answer.status_code, json=data)


class CheckedFiles(SimFiles):
    """Uploads only to the simulator's origin, as the app's files refuse any other."""

    def upload(self, sas_uri: str, data: bytes) -> None:
        if not origin_allowed(sas_uri, (BASE,)):
            raise UploadRefused("upload URI off the allowed origins")
        super().upload(sas_uri, data)


def request_of(offer: str, target: str, rng: random.Random) -> Run:
    changes: dict[str, Any] = {
        "listing": {"title": "T2"},
        "properties": {"appVersion": "2.0.0"},
        "previewAudience": ["00000000-0000-0000-0000-000000000001"],
    }
    if offer == "contoso-timesheets":
        changes["package"] = {"app": {"staged": "main.app"}, "libraries": [{"staged": "l.app"}]}
    elif offer == "contoso-backup":
        plan: dict[str, Any] = {"availability": {"markets": ["US", "CA"]}}
        if rng.random() < 0.5:
            plan["technicalConfiguration"] = {"version": "2.0.0", "package": {"staged": "b.zip"}}
        changes["plans"] = {"basic": plan}
    return new_run(target, changes=changes if target != "export" else {}, offer_external_id=offer)  # type: ignore[arg-type]


def walk(seed: int, share: float, only: str) -> str:
    """One run from resolve as far as it goes on a fresh simulator whose answers are bent:
    how it ended."""
    rng = random.Random(seed)
    sim = Simulator(
        World(json.loads(json.dumps(DEFAULT_SEED)), Profile(accept=0, certify=0, publish=0)),
        BASE,
    )
    bent = Bent(sim, rng, share, only)
    pc = make_client(bent, SimTokens(sim))
    graph_tokens = SimTokens(sim, "https://graph.microsoft.com")
    graph = make_client(bent, graph_tokens, base=f"{BASE}/rp/product-ingestion")
    deps = StageDeps(
        pc=pc,
        poll_seconds=5,
        lookup=ProductIngestionLookup(graph),
        files=CheckedFiles(sim),
        exports=MemoryExports(),
    )
    run = request_of(rng.choice(OFFERS), rng.choice(["live", "plan", "export"]), rng)
    stage: Stage | None = Stage.RESOLVE
    try:
        while stage in stages.STAGES:
            outcome, _ = settle(stages.STAGES[stage], replace(run, stage=stage), deps)
            run = patched(run, outcome)
            stage = getattr(outcome, "to", None) or getattr(outcome, "check", None)
            if stage in WAITS:
                sim.world.clock.offset += 100  # the wait is over
            elif stage in (Stage.AWAIT_RELEASE, Stage.AWAIT_GO_LIVE):
                break
        return "outcome"
    except CLASSIFIED as exc:
        return type(exc).__name__
    finally:
        pc.close()
        graph.close()


@pytest.mark.parametrize(
    ("share", "only"),
    [
        (0.05, ""),  # any answer
        (0.5, "getByInstanceID"),  # the drafts, which the stages read field by field
        (0.5, "/submissions"),  # what a run's waits and its submission stand on
    ],
)
@pytest.mark.parametrize("first", range(0, 200, 100))
def test_bent_answers_end_in_an_outcome_or_a_typed_error(
    first: int, share: float, only: str
) -> None:
    ended = [walk(seed, share, only) for seed in range(first, first + 100)]
    assert "outcome" in ended and "MalformedAnswer" in ended  # the walks went both ways
