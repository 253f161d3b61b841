"""Templates through the API: broken ones refused on save, versions, preview."""

from __future__ import annotations

import uuid

import httpx

GOOD = "{% block text %}Hallo {{ account_name }}: {{ total_due|money }}{% endblock %}"


async def test_a_broken_template_is_rejected_on_save(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/templates/reminder/sms/de", json={"source": "{% block text %}{{ oops }}{% endblock %}"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "source"


async def test_a_saved_version_is_used_and_previewed(client: httpx.AsyncClient) -> None:
    saved = await client.post("/templates/custom_step/sms/de", json={"source": GOOD})
    assert saved.status_code == 201
    assert saved.json()["version"] == 1
    again = await client.post("/templates/custom_step/sms/de", json={"source": GOOD + " "})
    assert again.json()["version"] == 2
    preview = await client.post(
        "/templates/preview",
        json={
            "template_key": "custom_step",
            "channel": "sms",
            "locale": "de",
            "data": {"account_name": "Müller KG"},
        },
    )
    assert preview.status_code == 200
    assert preview.json() == {"origin": "v2", "parts": {"text": "Hallo Müller KG: 1.230,00\xa0€"}}
    shown = (await client.get("/templates/custom_step/sms/de")).json()
    assert [v["version"] for v in shown["versions"]] == [2, 1]


async def test_the_shipped_template_is_shown_when_none_was_saved(client: httpx.AsyncClient) -> None:
    shown = (await client.get("/templates/final_notice/letter/de")).json()
    assert shown["origin"] == "shipped"
    assert "Inkasso" in shown["source"]


async def test_a_template_saved_only_in_english_serves_other_languages(
    client: httpx.AsyncClient,
) -> None:
    key = f"custom_{uuid.uuid4().hex[:8]}"
    source = "{% block text %}Dear {{ account_name }}{% endblock %}"
    assert (
        await client.post(f"/templates/{key}/sms/en", json={"source": source})
    ).status_code == 201
    preview = await client.post(
        "/templates/preview",
        json={
            "template_key": key,
            "channel": "sms",
            "locale": "fr",
            "data": {"account_name": "Dupont SA"},
        },
    )
    assert preview.status_code == 200
    assert preview.json() == {"origin": "v1", "parts": {"text": "Dear Dupont SA"}}
