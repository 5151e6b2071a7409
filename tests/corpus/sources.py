"""Package sources (climbing paths, foreign hosts, a blob never staged), oversize labels,
and the deployment's live secrets wherever a sender could put them."""

from __future__ import annotations

from tests.corpus.case import Case, base, encoded, package


def sources(prefix: str) -> list[Case]:
    p = prefix
    return [
        # Package sources
        Case(
            "staged-climb",
            encoded(base(f"{p}-sc", changes=package({"staged": "../secret.zip"}))),
            "model",
            "staged",
        ),
        Case(
            "staged-deep-climb",
            encoded(base(f"{p}-sdc", changes=package({"staged": "a/../../b"}))),
            "model",
            "staged",
        ),
        Case(
            "staged-absolute",
            encoded(base(f"{p}-sa", changes=package({"staged": "/etc/passwd"}))),
            "model",
            "staged",
        ),
        Case(
            "staged-backslash",
            encoded(base(f"{p}-sb", changes=package({"staged": "a\\..\\b.zip"}))),
            "model",
            "staged",
        ),
        Case(
            "staged-dot",
            encoded(base(f"{p}-sd", changes=package({"staged": "./a.zip"}))),
            "model",
            "staged",
        ),
        Case(
            "url-http",
            encoded(
                base(f"{p}-uh", changes=package({"url": "http://a.blob.core.windows.net/c/x"}))
            ),
            "model",
            "https URL",
        ),
        Case(
            "url-userinfo",
            encoded(
                base(f"{p}-uu", changes=package({"url": "https://u:p@a.blob.core.windows.net/c/x"}))
            ),
            "model",
            "https URL",
        ),
        Case(
            "url-at-host",
            encoded(
                base(
                    f"{p}-ua",
                    changes=package({"url": "https://a.blob.core.windows.net@evil.example/x"}),
                )
            ),
            "model",
            "https URL",
        ),
        Case(
            "url-host",
            encoded(base(f"{p}-uo", changes=package({"url": "https://evil.example/app.zip"}))),
            "policy",
            "not an allowed package host",
        ),
        Case(
            "url-lookalike",
            encoded(
                base(
                    f"{p}-ul",
                    changes=package({"url": "https://blob.core.windows.net.evil.example/app.zip"}),
                )
            ),
            "policy",
            "not an allowed package host",
        ),
        Case(
            "source-both",
            encoded(
                base(
                    f"{p}-s2",
                    changes=package(
                        {"staged": "a.zip", "url": "https://a.blob.core.windows.net/c/x"}
                    ),
                )
            ),
            "model",
            "exactly one",
        ),
        Case("source-none", encoded(base(f"{p}-s0", changes=package({}))), "model", "exactly one"),
        Case(
            "staged-missing",
            encoded(base(f"{p}-sm", changes=package({"staged": "never-staged.zip"}))),
            "stage",
            "does not exist",
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
