"""One queue-triggered function per queue-driven stage of a run."""

from __future__ import annotations

import azure.functions as func

from shared.messages import Stage
from shared.queues import STAGE_QUEUES

bp = func.Blueprint()
CONNECTION = "AzureWebJobsStorage"


def _run(stage: Stage, msg: func.QueueMessage) -> None:
    # Imported on first invocation: the Azure SDKs stay out of the indexing (cold start).
    from shared import wiring
    from shared.pipeline.runner import handle_stage_message

    handle_stage_message(wiring.pipeline(), stage, msg.get_body())


@bp.function_name("resolve")
@bp.queue_trigger(arg_name="msg", queue_name=STAGE_QUEUES[Stage.RESOLVE], connection=CONNECTION)
def resolve(msg: func.QueueMessage) -> None:
    _run(Stage.RESOLVE, msg)


@bp.function_name("upload_package")
@bp.queue_trigger(
    arg_name="msg", queue_name=STAGE_QUEUES[Stage.UPLOAD_PACKAGE], connection=CONNECTION
)
def upload_package(msg: func.QueueMessage) -> None:
    _run(Stage.UPLOAD_PACKAGE, msg)


@bp.function_name("update_draft")
@bp.queue_trigger(
    arg_name="msg", queue_name=STAGE_QUEUES[Stage.UPDATE_DRAFT], connection=CONNECTION
)
def update_draft(msg: func.QueueMessage) -> None:
    _run(Stage.UPDATE_DRAFT, msg)


@bp.function_name("submit_preview")
@bp.queue_trigger(
    arg_name="msg", queue_name=STAGE_QUEUES[Stage.SUBMIT_PREVIEW], connection=CONNECTION
)
def submit_preview(msg: func.QueueMessage) -> None:
    _run(Stage.SUBMIT_PREVIEW, msg)


@bp.function_name("promote")
@bp.queue_trigger(arg_name="msg", queue_name=STAGE_QUEUES[Stage.PROMOTE], connection=CONNECTION)
def promote(msg: func.QueueMessage) -> None:
    _run(Stage.PROMOTE, msg)


@bp.function_name("complete")
@bp.queue_trigger(arg_name="msg", queue_name=STAGE_QUEUES[Stage.COMPLETE], connection=CONNECTION)
def complete(msg: func.QueueMessage) -> None:
    _run(Stage.COMPLETE, msg)
