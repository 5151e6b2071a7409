"""Bodies strict JSON refuses before any model sees them: encodings, duplicate keys,
non-finite numbers, depth, members and size; and those that are not a version-1 object."""

from __future__ import annotations

import json

from tests.corpus.case import Case, base, encoded, nest


def decoding(prefix: str) -> list[Case]:
    p = prefix
    return [
        # Encodings
        Case("bom", b"\xef\xbb\xbf" + encoded(base(f"{p}-bom")), "decode", "byte-order mark"),
        Case("utf16", json.dumps(base(f"{p}-u16")).encode("utf-16"), "decode", "UTF-16LE"),
        Case("utf16be", json.dumps(base(f"{p}-u16")).encode("utf-16-be"), "decode", "UTF-16BE"),
        Case("utf16le", json.dumps(base(f"{p}-u16")).encode("utf-16-le"), "decode", "UTF-16LE"),
        Case("utf32", json.dumps(base(f"{p}-u32")).encode("utf-32"), "decode", "UTF-32LE"),
        Case("utf32be", json.dumps(base(f"{p}-u32")).encode("utf-32-be"), "decode", "UTF-32BE"),
        Case(
            "latin1",
            json.dumps(base(f"{p}-l1", requestedBy="Åsa"))
            .encode("latin-1")
            .replace(b"\\u00c5", b"\xc5"),
            "decode",
            "not valid UTF-8",
        ),
        Case(
            "lone-surrogate", encoded(base(f"{p}-sur", requestedBy="\ud800")), "decode", "surrogate"
        ),
        Case("empty", b"", "decode", "not valid JSON"),
        Case("whitespace", b"  \n ", "decode", "not valid JSON"),
        Case("truncated", encoded(base(f"{p}-trunc"))[:-5], "decode", "not valid JSON"),
        Case("trailing", encoded(base(f"{p}-trail")) + b" x", "decode", "not valid JSON"),
        # Duplicate keys at any depth
        Case("dup-top", b'{"schemaVersion": 1, "schemaVersion": 1}', "decode", "duplicate key"),
        Case(
            "dup-target",
            encoded(base(f"{p}-dup"))[:-1] + b', "target": "live"}',
            "decode",
            "duplicate key 'target'",
        ),
        Case(
            "dup-offer",
            b'{"offer": {"externalId": "a-b-c", "externalId": "x-y-z"}}',
            "decode",
            "duplicate key",
        ),
        Case(
            "dup-deep",
            b'{"changes": {"plans": {"premium": {"listing": {"title": "a", "title": "b"}}}}}',
            "decode",
            "duplicate key 'title'",
        ),
        # Non-finite numbers
        Case("nan", b'{"schemaVersion": NaN}', "decode", "NaN"),
        Case("infinity", b'{"schemaVersion": Infinity}', "decode", "Infinity"),
        Case("neg-infinity", b'{"schemaVersion": -Infinity}', "decode", "-Infinity"),
        # Depth, members, size
        Case("deep", encoded(base(f"{p}-deep", labels=nest(30))), "decode", "nests deeper"),
        Case("very-deep", b"[" * 200_000, "decode", "bytes; the limit"),
        Case("deep-small", b"[" * 40_000, "decode", "nests deeper"),
        Case(
            "many-keys",
            encoded(base(f"{p}-keys", labels={f"k{i}": "" for i in range(2100)})),
            "decode",
            "members",
        ),
        Case("oversize", encoded(base(f"{p}-big", requestedBy="x" * 50_000)), "decode", "limit is"),
        Case(
            "long-string",
            encoded(base(f"{p}-long", changes={"listing": {"description": "y" * 45_000}})),
            "decode",
            "longer than",
        ),
        Case("huge-int", b'{"schemaVersion": 1' + b"0" * 5000 + b"}", "decode", "not valid JSON"),
        # Not an object, wrong version
        Case("array", b"[1, 2]", "decode", "JSON object"),
        Case("null", b"null", "decode", "JSON object"),
        Case("string", b'"hello"', "decode", "JSON object"),
        Case("version-2", encoded(base(f"{p}-v2", schemaVersion=2)), "model", "schemaVersion 2"),
        Case(
            "version-true", encoded(base(f"{p}-vt", schemaVersion=True)), "model", "schemaVersion"
        ),
        Case(
            "version-float",
            encoded(base(f"{p}-vf", schemaVersion=1.0)),
            "model",
            "schemaVersion",
            schema_blind=True,
        ),
        Case(
            "version-string", encoded(base(f"{p}-vs", schemaVersion="1")), "model", "schemaVersion"
        ),
    ]
