"""JSON-lines logging for the local processes, with a last-line guard against secrets.

Each line carries the `extra` fields the pipeline logs (run_id, stage, action, ...). Values
registered with `redact()` (the stand-ins' client secrets, tokens) are masked wherever they
appear, so a mistake elsewhere cannot put a secret into a log file.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_secrets: set[str] = set()
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{16,}")
_SAS = re.compile(r"(?i)([?&]sig=)[^&\s\"']+")


def redact(*values: str | None) -> None:
    _secrets.update(v for v in values if v and len(v) >= 8)


def scrub(text: str) -> str:
    for value in _secrets:
        text = text.replace(value, "***")
    return _SAS.sub(r"\1***", _BEARER.sub(r"\1***", text))


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
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("azure", "msal", "httpx", "httpcore", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
