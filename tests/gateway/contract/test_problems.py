"""Every problem type the code can emit resolves to a page: ``/problems/<slug>``.

The slugs are found in the code itself: ``slug=`` arguments and ``slug`` class attributes,
the OAuth error codes ``OAuthError`` turns into slugs, and ``/problems/...`` literals; with
``http-<status>`` for the web framework's own answers. A new slug without an entry in
``gateway/contract/problems.py`` fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gateway.contract.problems import CATALOGUE
from tests.support.problems import problem

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

GATEWAY = Path(__file__).resolve().parents[3] / "gateway"
LITERAL = re.compile(r"^/problems/([a-z0-9-]+)$")


def _class_slug(node: ast.ClassDef) -> str | None:
    for statement in node.body:
        targets = (
            statement.targets
            if isinstance(statement, ast.Assign)
            else [statement.target]
            if isinstance(statement, ast.AnnAssign)
            else []
        )
        value = getattr(statement, "value", None)
        named = any(isinstance(target, ast.Name) and target.id == "slug" for target in targets)
        if named and isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
    return None


def _slug_of(node: ast.AST) -> str | None:
    """The slug (or, ending in ``-``, the slug prefix) this node emits, if any."""
    if isinstance(node, ast.keyword) and node.arg == "slug":
        value = node.value
        return (
            value.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str)
            else None
        )
    if isinstance(node, ast.ClassDef):
        return _class_slug(node)
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "OAuthError":
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value.replace("_", "-")
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        literal = LITERAL.match(node.value)
        return literal.group(1) if literal else None
    return None


def _slugs_in(tree: ast.Module) -> set[str]:
    return {slug for node in ast.walk(tree) if isinstance(slug := _slug_of(node), str)}


def emitted_slugs() -> set[str]:
    found: set[str] = set()
    for path in GATEWAY.rglob("*.py"):
        found |= _slugs_in(ast.parse(path.read_text(encoding="utf-8")))
    return found


def test_the_scan_finds_the_slugs_of_each_kind() -> None:
    found = emitted_slugs()
    # a class attribute, a slug= argument, an OAuth error code, a literal type URI
    assert {
        "rate-limited",
        "on-behalf-of-required",
        "invalid-client",
        "not-ready",
        "http-",
    } <= found
    assert {"internal-error", "invalid-request", "invalid-receipt", "insufficient-scope"} <= found
    assert len(found) >= 30


# "http-" is the prefix of f"/problems/http-{status}": the web framework's 404 and 405.
SLUGS = sorted(
    {slug for slug in emitted_slugs() if not slug.endswith("-")}
    | {"invalid-request", "internal-error", "http-404", "http-405"}
)


@pytest.mark.parametrize("slug", SLUGS)
def test_every_slug_the_code_emits_resolves(client: TestClient, slug: str) -> None:
    response = client.get(f"/problems/{slug}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<h1>" in page
    assert f"/problems/{slug}" in page
    assert "When it happens" in page
    assert "What to do" in page
    assert "<script" not in page
    assert "http://" not in page.replace('href="/openapi.json"', "")
    assert "https://" not in page


def test_the_catalogue_holds_no_slug_the_code_cannot_emit() -> None:
    assert set(CATALOGUE) <= set(SLUGS), set(CATALOGUE) - set(SLUGS)


def test_a_page_says_the_status_of_its_problem(client: TestClient) -> None:
    page = client.get("/problems/rate-limited").text
    assert "429" in page
    assert "Retry-After" in page
    described = client.get("/problems/http-405", headers={"Accept": "application/json"})
    assert described.status_code == 200
    assert described.json()["status"] == 405
    assert described.json()["type"] == "/problems/http-405"


def test_the_type_a_refusal_carries_resolves(client: TestClient) -> None:
    refused = client.get("/v1/batches")
    body = problem(refused, 401, "unauthenticated")
    page = client.get(body["type"])
    assert page.status_code == 200
    assert "Authentication required" in page.text


@pytest.mark.parametrize("slug", ["no-such-problem", "http-200", "http-999", "http-abc"])
def test_an_unknown_slug_is_a_404_problem(client: TestClient, slug: str) -> None:
    problem(client.get(f"/problems/{slug}"), 404, "not-found", slug)


def test_a_malformed_slug_is_a_400_problem(client: TestClient) -> None:
    problem(client.get("/problems/Not_A_Slug"), 400, "invalid-request")
