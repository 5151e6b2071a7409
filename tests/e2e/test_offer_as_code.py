"""Offer as code end to end, through `pcpub` and the real queues: export a live offer, change
two languages in the file, plan (exactly those changes), apply to live, plan again (no change);
then a person edits the draft in Partner Center and the plan shows it as drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pcpub.cli import main
from pcpub.ops import Storage
from pcpub.stack import LocalStack
from pcsim.admin import SimulatorClient
from tests.e2e.conftest import publish, stage_package, wait_terminal

OFFER = "coded-offer"


def pcpub(stack: LocalStack, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main([*args, "--connection-string", stack.connection_string, "--timeout", "120"])
    return code, capsys.readouterr().out


def plan_of(stack: LocalStack, capsys: pytest.CaptureFixture[str], file: Path) -> tuple[int, Any]:
    code, out = pcpub(stack, capsys, "plan", str(file), "--json")
    return code, json.loads(out)


def test_export_edit_plan_apply_plan(
    stack: LocalStack,
    storage: Storage,
    admin: SimulatorClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Partner Center gives each module a new draft instance when a submission is made, so
    # what is live can be read apart from the draft (shared.pipeline.drift).
    before = admin.set_live(draftAfterSubmit="new")
    try:
        product = admin.add_offer(OFFER, ["basic"])["id"]
        for name in ("logo.png", "shot-1.png", "shot-2.png"):
            stage_package(stack, f"media/{name}", b"\x89PNG " + name.encode())
        publish(  # the offer as it is live today: three languages, a logo and a screenshot
            storage,
            "req-coded-v1",
            OFFER,
            "live",
            changes={
                "properties": {"termsOfUse": "Terms of 2026"},
                "listing": {
                    "images": [
                        {"type": "AzureLogoSmall", "file": {"staged": "media/logo.png"}},
                        {"type": "Screenshot", "file": {"staged": "media/shot-1.png"}},
                    ]
                },
                "listings": {
                    "de-de": {"title": "Codiert", "summary": "Zusammenfassung"},
                    "fr-fr": {"title": "Codé", "summary": "Résumé"},
                },
            },
        )
        assert str(wait_terminal(storage, "req-coded-v1").status) == "succeeded"

        file = tmp_path / "offer.json"
        code, _ = pcpub(stack, capsys, "export", OFFER, "--out", str(file))
        assert code == 0
        exported = json.loads(file.read_text())
        assert file.read_text().endswith("}\n")  # no "no newline at end of file" in a diff
        assert set(exported["changes"]["listings"]) == {"en-us", "de-de", "fr-fr"}
        code, plan = plan_of(stack, capsys, file)
        assert (code, plan["changes"], plan["drift"]) == (0, [], [])  # the round trip

        listings = exported["changes"]["listings"]
        listings["de-de"]["title"] = "Codiert 2"
        listings["fr-fr"]["summary"] = "Résumé 2"
        shot = next(i for i in listings["en-us"]["images"] if i["type"] == "Screenshot")
        assert shot.pop("fileName").endswith("-shot-1.png")  # named by its content
        shot["file"] = {"staged": "media/shot-2.png"}  # one screenshot replaced
        file.write_text(json.dumps(exported, ensure_ascii=False))
        code, plan = plan_of(stack, capsys, file)
        assert code == 2
        by_field = {(c["language"], c["field"]): c for c in plan["changes"]}
        assert sorted(by_field) == [("de-de", "title"), ("en-us", "images"), ("fr-fr", "summary")]
        assert by_field["fr-fr", "summary"]["old"] == "Résumé"
        assert by_field["de-de", "title"]["new"] == "Codiert 2"
        images = by_field["en-us", "images"]
        assert any("shot-1" in s for s in images["old"])
        assert any("shot-2" in s for s in images["new"])
        assert not any("shot-1" in s for s in images["new"])
        code, text = pcpub(stack, capsys, "plan", str(file))
        assert code == 2
        assert '~ Listing [de-de] title: "Codiert" -> "Codiert 2"' in text

        code, out = pcpub(stack, capsys, "apply", str(file), "--target", "live", "--wait")
        assert code == 0, out
        assert "succeeded" in out
        code, plan = plan_of(stack, capsys, file)
        assert (code, plan["changes"], plan["drift"]) == (0, [], [])

        # A person edits the offer's terms in Partner Center, after it went live.
        instance = next(
            b["currentDraftInstanceID"]
            for b in admin.ingestion(
                "GET", f"products/{product}/branches/getByModule(module=Property)"
            ).json()["value"]
        )
        [prop] = admin.ingestion(
            "GET", f"products/{product}/properties/getByInstanceID(instanceID={instance})"
        ).json()["value"]
        edited = {**prop, "termsOfUse": "Edited in the portal"}
        answer = admin.ingestion(
            "PUT",
            f"products/{product}/properties/{prop['id']}",
            json=edited,
            if_match=prop["@odata.etag"],
        )
        assert answer.status_code == 200, answer.text
        code, plan = plan_of(stack, capsys, file)
        assert code == 2  # the file sets the terms back
        [drift] = plan["drift"]
        assert (drift["module"], drift["field"]) == ("Property", "termsOfUse")
        assert drift["draft"] == "Edited in the portal"
        assert drift["planned"] == drift["live"]  # applying the file would undo the edit
        code, text = pcpub(stack, capsys, "plan", str(file))
        assert "! Property termsOfUse" in text
        live = tmp_path / "live.json"
        code, _ = pcpub(stack, capsys, "export", OFFER, "--state", "live", "--out", str(live))
        assert code == 0
        assert json.loads(live.read_text())["changes"]["properties"]["termsOfUse"] == (
            "Terms of 2026"
        )
        code, _ = pcpub(stack, capsys, "export", OFFER, "--out", str(live))  # the draft
        assert json.loads(live.read_text())["changes"]["properties"]["termsOfUse"] == (
            "Edited in the portal"
        )
    finally:
        admin.set_live(**before)


def test_a_release_is_planned_as_a_whole(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    release = {
        "schemaVersion": 1,
        "releaseId": "bc-2026-12",
        "target": "live",
        "goLive": "approval",
        "offers": [
            {
                "name": "timesheets",
                "offer": {"externalId": "contoso-timesheets"},
                "changes": {"listing": {"title": "Contoso Timesheets 2"}},
            },
            {
                "name": "analytics",
                "offer": {"externalId": "contoso-analytics"},
                "dependsOn": ["timesheets"],  # a plan waits for no dependency
                "needs": "live",
            },
        ],
    }
    file = tmp_path / "release.json"
    file.write_text(json.dumps(release))
    code, out = pcpub(stack, capsys, "plan", str(file), "--json")
    assert code == 2
    plans = json.loads(out)["offers"]
    assert [(c["field"], c["new"]) for c in plans["timesheets"]["changes"]] == [
        ("title", "Contoso Timesheets 2")
    ]
    assert plans["analytics"]["changes"] == []
    code, text = pcpub(stack, capsys, "plan", str(file))
    assert "== analytics" in text
    assert "no change" in text
