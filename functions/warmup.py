"""Warmup: run by the host on an instance added to scale out, before it takes work, so the
first runs on it do not queue behind the secret, the tokens and the clients."""

from __future__ import annotations

import azure.functions as func
from azure.functions.warmup import WarmUpContext

bp = func.Blueprint()


@bp.function_name("warmup")  # the host knows its warmup function by this name
@bp.warm_up_trigger("context")
def warmup(context: WarmUpContext) -> None:
    from shared import wiring  # SDKs stay out of the indexing

    wiring.warm_up()
