"""A corpus of careless and hostile publish requests, and good ones beside them.

Each bad case names what refuses it: `decode` (strict JSON: encodings, duplicates, depth, size),
`model` (the model and the published JSON Schema alike), `policy` (this deployment's settings:
allowed package hosts, live secrets) or `stage` (only storage can tell: a staged blob that is
not there). Used by the unit tests (parse, and model-vs-schema) and end to end through the
queues and the local host.
"""

from __future__ import annotations

from tests.corpus.case import Case, base, good_bodies
from tests.corpus.decoding import decoding
from tests.corpus.fields import fields
from tests.corpus.sources import secret_cases, sources

__all__ = ["Case", "bad_bodies", "base", "good_bodies"]


def bad_bodies(prefix: str, secrets: list[str]) -> list[Case]:
    """At least 60 bad bodies; `secrets` are the deployment's live secret values."""
    return [*decoding(prefix), *fields(prefix), *sources(prefix), *secret_cases(prefix, secrets)]
