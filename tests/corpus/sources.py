"""Package sources (climbing paths, foreign hosts, a blob never staged), oversize labels,
and the deployment's live secrets wherever a sender could put them."""

from __future__ import annotations

from tests.corpus.case import Case, Level, base, encoded, package

BLOB = "https://a.blob.core.windows.net/c/x"
# name, request id suffix, package source, what refuses it, a fragment of the reason
PACKAGE_SOURCES: tuple[tuple[str, str, dict[str, str], Level, str], ...] = (
    ("staged-climb", "sc", {"staged": "../secret.zip"}, "model", "staged"),
    ("staged-deep-climb", "sdc", {"staged": "a/../../b"}, "model", "staged"),
    ("staged-absolute", "sa", {"staged": "/etc/passwd"}, "model", "staged"),
    ("staged-backslash", "sb", {"staged": "a\\..\\b.zip"}, "model", "staged"),
    ("staged-dot", "sd", {"staged": "./a.zip"}, "model", "staged"),
    ("url-http", "uh", {"url": "http://a.blob.core.windows.net/c/x"}, "model", "https URL"),
    (
        "url-userinfo",
        "uu",
        {"url": "https://u:p@a.blob.core.windows.net/c/x"},
        "model",
        "https URL",
    ),
    (
        "url-at-host",
        "ua",
        {"url": "https://a.blob.core.windows.net@evil.example/x"},
        "model",
        "https URL",
    ),
    (
        "url-host",
        "uo",
        {"url": "https://evil.example/c/app.zip"},
        "policy",
        "not an allowed package host",
    ),
    (
        "url-lookalike",
        "ul",
        {"url": "https://blob.core.windows.net.evil.example/c/app.zip"},
        "policy",
        "not an allowed package host",
    ),
    ("url-no-blob", "unb", {"url": "https://a.blob.core.windows.net/c"}, "model", "a blob"),
    ("url-no-path", "unp", {"url": "https://a.blob.core.windows.net"}, "model", "a blob"),
    ("source-both", "s2", {"staged": "a.zip", "url": BLOB}, "model", "exactly one"),
    ("source-none", "s0", {}, "model", "exactly one"),
    ("staged-missing", "sm", {"staged": "never-staged.zip"}, "stage", "does not exist"),
)


def sources(prefix: str) -> list[Case]:
    p = prefix
    return [
        # Package sources
        *(
            Case(name, encoded(base(f"{p}-{tag}", changes=package(source))), level, reason)
            for name, tag, source, level, reason in PACKAGE_SOURCES
        ),
        # Oversize labels
        Case(
            "labels-too-many",
            encoded(base(f"{p}-lm", labels={f"k{i}": "v" for i in range(21)})),
            "model",
            "labels",
        ),
        Case("label-key-long", encoded(base(f"{p}-lk", labels={"k" * 65: "v"})), "model", "labels"),
        Case(
            "label-value-long",
            encoded(base(f"{p}-lv", labels={"k": "v" * 257})),
            "model",
            "labels.k",
        ),
        Case(
            "label-control",
            encoded(base(f"{p}-lc", labels={"k": "a\u0000b"})),
            "model",
            "control characters",
        ),
        Case(
            "label-key-space",
            encoded(base(f"{p}-lks", labels={"has space": "v"})),
            "model",
            "labels",
        ),
    ]


def secret_cases(prefix: str, secrets: list[str]) -> list[Case]:
    """`secrets` are the deployment's live secret values."""
    p = prefix
    cases: list[Case] = []
    for i, secret in enumerate(secrets):
        cases += [
            Case(
                f"secret-{i}-title",
                encoded(base(f"{p}-st{i}", changes={"listing": {"title": secret}})),
                "policy",
                "carries a secret",
            ),
            Case(
                f"secret-{i}-label",
                encoded(base(f"{p}-sl{i}", labels={"note": f"pw {secret}"})),
                "policy",
                "carries a secret",
            ),
            Case(
                f"secret-{i}-requested-by",
                encoded(base(f"{p}-sr{i}", requestedBy=secret)),
                "policy",
                "carries a secret",
            ),
            Case(
                f"secret-{i}-product-id",
                encoded({**base(f"{p}-si{i}"), "offer": {"productId": secret}}),
                "model",
                "must be a GUID",
            ),
        ]
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4eXo5ODc2NTQzMjEifQ.c2lnbmF0dXJl"
    cases.append(
        Case(
            "jwt-in-description",
            encoded(base(f"{p}-jwt", changes={"listing": {"description": jwt}})),
            "policy",
            "carries a secret",
        )
    )
    return cases
