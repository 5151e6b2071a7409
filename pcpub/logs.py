"""JSON-lines logging for the local processes, with a last-line guard against secrets.

Each line carries the `extra` fields the pipeline logs (run_id, stage, action, ...). The whole
line passes through shared.redaction (the live secrets registered there, and credential-shaped
patterns), so a mistake elsewhere cannot put a secret into a log file.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from shared.observability.dimensions import DimensionFilter
from shared.redaction import install as install_scrubbing, register as redact, scrub

__all__ = ["JsonFormatter", "configure", "redact", "scrub"]

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "process": self.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return scrub(json.dumps(data, default=str))


def configure(process: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process))
    handler.addFilter(DimensionFilter())  # the run's ids on every line, as in Azure
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    install_scrubbing()
    for noisy in ("azure", "msal", "httpx", "httpcore", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
