"""The stages of a publish run, each `(run, deps) -> Outcome`, and their order in one table.

    intake -> [await_release] -> resolve [-> [await_turn] -> resolve] -> upload_package
           -> [await_package] -> update_draft -> submit_preview -> [await_preview]
           -> [await_go_live] -> promote -> [await_live] -> complete
    (no package: resolve -> update_draft; no change to the draft at all: resolve ->
     submit_preview; target preview: [await_preview] -> complete;
     target plan: resolve -> plan; target export: resolve -> export;
     await_turn while another run of the offer holds its turn;
     await_release only for a release's offers; await_go_live only with approval, notBefore
     or dependencies; onlyChanged with nothing to change: update_draft ends `unchanged`)

Bracketed stages are checks: the timer poller finds those due and the `check` function runs
each (shared.pipeline.checks); the others are queue-triggered. A stage only
talks to Partner Center through `deps.pc`; recording and hand-off are shared.pipeline.effects'.
Each stage is safe to run twice: it reads Partner Center's state before any call that changes it.
"""

from shared.messages import Stage
from shared.pipeline.deps import PackageFiles, PartnerCenterApi, StageDeps, StageFn
from shared.pipeline.draft_stage import update_draft
from shared.pipeline.export import export
from shared.pipeline.gates import GATES, await_go_live, await_release
from shared.pipeline.offer import resolve
from shared.pipeline.packaging import await_package, upload_package
from shared.pipeline.planning import plan
from shared.pipeline.submission import (
    await_live,
    await_preview,
    complete,
    promote,
    submit_preview,
)
from shared.pipeline.submission_state import failure_reason
from shared.pipeline.turns import await_turn

__all__ = [
    "LEADING_STAGES",
    "ORDER",
    "POLLED_STAGES",
    "STAGES",
    "SUBMITTING_STAGES",
    "PackageFiles",
    "PartnerCenterApi",
    "StageDeps",
    "await_live",
    "await_package",
    "await_preview",
    "complete",
    "failure_reason",
    "promote",
    "resolve",
    "submit_preview",
    "update_draft",
    "upload_package",
]

# The stage table: which function runs each stage, and which stages the poller runs.
STAGES: dict[Stage, StageFn] = {
    Stage.AWAIT_RELEASE: await_release,
    Stage.RESOLVE: resolve,
    Stage.AWAIT_TURN: await_turn,
    Stage.PLAN: plan,
    Stage.EXPORT: export,
    Stage.UPLOAD_PACKAGE: upload_package,
    Stage.AWAIT_PACKAGE: await_package,
    Stage.UPDATE_DRAFT: update_draft,
    Stage.SUBMIT_PREVIEW: submit_preview,
    Stage.AWAIT_PREVIEW: await_preview,
    Stage.AWAIT_GO_LIVE: await_go_live,
    Stage.PROMOTE: promote,
    Stage.AWAIT_LIVE: await_live,
    Stage.COMPLETE: complete,
}
POLLED_STAGES = frozenset(
    {Stage.AWAIT_TURN, Stage.AWAIT_PACKAGE, Stage.AWAIT_PREVIEW, Stage.AWAIT_LIVE, *GATES}
)
# Stages whose calls lead up to a submission: they draw on the tenant's budget first, so every
# certification (the long wait) starts as early as the budget allows (shared.partnercenter.budget).
LEADING_STAGES = frozenset(
    {Stage.RESOLVE, Stage.UPLOAD_PACKAGE, Stage.UPDATE_DRAFT, Stage.SUBMIT_PREVIEW}
)
# Of those, the ones after the offer is found go before any run's lookup: depth first, so a
# batch larger than the budget's window has whole runs certifying rather than many halfway.
SUBMITTING_STAGES = LEADING_STAGES - {Stage.RESOLVE}
ORDER = (
    Stage.INTAKE,
    Stage.AWAIT_RELEASE,
    Stage.RESOLVE,
    Stage.AWAIT_TURN,
    Stage.PLAN,
    Stage.EXPORT,
    Stage.UPLOAD_PACKAGE,
    Stage.AWAIT_PACKAGE,
    Stage.UPDATE_DRAFT,
    Stage.SUBMIT_PREVIEW,
    Stage.AWAIT_PREVIEW,
    Stage.AWAIT_GO_LIVE,
    Stage.PROMOTE,
    Stage.AWAIT_LIVE,
    Stage.COMPLETE,
)
