"""RFC 9457 problem documents, as the gateway answers a refusal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx2

PROBLEM_JSON = "application/problem+json"


def problem(
    response: httpx2.Response,
    status: int,
    slug: str | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    """A problem document with ``status``, of type ``slug`` and saying ``detail`` if given."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    if slug is not None:
        assert body["type"] == f"/problems/{slug}", body
    if detail is not None:
        assert detail in body["detail"], body["detail"]
    return body


def field_problem(response: httpx2.Response, status: int, field: str, rule: str) -> dict[str, Any]:
    """A problem document whose errors name ``field`` and ``rule``."""
    body = problem(response, status)
    assert {"field": field, "rule": rule} in [
        {"field": error["field"], "rule": error["rule"]} for error in body["errors"]
    ], body
    return body
