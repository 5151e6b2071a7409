"""One queue-triggered function per queue-driven stage of a run.

Each declares a queue output binding for the stages it hands runs to at once, so the host
starts the next stage without waiting for its next poll of an idle queue (shared.handoff).
"""

from __future__ import annotations

import azure.functions as func

from functions.bindings import CONNECTION, Handoff, handing_off, to
from shared.messages import Stage
from shared.queues import STAGE_QUEUES

bp = func.Blueprint()


def _run(stage: Stage, msg: func.QueueMessage, outputs: dict[Stage | str, Handoff]) -> None:
    # Imported on first invocation: the Azure SDKs stay out of the indexing (cold start).
    from shared import wiring
    from shared.pipeline.runner import handle_stage_message

    with handing_off(outputs):
        handle_stage_message(wiring.pipeline(), stage, msg.get_body(), msg.dequeue_count)


@bp.function_name("resolve")
@bp.queue_trigger(arg_name="msg", queue_name=STAGE_QUEUES[Stage.RESOLVE], connection=CONNECTION)
@to(bp, Stage.UPLOAD_PACKAGE, "to_upload")
@to(bp, Stage.UPDATE_DRAFT, "to_draft")
@to(bp, Stage.SUBMIT_PREVIEW, "to_submit")
@to(bp, Stage.PLAN, "to_plan")
@to(bp, Stage.EXPORT, "to_export")
def resolve(
    msg: func.QueueMessage,
    to_upload: Handoff,
    to_draft: Handoff,
    to_submit: Handoff,
    to_plan: Handoff,
    to_export: Handoff,
) -> None:
    outputs: dict[Stage | str, Handoff] = {
        Stage.UPLOAD_PACKAGE: to_upload,
        Stage.UPDATE_DRAFT: to_draft,
        Stage.SUBMIT_PREVIEW: to_submit,
        Stage.PLAN: to_plan,
        Stage.EXPORT: to_export,
    }
    _run(Stage.RESOLVE, msg, outputs)


@bp.function_name("plan")
@bp.queue_trigger(arg_name="msg", queue_name=STAGE_QUEUES[Stage.PLAN], connection=CONNECTION)
def plan(msg: func.QueueMessage) -> None:
    _run(Stage.PLAN, msg, {})  # ends the run: what it would change is on its record


@bp.function_name("export")
@bp.queue_trigger(arg_name="msg", queue_name=STAGE_QUEUES[Stage.EXPORT], connection=CONNECTION)
def export(msg: func.QueueMessage) -> None:
    _run(Stage.EXPORT, msg, {})  # ends the run: the request it wrote is named on its record


@bp.function_name("upload_package")
@bp.queue_trigger(
    arg_name="msg", queue_name=STAGE_QUEUES[Stage.UPLOAD_PACKAGE], connection=CONNECTION
)
@to(bp, Stage.UPDATE_DRAFT, "to_draft")
def upload_package(msg: func.QueueMessage, to_draft: Handoff) -> None:
    _run(Stage.UPLOAD_PACKAGE, msg, {Stage.UPDATE_DRAFT: to_draft})


@bp.function_name("update_draft")
@bp.queue_trigger(
    arg_name="msg", queue_name=STAGE_QUEUES[Stage.UPDATE_DRAFT], connection=CONNECTION
)
@to(bp, Stage.SUBMIT_PREVIEW, "to_submit")
def update_draft(msg: func.QueueMessage, to_submit: Handoff) -> None:
    _run(Stage.UPDATE_DRAFT, msg, {Stage.SUBMIT_PREVIEW: to_submit})


@bp.function_name("submit_preview")
@bp.queue_trigger(
    arg_name="msg", queue_name=STAGE_QUEUES[Stage.SUBMIT_PREVIEW], connection=CONNECTION
)
def submit_preview(msg: func.QueueMessage) -> None:
    _run(Stage.SUBMIT_PREVIEW, msg, {})  # it hands to a wait (the poller), not a queue


@bp.function_name("promote")
@bp.queue_trigger(arg_name="msg", queue_name=STAGE_QUEUES[Stage.PROMOTE], connection=CONNECTION)
def promote(msg: func.QueueMessage) -> None:
    _run(Stage.PROMOTE, msg, {})


@bp.function_name("complete")
@bp.queue_trigger(arg_name="msg", queue_name=STAGE_QUEUES[Stage.COMPLETE], connection=CONNECTION)
def complete(msg: func.QueueMessage) -> None:
    _run(Stage.COMPLETE, msg, {})
