"""``/metrics``: behind its scrape token, requests, audited actions and refusals counted,
and what the database owes read at each scrape, with no person in any of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from tests.support.actors import api_headers, new_key, post_decision, seal, token_for
from tests.support.jose import assertion, token_form

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.keys import GatewayKeys
    from gateway.settings import Settings
    from tests.support.actors import Fund, Prefecture, Register

TOKEN = "scrape-token-of-the-tests"
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def scraped(app_client: Callable[..., TestClient]) -> TestClient:
    return app_client(metrics_token=SecretStr(TOKEN))


def _samples(http: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = http.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_are_off_without_a_token_and_refused_without_the_right_one(
    client: TestClient, scraped: TestClient
) -> None:
    off = client.get("/metrics", headers=SCRAPER)
    assert off.status_code == 401
    assert off.headers["content-type"] == "application/problem+json"
    assert "GATEWAY_METRICS_TOKEN" in off.json()["detail"]
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-of-16-chars"},
        {"Authorization": TOKEN},
    ):
        refused = scraped.get("/metrics", headers=headers)
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"].startswith("Bearer")


def test_requests_actions_and_refusals_are_counted_by_route_and_code(
    scraped: TestClient, settings: Settings, participant: Register
) -> None:
    caller = participant("fund", departements=["75"])
    before = _samples(scraped)
    headers = api_headers(token_for(scraped, settings, caller), caller)
    assert scraped.get("/v1/participants/me", headers=headers).status_code == 200
    forged = scraped.post(
        "/oauth2/token", data=token_form(assertion(settings, caller, key=new_key()))
    )
    assert forged.status_code == 401
    after = _samples(scraped)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    me = {"route": "/v1/participants/me", "method": "GET", "status": "200"}
    assert grew("gateway_http_requests_total", **me) == 1
    assert grew("gateway_http_request_duration_seconds_count", route=me["route"], method="GET") == 1
    assert grew("gateway_audited_actions_total", action="token:issued", outcome="success") == 1
    assert grew("gateway_audited_actions_total", action="token:issued", outcome="refused") == 1
    assert grew("gateway_refusals_total", action="token:issued", problem="invalid-client") == 1
    assert grew("gateway_audited_actions_total", action="participant:read", outcome="success") == 1


def test_what_is_owed_is_read_at_each_scrape_without_a_person(
    scraped: TestClient,
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    post_decision(prefecture, "M-1")
    post_decision(prefecture, "M-2")
    pending = _samples(scraped)
    assert _value(pending, "gateway_database_up") == 1
    owed = {
        dict(labels)["priority_class"]: value
        for (name, labels), value in pending.items()
        if name == "gateway_records_owed"
        and dict(labels)["fund"] == fund.id
        and dict(labels)["state"] == "pending"
    }
    assert sum(owed.values()) == 2
    assert _value(pending, "gateway_oldest_pending_record_age_seconds", fund=fund.id) >= 0
    seal(sessions, gateway_keys, fund_ids=[fund.id])
    sealed = _samples(scraped)
    assert (
        "gateway_oldest_pending_record_age_seconds",
        frozenset({("fund", fund.id)}),
    ) not in sealed
    assert (
        sum(
            value
            for (name, labels), value in sealed.items()
            if name == "gateway_records_owed"
            and dict(labels)["fund"] == fund.id
            and dict(labels)["state"] == "sealed"
        )
        == 2
    )
    text = scraped.get("/metrics", headers=SCRAPER).text
    for personal in ("7512345678", "N'Diaye", "Aïssatou", "M-1"):
        assert personal not in text
