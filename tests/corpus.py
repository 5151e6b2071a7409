"""A corpus of careless and hostile publish requests, and good ones beside them.

Each bad case names what refuses it: `decode` (strict JSON: encodings, duplicates, depth, size),
`model` (the model and the published JSON Schema alike), `policy` (this deployment's settings:
allowed package hosts, live secrets) or `stage` (only storage can tell: a staged blob that is
not there). Used by the unit tests (parse, and model-vs-schema) and end to end through the
queues and the local host.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["decode", "model", "policy", "stage"]
GUID = "5fbe0803-a545-4504-b41a-d9d158112360"


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    level: Level
    reason: str  # a fragment the rejection reason must contain
    # JSON Schema's number model cannot tell 1.0 from 1 (both are the integer 1 there).
    schema_blind: bool = False

    @property
    def parsed(self) -> Any:
        return json.loads(self.body)


def base(request_id: str, offer: str = "contoso-analytics", **extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": 1,
        "requestId": request_id,
        "offer": {"externalId": offer},
        "target": "preview",
        **extra,
    }


def _b(data: Any) -> bytes:
    return json.dumps(data).encode()


def _package(source: dict[str, Any]) -> dict[str, Any]:
    return {"plans": {"premium": {"technicalConfiguration": {"package": source}}}}


def _tech(fields: dict[str, Any]) -> dict[str, Any]:
    return {"plans": {"premium": {"technicalConfiguration": {"tenantId": GUID, **fields}}}}


def _auth(principal: Any, role: Any = GUID) -> dict[str, Any]:
    return {"principalId": principal, "roleDefinitionId": role}


def _bc(app: Any, libraries: Any = None) -> dict[str, Any]:
    package = {"app": app} if libraries is None else {"app": app, "libraries": libraries}
    return {"properties": {"appVersion": "2.0.0.0"}, "package": package}


def good_bodies(prefix: str = "good") -> list[bytes]:
    return [
        _b(base(f"{prefix}-1")),
        _b(base(f"{prefix}-2", labels={"team": "apps", "build": "1.2.3"}, requestedBy="ci")),
        _b({**base(f"{prefix}-3"), "offer": {"productId": GUID}, "target": "live"}),
        _b(base(f"{prefix}-4", changes={"listing": {"title": "T", "keywords": ["a", "b"]}})),
        _b(base(f"{prefix}-5", changes={"properties": {"useEnterpriseContract": False}})),
        _b(base(f"{prefix}-6", changes=_package({"staged": "builds/app-1.0.0.zip"}))),
        _b(
            base(
                f"{prefix}-7",
                changes=_package({"url": "https://acct.blob.core.windows.net/c/app.zip?sv=1"}),
            )
        ),
        _b(
            base(
                f"{prefix}-8", changes={"plans": {"premium": {"availability": {"markets": ["US"]}}}}
            )
        ),
        _b(base(f"{prefix}-9", changes={"previewAudience": [GUID]})),
        _b(base(f"{prefix}-11", "contoso-timesheets", changes=_bc({"staged": "main.app"}))),
        _b(base(f"{prefix}-12", changes=_tech({"authorizations": [_auth(GUID)]}))),
        _b(base(f"{prefix}-13", changes=_tech({"deploymentMode": "Complete"}))),
        _b(
            {
                **base(f"{prefix}-14", goLive="approval", notBefore="2026-12-01T09:00Z"),
                "target": "live",
                "onlyChanged": True,
            }
        ),
        # Non-ASCII text, an emoji (a surrogate pair escaped) and whitespace are fine.
        b'{ "schemaVersion" : 1, "requestId": "' + prefix.encode() + b'-10", "offer": '
        b'{"externalId": "contoso-analytics"}, "target": "preview", "changes": {"listing": '
        b'{"title": "Caf\\u00e9 \\ud83d\\ude00 \xc3\xa9"}}}',
    ]


def bad_bodies(prefix: str, secrets: list[str]) -> list[Case]:
    """At least 60 bad bodies; `secrets` are the deployment's live secret values."""
    p = prefix
    cases = [
        # Encodings
        Case("bom", b"\xef\xbb\xbf" + _b(base(f"{p}-bom")), "decode", "byte-order mark"),
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
        Case("lone-surrogate", _b(base(f"{p}-sur", requestedBy="\ud800")), "decode", "surrogate"),
        Case("empty", b"", "decode", "not valid JSON"),
        Case("whitespace", b"  \n ", "decode", "not valid JSON"),
        Case("truncated", _b(base(f"{p}-trunc"))[:-5], "decode", "not valid JSON"),
        Case("trailing", _b(base(f"{p}-trail")) + b" x", "decode", "not valid JSON"),
        # Duplicate keys at any depth
        Case("dup-top", b'{"schemaVersion": 1, "schemaVersion": 1}', "decode", "duplicate key"),
        Case(
            "dup-target",
            _b(base(f"{p}-dup"))[:-1] + b', "target": "live"}',
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
        Case("deep", _b(base(f"{p}-deep", labels=_nest(30))), "decode", "nests deeper"),
        Case("very-deep", b"[" * 200_000, "decode", "bytes; the limit"),
        Case("deep-small", b"[" * 40_000, "decode", "nests deeper"),
        Case(
            "many-keys",
            _b(base(f"{p}-keys", labels={f"k{i}": "" for i in range(2100)})),
            "decode",
            "members",
        ),
        Case("oversize", _b(base(f"{p}-big", requestedBy="x" * 50_000)), "decode", "limit is"),
        Case(
            "long-string",
            _b(base(f"{p}-long", changes={"listing": {"description": "y" * 45_000}})),
            "decode",
            "longer than",
        ),
        Case("huge-int", b'{"schemaVersion": 1' + b"0" * 5000 + b"}", "decode", "not valid JSON"),
        # Not an object, wrong version
        Case("array", b"[1, 2]", "decode", "JSON object"),
        Case("null", b"null", "decode", "JSON object"),
        Case("string", b'"hello"', "decode", "JSON object"),
        Case("version-2", _b(base(f"{p}-v2", schemaVersion=2)), "model", "schemaVersion 2"),
        Case("version-true", _b(base(f"{p}-vt", schemaVersion=True)), "model", "schemaVersion"),
        Case(
            "version-float",
            _b(base(f"{p}-vf", schemaVersion=1.0)),
            "model",
            "schemaVersion",
            schema_blind=True,
        ),
        Case("version-string", _b(base(f"{p}-vs", schemaVersion="1")), "model", "schemaVersion"),
        # Strict types
        Case("target-number", _b(base(f"{p}-t1", target=1)), "model", "target"),
        Case("target-unknown", _b(base(f"{p}-t2", target="production")), "model", "target"),
        Case("request-id-number", _b({**base("x"), "requestId": 12345}), "model", "requestId"),
        Case("offer-string", _b({**base(f"{p}-os"), "offer": "contoso"}), "model", "offer"),
        Case("label-number", _b(base(f"{p}-ln", labels={"build": 1})), "model", "labels.build"),
        Case("label-bool", _b(base(f"{p}-lb", labels={"ok": True})), "model", "labels.ok"),
        Case(
            "bool-yes",
            _b(base(f"{p}-by", changes={"properties": {"useEnterpriseContract": "yes"}})),
            "model",
            "useEnterpriseContract",
        ),
        Case(
            "bool-one",
            _b(base(f"{p}-b1", changes={"properties": {"useEnterpriseContract": 1}})),
            "model",
            "useEnterpriseContract",
        ),
        Case(
            "keywords-string",
            _b(base(f"{p}-ks", changes={"listing": {"keywords": "a,b"}})),
            "model",
            "keywords",
        ),
        Case(
            "version-number",
            _b(
                base(
                    f"{p}-vn",
                    changes={"plans": {"premium": {"technicalConfiguration": {"version": 1.0}}}},
                )
            ),
            "model",
            "version",
        ),
        Case("plans-list", _b(base(f"{p}-pl", changes={"plans": []})), "model", "plans"),
        # Go-live control
        Case(
            "approval-on-preview",
            _b(base(f"{p}-ap", goLive="approval")),
            "model",
            "goLive approval and notBefore need target live",
        ),
        Case("go-live-other", _b(base(f"{p}-go", goLive="manual")), "model", "goLive"),
        Case(
            "not-before-local-time",
            _b({**base(f"{p}-nb", notBefore="2026-12-01T09:00:00"), "target": "live"}),
            "model",
            "notBefore",
        ),
        Case("only-changed-string", _b(base(f"{p}-oc", onlyChanged="yes")), "model", "onlyChanged"),
        # Offer types' fields
        Case(
            "authorization-not-guid",
            _b(base(f"{p}-ag", changes=_tech({"authorizations": [_auth("Owner")]}))),
            "model",
            "must be a GUID",
        ),
        Case(
            "authorization-extra",
            _b(base(f"{p}-ax", changes=_tech({"authorizations": [{**_auth(GUID), "x": 1}]}))),
            "model",
            "unknown field",
        ),
        Case(
            "deployment-mode",
            _b(base(f"{p}-dm", changes=_tech({"deploymentMode": "incremental"}))),
            "model",
            "deploymentMode",
        ),
        Case(
            "jit-string",
            _b(base(f"{p}-js", changes=_tech({"allowJitAccess": "true"}))),
            "model",
            "allowJitAccess",
        ),
        Case(
            "action-with-space",
            _b(base(f"{p}-as", changes=_tech({"allowedDataActions": ["Microsoft.X/* ; rm"]}))),
            "model",
            "allowedDataActions",
        ),
        Case(
            "bc-package-without-app",
            _b(base(f"{p}-bn", changes={"package": {"libraries": []}})),
            "model",
            "app",
        ),
        Case(
            "bc-too-many-libraries",
            _b(base(f"{p}-bl", changes=_bc({"staged": "a.app"}, [{"staged": "l.app"}] * 21))),
            "model",
            "libraries",
        ),
        Case(
            "bc-library-elsewhere",
            _b(
                base(
                    f"{p}-be",
                    changes=_bc({"staged": "a.app"}, [{"url": "https://evil.example/l.app"}]),
                )
            ),
            "policy",
            "changes.package.libraries.0.url: host 'evil.example' is not an allowed",
        ),
        Case(
            "bc-library-climbs",
            _b(base(f"{p}-bc", changes=_bc({"staged": "a.app"}, [{"staged": "../l.app"}]))),
            "model",
            "staged",
        ),
        Case("null-field", _b(base(f"{p}-nf", requestedBy=None)), "model", "null"),
        Case(
            "null-offer-id",
            _b(
                {**base(f"{p}-no"), "offer": {"externalId": "contoso-analytics", "productId": None}}
            ),
            "model",
            "null",
        ),
        Case("unknown-field", _b(base(f"{p}-uf", surprise=1)), "model", "surprise: unknown field"),
        Case(
            "unknown-nested",
            _b(base(f"{p}-un", changes={"listing": {"logo": "x"}})),
            "model",
            "changes.listing.logo: unknown field",
        ),
        # Identifiers that could reach a URL or a filter
        Case(
            "product-climb",
            _b({**base(f"{p}-pc"), "offer": {"productId": "../../me"}}),
            "model",
            "productId: must be a GUID",
        ),
        Case(
            "product-query",
            _b({**base(f"{p}-pq"), "offer": {"productId": f"{GUID}?x=1"}}),
            "model",
            "must be a GUID",
        ),
        Case(
            "product-encoded",
            _b({**base(f"{p}-pe"), "offer": {"productId": "%2e%2e%2f"}}),
            "model",
            "must be a GUID",
        ),
        Case("offer-quote", _b(base(f"{p}-oq", "a' or 1 eq 1 or 'a")), "model", "externalId"),
        Case("offer-slash", _b(base(f"{p}-osl", "contoso/../x")), "model", "externalId"),
        Case("offer-upper", _b(base(f"{p}-ou", "Contoso")), "model", "lowercase"),
        Case("offer-short", _b(base(f"{p}-osh", "ab")), "model", "externalId"),
        Case("offer-long", _b(base(f"{p}-olg", "a" * 51)), "model", "externalId"),
        Case("offer-hash", _b(base(f"{p}-oh", "contoso#x")), "model", "externalId"),
        Case(
            "offer-both",
            _b({**base(f"{p}-ob"), "offer": {"externalId": "a-b-c", "productId": GUID}}),
            "model",
            "exactly one",
        ),
        Case("offer-none", _b({**base(f"{p}-on"), "offer": {}}), "model", "exactly one"),
        Case("plan-climb", _b(base(f"{p}-pcl", changes={"plans": {"../x": {}}})), "model", "plans"),
        Case(
            "plan-query",
            _b(base(f"{p}-pqu", changes={"plans": {"gold?x=1": {}}})),
            "model",
            "plans",
        ),
        Case(
            "audience-not-guid",
            _b(base(f"{p}-ang", changes={"previewAudience": ["me"]})),
            "model",
            "must be a GUID",
        ),
        Case("request-id-slash", _b(base("a/../b")), "model", "requestId"),
        Case("request-id-newline", _b(base("r-1\n")), "model", "requestId"),
        # Package sources
        Case(
            "staged-climb",
            _b(base(f"{p}-sc", changes=_package({"staged": "../secret.zip"}))),
            "model",
            "staged",
        ),
        Case(
            "staged-deep-climb",
            _b(base(f"{p}-sdc", changes=_package({"staged": "a/../../b"}))),
            "model",
            "staged",
        ),
        Case(
            "staged-absolute",
            _b(base(f"{p}-sa", changes=_package({"staged": "/etc/passwd"}))),
            "model",
            "staged",
        ),
        Case(
            "staged-backslash",
            _b(base(f"{p}-sb", changes=_package({"staged": "a\\..\\b.zip"}))),
            "model",
            "staged",
        ),
        Case(
            "staged-dot",
            _b(base(f"{p}-sd", changes=_package({"staged": "./a.zip"}))),
            "model",
            "staged",
        ),
        Case(
            "url-http",
            _b(base(f"{p}-uh", changes=_package({"url": "http://a.blob.core.windows.net/c/x"}))),
            "model",
            "https URL",
        ),
        Case(
            "url-userinfo",
            _b(
                base(
                    f"{p}-uu", changes=_package({"url": "https://u:p@a.blob.core.windows.net/c/x"})
                )
            ),
            "model",
            "https URL",
        ),
        Case(
            "url-at-host",
            _b(
                base(
                    f"{p}-ua",
                    changes=_package({"url": "https://a.blob.core.windows.net@evil.example/x"}),
                )
            ),
            "model",
            "https URL",
        ),
        Case(
            "url-host",
            _b(base(f"{p}-uo", changes=_package({"url": "https://evil.example/app.zip"}))),
            "policy",
            "not an allowed package host",
        ),
        Case(
            "url-lookalike",
            _b(
                base(
                    f"{p}-ul",
                    changes=_package({"url": "https://blob.core.windows.net.evil.example/app.zip"}),
                )
            ),
            "policy",
            "not an allowed package host",
        ),
        Case(
            "source-both",
            _b(
                base(
                    f"{p}-s2",
                    changes=_package(
                        {"staged": "a.zip", "url": "https://a.blob.core.windows.net/c/x"}
                    ),
                )
            ),
            "model",
            "exactly one",
        ),
        Case("source-none", _b(base(f"{p}-s0", changes=_package({}))), "model", "exactly one"),
        Case(
            "staged-missing",
            _b(base(f"{p}-sm", changes=_package({"staged": "never-staged.zip"}))),
            "stage",
            "does not exist",
        ),
        # Oversize labels
        Case(
            "labels-too-many",
            _b(base(f"{p}-lm", labels={f"k{i}": "v" for i in range(21)})),
            "model",
            "labels",
        ),
        Case("label-key-long", _b(base(f"{p}-lk", labels={"k" * 65: "v"})), "model", "labels"),
        Case("label-value-long", _b(base(f"{p}-lv", labels={"k": "v" * 257})), "model", "labels.k"),
        Case(
            "label-control",
            _b(base(f"{p}-lc", labels={"k": "a\u0000b"})),
            "model",
            "control characters",
        ),
        Case("label-key-space", _b(base(f"{p}-lks", labels={"has space": "v"})), "model", "labels"),
    ]
    for i, secret in enumerate(secrets):
        cases += [
            Case(
                f"secret-{i}-title",
                _b(base(f"{p}-st{i}", changes={"listing": {"title": secret}})),
                "policy",
                "carries a secret",
            ),
            Case(
                f"secret-{i}-label",
                _b(base(f"{p}-sl{i}", labels={"note": f"pw {secret}"})),
                "policy",
                "carries a secret",
            ),
            Case(
                f"secret-{i}-requested-by",
                _b(base(f"{p}-sr{i}", requestedBy=secret)),
                "policy",
                "carries a secret",
            ),
            Case(
                f"secret-{i}-product-id",
                _b({**base(f"{p}-si{i}"), "offer": {"productId": secret}}),
                "model",
                "must be a GUID",
            ),
        ]
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4eXo5ODc2NTQzMjEifQ.c2lnbmF0dXJl"
    cases.append(
        Case(
            "jwt-in-description",
            _b(base(f"{p}-jwt", changes={"listing": {"description": jwt}})),
            "policy",
            "carries a secret",
        )
    )
    return cases


def _nest(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value
