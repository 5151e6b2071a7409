"""Bodies the model refuses field by field: strict types, go-live control, the offer types'
fields, nulls and unknown fields, and identifiers that could reach a URL or a filter."""

from __future__ import annotations

from typing import Any

from tests.corpus.case import GUID, Case, Level, auth, base, bc, encoded, tech

# name, request id suffix, a managed application plan's technical configuration, a fragment
# of the reason the model gives
TECHNICAL_CONFIGURATIONS: tuple[tuple[str, str, dict[str, Any], str], ...] = (
    ("authorization-not-guid", "ag", {"authorizations": [auth("Owner")]}, "must be a GUID"),
    ("authorization-extra", "ax", {"authorizations": [{**auth(GUID), "x": 1}]}, "unknown field"),
    ("deployment-mode", "dm", {"deploymentMode": "incremental"}, "deploymentMode"),
    ("jit-string", "js", {"allowJitAccess": "true"}, "allowJitAccess"),
    (
        "action-with-space",
        "as",
        {"allowedDataActions": ["Microsoft.X/* ; rm"]},
        "allowedDataActions",
    ),
)


# name, request id suffix, notBefore, what refuses it, a fragment of the reason
NOT_BEFORE: tuple[tuple[str, str, str, Level, str], ...] = (
    ("not-before-thirteenth-month", "nbm", "2026-13-01T09:00Z", "model", "must be a UTC time"),
    ("not-before-hour-25", "nbh", "2026-12-01T25:00Z", "model", "must be a UTC time"),
    ("not-before-february-30", "nbf", "2027-02-30T09:00Z", "policy", "not a day of the calendar"),
    ("not-before-decades-ahead", "nbd", "2062-12-01T09:00Z", "policy", "more than a year ahead"),
)


def fields(prefix: str) -> list[Case]:
    p = prefix
    return [
        # Strict types
        Case("target-number", encoded(base(f"{p}-t1", target=1)), "model", "target"),
        Case("target-unknown", encoded(base(f"{p}-t2", target="production")), "model", "target"),
        Case("request-id-number", encoded({**base("x"), "requestId": 12345}), "model", "requestId"),
        Case("offer-string", encoded({**base(f"{p}-os"), "offer": "contoso"}), "model", "offer"),
        Case(
            "label-number", encoded(base(f"{p}-ln", labels={"build": 1})), "model", "labels.build"
        ),
        Case("label-bool", encoded(base(f"{p}-lb", labels={"ok": True})), "model", "labels.ok"),
        Case(
            "bool-yes",
            encoded(base(f"{p}-by", changes={"properties": {"useEnterpriseContract": "yes"}})),
            "model",
            "useEnterpriseContract",
        ),
        Case(
            "bool-one",
            encoded(base(f"{p}-b1", changes={"properties": {"useEnterpriseContract": 1}})),
            "model",
            "useEnterpriseContract",
        ),
        Case(
            "keywords-string",
            encoded(base(f"{p}-ks", changes={"listing": {"keywords": "a,b"}})),
            "model",
            "keywords",
        ),
        Case(
            "version-number",
            encoded(
                base(
                    f"{p}-vn",
                    changes={"plans": {"premium": {"technicalConfiguration": {"version": 1.0}}}},
                )
            ),
            "model",
            "version",
        ),
        Case("plans-list", encoded(base(f"{p}-pl", changes={"plans": []})), "model", "plans"),
        # What Partner Center would show in a store listing: no escapes, no NULs
        Case(
            "title-escape",
            encoded(base(f"{p}-te", changes={"listing": {"title": "\x1b[2JCleared"}})),
            "model",
            "listing.title",
        ),
        Case(
            "keyword-newline",
            encoded(base(f"{p}-kn", changes={"listing": {"keywords": ["a\nb"]}})),
            "model",
            "listing.keywords",
        ),
        Case(
            "description-nul",
            encoded(base(f"{p}-dn", changes={"listing": {"description": "ok\x00then"}})),
            "model",
            "listing.description",
        ),
        Case(
            "terms-bell",
            encoded(base(f"{p}-tb", changes={"properties": {"termsOfUse": "ring\x07"}})),
            "model",
            "properties.termsOfUse",
        ),
        # Go-live control
        Case(
            "approval-on-preview",
            encoded(base(f"{p}-ap", goLive="approval")),
            "model",
            "goLive approval and notBefore need target live",
        ),
        Case("go-live-other", encoded(base(f"{p}-go", goLive="manual")), "model", "goLive"),
        Case(
            "not-before-local-time",
            encoded({**base(f"{p}-nb", notBefore="2026-12-01T09:00:00"), "target": "live"}),
            "model",
            "notBefore",
        ),
        *(
            Case(
                name,
                encoded({**base(f"{p}-{suffix}", notBefore=when), "target": "live"}),
                level,
                f"notBefore: {why}",
            )
            for name, suffix, when, level, why in NOT_BEFORE
        ),
        Case(
            "only-changed-string",
            encoded(base(f"{p}-oc", onlyChanged="yes")),
            "model",
            "onlyChanged",
        ),
        # Offer types' fields
        *(
            Case(name, encoded(base(f"{p}-{tag}", changes=tech(fields))), "model", reason)
            for name, tag, fields, reason in TECHNICAL_CONFIGURATIONS
        ),
        Case(
            "bc-package-without-app",
            encoded(base(f"{p}-bn", changes={"package": {"libraries": []}})),
            "model",
            "app",
        ),
        Case(
            "bc-too-many-libraries",
            encoded(base(f"{p}-bl", changes=bc({"staged": "a.app"}, [{"staged": "l.app"}] * 21))),
            "model",
            "libraries",
        ),
        Case(
            "bc-library-elsewhere",
            encoded(
                base(
                    f"{p}-be",
                    changes=bc({"staged": "a.app"}, [{"url": "https://evil.example/c/l.app"}]),
                )
            ),
            "policy",
            "changes.package.libraries.0.url: host 'evil.example' is not an allowed",
        ),
        Case(
            "bc-library-climbs",
            encoded(base(f"{p}-bc", changes=bc({"staged": "a.app"}, [{"staged": "../l.app"}]))),
            "model",
            "staged",
        ),
        Case("null-field", encoded(base(f"{p}-nf", requestedBy=None)), "model", "null"),
        Case(
            "null-offer-id",
            encoded(
                {**base(f"{p}-no"), "offer": {"externalId": "contoso-analytics", "productId": None}}
            ),
            "model",
            "null",
        ),
        Case(
            "unknown-field",
            encoded(base(f"{p}-uf", surprise=1)),
            "model",
            "surprise: unknown field",
        ),
        Case(
            "unknown-nested",
            encoded(base(f"{p}-un", changes={"listing": {"logo": "x"}})),
            "model",
            "changes.listing.logo: unknown field",
        ),
        # Identifiers that could reach a URL or a filter
        Case(
            "product-climb",
            encoded({**base(f"{p}-pc"), "offer": {"productId": "../../me"}}),
            "model",
            "productId: must be a GUID",
        ),
        Case(
            "product-query",
            encoded({**base(f"{p}-pq"), "offer": {"productId": f"{GUID}?x=1"}}),
            "model",
            "must be a GUID",
        ),
        Case(
            "product-encoded",
            encoded({**base(f"{p}-pe"), "offer": {"productId": "%2e%2e%2f"}}),
            "model",
            "must be a GUID",
        ),
        Case("offer-quote", encoded(base(f"{p}-oq", "a' or 1 eq 1 or 'a")), "model", "externalId"),
        Case("offer-slash", encoded(base(f"{p}-osl", "contoso/../x")), "model", "externalId"),
        Case("offer-upper", encoded(base(f"{p}-ou", "Contoso")), "model", "lowercase"),
        Case("offer-short", encoded(base(f"{p}-osh", "ab")), "model", "externalId"),
        Case("offer-long", encoded(base(f"{p}-olg", "a" * 51)), "model", "externalId"),
        Case("offer-hash", encoded(base(f"{p}-oh", "contoso#x")), "model", "externalId"),
        Case(
            "offer-both",
            encoded({**base(f"{p}-ob"), "offer": {"externalId": "a-b-c", "productId": GUID}}),
            "model",
            "exactly one",
        ),
        Case("offer-none", encoded({**base(f"{p}-on"), "offer": {}}), "model", "exactly one"),
        Case(
            "plan-climb",
            encoded(base(f"{p}-pcl", changes={"plans": {"../x": {}}})),
            "model",
            "plans",
        ),
        Case(
            "plan-query",
            encoded(base(f"{p}-pqu", changes={"plans": {"gold?x=1": {}}})),
            "model",
            "plans",
        ),
        Case(
            "audience-not-guid",
            encoded(base(f"{p}-ang", changes={"previewAudience": ["me"]})),
            "model",
            "must be a GUID",
        ),
        Case("request-id-slash", encoded(base("a/../b")), "model", "requestId"),
        Case("request-id-newline", encoded(base("r-1\n")), "model", "requestId"),
    ]
