"""What the stage tests share: the stages as the runner runs them (checkpoints recorded, the
stage run again), a run to start from, and counts of the simulator's requests."""

from __future__ import annotations

from dataclasses import replace

from pcsim.app import Simulator
from shared.ledger import Run, RunStatus
from shared.messages import Stage
from shared.pipeline import stages
from shared.pipeline.outcomes import Outcome
from tests.conftest import settled

# The stages as the runner runs them: checkpoints recorded, the stage run again.
resolve = settled(stages.resolve)
upload_package = settled(stages.upload_package)
await_package = settled(stages.await_package)
update_draft = settled(stages.update_draft)
submit_preview = settled(stages.submit_preview)
await_preview = settled(stages.await_preview)
promote = settled(stages.promote)


def new_run(target: str = "live", **kw: str) -> Run:
    fields = {"offer_external_id": "contoso-backup", **kw}
    return Run(run_id="r-1", status=RunStatus.RUNNING, stage=Stage.RESOLVE, target=target, **fields)  # type: ignore[arg-type]


def patched(run: Run, outcome: Outcome) -> Run:
    patch = getattr(outcome, "patch", None)
    changes = {k: v for k, v in vars(patch).items() if v is not None} if patch else {}
    return replace(run, **changes)


def posts(sim: Simulator, suffix: str) -> int:
    return sum(1 for r in sim.request_log() if r["method"] == "POST" and r["path"].endswith(suffix))
