"""host.json, read the way the Functions host reads it (the queue extension's settings)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
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


OVERRIDE_PREFIX = "azurefunctionsjobhost__"


def host_config(path: Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """host.json as the host reads it: keys without regard to case (.NET configuration's),
    and app settings named `AzureFunctionsJobHost__path__to__setting` over its values."""
    data: dict[str, Any] = _folded(json.loads(path.read_text()))
    for name, value in (env or {}).items():
        if not name.lower().startswith(OVERRIDE_PREFIX):
            continue
        *parents, leaf = name[len(OVERRIDE_PREFIX) :].lower().split("__")
        node = data
        for key in parents:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[leaf] = value
    return data


def _folded(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).lower(): _folded(v) for k, v in value.items()}
    return value


def read_host_json(path: Path, env: Mapping[str, str] | None = None) -> QueueSettings:
    """The queue extension's settings (extensions.queues)."""
    queues = host_config(path, env).get("extensions", {}).get("queues", {})
    kwargs: dict[str, Any] = {}
    for key, name, parse in (
        ("batchSize", "batch_size", int),
        ("newBatchThreshold", "new_batch_threshold", int),
        ("maxDequeueCount", "max_dequeue_count", int),
        ("visibilityTimeout", "visibility_timeout", timespan_seconds),
        ("maxPollingInterval", "max_polling_interval", timespan_seconds),
        ("messageEncoding", "message_encoding", str.lower),
    ):
        if key.lower() in queues:
            kwargs[name] = _parsed(f"extensions.queues.{key}", queues[key.lower()], parse)
    return QueueSettings(**kwargs)


def _parsed(key: str, value: Any, parse: Callable[[str], Any]) -> Any:
    """A setting's value, or a ValueError naming it (the host refuses to start on one)."""
    try:
        return parse(str(value).strip())
    except ValueError:
        raise ValueError(f"host.json {key}: {str(value)[:40]!r} is not valid") from None


# functionTimeout when host.json does not set it: the Flex Consumption plan's (infra deploys
# the app there; the legacy Consumption plan's is 5 minutes).
DEFAULT_FUNCTION_TIMEOUT = 30 * 60.0


def read_function_timeout(path: Path, env: Mapping[str, str] | None = None) -> float | None:
    """functionTimeout in seconds; None for "-1" (unbounded)."""
    value = host_config(path, env).get("functiontimeout")
    if value is None:
        return DEFAULT_FUNCTION_TIMEOUT
    if str(value).strip() == "-1":
        return None
    seconds: float = _parsed("functionTimeout", value, timespan_seconds)
    return seconds


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
