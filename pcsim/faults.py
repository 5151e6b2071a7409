"""Faults and timings on demand: what the real service does on a bad day, made repeatable.

Every switch maps to a behaviour the API notes call observed or UNCERTAIN: 429 with or without
Retry-After, 5xx and connection resets at a rate, scripted answers for given calls, slow
responses (also after the work was done, for ambiguous timeouts), answers trickled a few bytes
at a time, broken answers after the work (an empty, truncated or non-JSON 2xx), the error
body's shape, and 412 or 409 for a stale ETag.
"""

from __future__ import annotations

import math
import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class FaultRule:
    """A scripted answer for matching calls: an error status, a reset, or a delay."""

    path: str = ".*"
    method: str | None = None
    query: str | None = None
    times: int | None = 1  # how many matching calls it applies to; None = all
    status: int | None = None
    body: Any = None
    retry_after: str | None = None
    reset: bool = False
    delay: float = 0.0
    after: bool = False  # do the work first, then delay or reset (an ambiguous outcome)
    # With `after`: do the work, then answer with this raw body (and `status`, default 200)
    # instead of the real answer: an empty or truncated 2xx, text where JSON was due.
    raw_body: str | None = None
    # The answer's body sent a few bytes at a time, spread over this many seconds: every read
    # gets something, so only a bound on the whole answer ends it.
    trickle: float = 0.0
    # Answer 202 with a Location naming the same URL (and `retryAfter`, if given): the result
    # is not ready yet, ask there again (the Store flavour of this API does it).
    not_ready: bool = False
    used: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultRule:
        return cls(
            path=data.get("path", ".*"),
            method=data.get("method"),
            query=data.get("query"),
            times=data.get("times", 1),
            status=data.get("status"),
            body=data.get("body"),
            retry_after=data.get("retryAfter"),
            reset=bool(data.get("reset", False)),
            delay=float(data.get("delay", 0.0)),
            after=bool(data.get("after", False)),
            raw_body=data.get("rawBody"),
            trickle=float(data.get("trickle", 0.0)),
            not_ready=bool(data.get("notReady", False)),
        )

    def matches(self, method: str, path: str, query: str) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.method and self.method.upper() != method:
            return False
        if not re.search(self.path, path, re.IGNORECASE):
            return False
        return not (self.query and not re.search(self.query, query, re.IGNORECASE))


@dataclass
class Decision:
    """What to do with one call besides (or instead of) handling it."""

    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False
    delay_before: float = 0.0
    delay_after: float = 0.0
    reset_after: bool = False
    raw_after: tuple[int, str] | None = None  # (status, body) replacing the real answer
    trickle: float = 0.0  # seconds the answer's body is spread over
    not_ready: bool = False  # 202 with a Location naming the call's own URL


@dataclass
class Faults:
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    reset_rate: float = 0.0
    rate_limit: int | None = None  # requests per window, per tenant
    rate_window: float = 60.0
    send_retry_after: bool = True
    error_body: Literal["string", "object", "empty"] = "string"
    stale_etag_status: int = 412
    next_link_404: bool = False
    rules: list[FaultRule] = field(default_factory=list)
    seed: int | None = None
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _window: dict[str, tuple[float, int]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Faults:
        faults = cls(
            latency_ms=float(data.get("latencyMs", 0)),
            latency_jitter_ms=float(data.get("latencyJitterMs", 0)),
            error_rate=float(data.get("errorRate", 0)),
            error_status=int(data.get("errorStatus", 503)),
            reset_rate=float(data.get("resetRate", 0)),
            rate_limit=data.get("rateLimit"),
            rate_window=float(data.get("rateWindowSeconds", 60)),
            send_retry_after=bool(data.get("sendRetryAfter", True)),
            error_body=data.get("errorBody", "string"),
            stale_etag_status=int(data.get("staleEtagStatus", 412)),
            next_link_404=bool(data.get("nextLink404", False)),
            rules=[FaultRule.from_json(r) for r in data.get("rules", [])],
            seed=data.get("seed"),
        )
        if faults.seed is not None:
            faults._rng.seed(faults.seed)
        return faults

    def to_json(self) -> dict[str, Any]:
        return {
            "latencyMs": self.latency_ms,
            "latencyJitterMs": self.latency_jitter_ms,
            "errorRate": self.error_rate,
            "errorStatus": self.error_status,
            "resetRate": self.reset_rate,
            "rateLimit": self.rate_limit,
            "rateWindowSeconds": self.rate_window,
            "sendRetryAfter": self.send_retry_after,
            "errorBody": self.error_body,
            "staleEtagStatus": self.stale_etag_status,
            "nextLink404": self.next_link_404,
            "seed": self.seed,
            "rules": [
                {
                    "path": r.path,
                    "method": r.method,
                    "times": r.times,
                    "used": r.used,
                    "status": r.status,
                    "reset": r.reset,
                    "delay": r.delay,
                    "after": r.after,
                    "rawBody": r.raw_body,
                    "trickle": r.trickle,
                    "notReady": r.not_ready,
                }
                for r in self.rules
            ],
        }

    def decide_rules(self, method: str, path: str, query: str) -> Decision:
        """For the identity surfaces (token endpoint, Key Vault): scripted rules only."""
        with self._lock:
            decision = Decision()
            self._apply_rule(decision, method, path, query)
            return decision

    def _apply_rule(self, decision: Decision, method: str, path: str, query: str) -> bool:
        for rule in self.rules:
            if rule.matches(method, path, query):
                rule.used += 1
                decision.trickle = max(decision.trickle, rule.trickle)
                if rule.after:
                    decision.delay_after = rule.delay
                    decision.reset_after = rule.reset
                    if rule.raw_body is not None:
                        decision.raw_after = (rule.status or 200, rule.raw_body)
                else:
                    decision.delay_before += rule.delay
                    decision.reset = rule.reset
                    decision.status = rule.status
                    decision.body = rule.body
                    decision.not_ready = rule.not_ready
                    if rule.retry_after:
                        decision.headers["Retry-After"] = rule.retry_after
                return True
        return False

    def decide(self, method: str, path: str, query: str, tenant: str, now: float) -> Decision:
        """Faults for one ingestion call, in the order the real edge would apply them."""
        with self._lock:
            decision = Decision()
            if self.latency_ms or self.latency_jitter_ms:
                decision.delay_before = (
                    self.latency_ms + self._rng.uniform(0, self.latency_jitter_ms)
                ) / 1000
            if self._apply_rule(decision, method, path, query):
                return decision
            if self.rate_limit is not None:
                start, count = self._window.get(tenant, (now, 0))
                if now - start >= self.rate_window:
                    start, count = now, 0
                count += 1
                self._window[tenant] = (start, count)
                if count > self.rate_limit:
                    decision.status = 429
                    decision.body = "Request rate exceeds limit"
                    if self.send_retry_after:
                        wait = max(1, math.ceil(start + self.rate_window - now))
                        decision.headers["Retry-After"] = str(wait)
                    return decision
            roll = self._rng.random()
            if roll < self.reset_rate:
                decision.reset = True
            elif roll < self.reset_rate + self.error_rate:
                decision.status = self.error_status
                decision.body = (
                    ""
                    if self.error_status >= 500 and self.error_body == "empty"
                    else ("The service is temporarily unavailable.")
                )
            return decision
