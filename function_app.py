"""The function app: registers the Blueprints from functions/ and nothing else."""

from __future__ import annotations

import azure.functions as func

from functions import archiver, deadletter, intake, notify, poller, stages, warmup

app = func.FunctionApp()
app.register_functions(intake.bp)
app.register_functions(stages.bp)
app.register_functions(poller.bp)
app.register_functions(deadletter.bp)
app.register_functions(archiver.bp)
app.register_functions(notify.bp)
app.register_functions(warmup.bp)
