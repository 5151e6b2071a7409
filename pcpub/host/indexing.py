"""What the local host knows of an app: its functions and their bindings, read from the app
itself as the Python worker's indexer reads them, and the app settings bindings name."""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func


def resolve_setting(value: str, env: dict[str, str]) -> str:
    """Binding values like `%POLL_SCHEDULE%` come from app settings."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise KeyError(f"app setting {name} (used in a binding) is not set")
        return env[name]

    return re.sub(r"%([^%]+)%", lookup, value)


class Out(func.Out[Any]):
    """A queue output binding: one message, or a list of messages (as the host takes them)."""

    def __init__(self) -> None:
        self.value: str | list[str] | None = None

    def set(self, val: str | list[str]) -> None:
        self.value = val

    def get(self) -> str | list[str]:
        return self.value or ""

    def messages(self) -> list[str]:
        if self.value is None:
            return []
        return [self.value] if isinstance(self.value, str) else list(self.value)


@dataclass
class FunctionSpec:
    name: str
    bindings: list[dict[str, Any]]
    call: Callable[..., Any]

    @property
    def trigger(self) -> dict[str, Any]:
        return next(b for b in self.bindings if b["type"].endswith("Trigger"))

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return [b for b in self.bindings if b.get("direction") == "OUT" and b["type"] == "queue"]


def load_functions(app_dir: Path, module: str = "function_app") -> list[FunctionSpec]:
    """Import the app and read its functions, as the Python worker's indexer does."""
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    app_module = importlib.import_module(module)
    app = next(v for v in vars(app_module).values() if isinstance(v, func.FunctionApp))
    specs = []
    for fn in app.get_functions():
        bindings = json.loads(fn.get_function_json())["bindings"]
        specs.append(
            FunctionSpec(
                fn.get_function_name() or fn.get_user_function().__name__,
                bindings,
                fn.get_user_function(),
            )
        )
    return specs


@dataclass
class HostStats:
    invocations: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    poisoned: int = 0
    worker_restarts: int = 0  # after an invocation ran past functionTimeout

    def count(self, name: str, ok: bool) -> None:
        self.invocations[name] = self.invocations.get(name, 0) + 1
        if not ok:
            self.failures[name] = self.failures.get(name, 0) + 1
