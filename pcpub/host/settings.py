"""host.json, read the way the Functions host reads it (the queue extension's settings)."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def timespan_seconds(value: str) -> float:
    """A .NET TimeSpan ("[d.]hh:mm:ss[.fff]") as seconds."""
    match = re.fullmatch(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)", value.strip())
    if not match:
        raise ValueError(f"not a TimeSpan: {value!r}")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True, kw_only=True)
class QueueSettings:
    """extensions.queues, with the host's defaults for what is not set."""

    batch_size: int = 16
    new_batch_threshold: int | None = None
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    max_polling_interval: float = 60.0
    message_encoding: str = "base64"

    @property
    def threshold(self) -> int:
        """How few of a listener's messages may still run when it reads the next batch."""
        if self.new_batch_threshold is None:
            return self.batch_size // 2
        return self.new_batch_threshold

    @property
    def concurrency(self) -> int:
        """The most messages of one function an instance runs at once."""
        return self.batch_size + self.threshold

    def encode(self, text: str) -> str:
        """A message as the host writes it (an output binding's)."""
        if self.message_encoding == "base64":
            return base64.b64encode(text.encode()).decode()
        return text

    def decode(self, content: str) -> bytes:
        """A message's body as the host reads it (binascii.Error, a ValueError: it is not
        in the encoding host.json names)."""
        if self.message_encoding == "base64":
            return base64.b64decode(content.encode(), validate=True)
        return content.encode()


def read_host_json(path: Path) -> QueueSettings:
    data: dict[str, Any] = json.loads(path.read_text())
    queues = data.get("extensions", {}).get("queues", {})
    kwargs: dict[str, Any] = {}
    if "batchSize" in queues:
        kwargs["batch_size"] = int(queues["batchSize"])
    if "newBatchThreshold" in queues:
        kwargs["new_batch_threshold"] = int(queues["newBatchThreshold"])
    if "maxDequeueCount" in queues:
        kwargs["max_dequeue_count"] = int(queues["maxDequeueCount"])
    if "visibilityTimeout" in queues:
        kwargs["visibility_timeout"] = timespan_seconds(queues["visibilityTimeout"])
    if "maxPollingInterval" in queues:
        kwargs["max_polling_interval"] = timespan_seconds(queues["maxPollingInterval"])
    if "messageEncoding" in queues:
        kwargs["message_encoding"] = str(queues["messageEncoding"]).lower()
    return QueueSettings(**kwargs)


WORKER_THREADS_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"


def worker_threads(env: dict[str, str]) -> int | None:
    """How many threads the Python worker runs its (synchronous) invocations on: one pool for
    every function of the process, `PYTHON_THREADPOOL_THREAD_COUNT` threads, or Python's own
    default (min(32, cores + 4)) when it is unset or not a whole number of at least one, as
    the worker reverts to it."""
    value = env.get(WORKER_THREADS_SETTING, "").strip()
    try:
        threads = int(value)
    except ValueError:
        return None
    return threads if threads >= 1 else None
