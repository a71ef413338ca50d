"""``deploy/monitoring/``: the Prometheus rules and the Grafana dashboard speak of metrics the
gateway serves, each alert has its runbook and a promtool unit test that fires it, and the
dashboard shows every family of the gateway. (``test_lint.py`` runs yamllint on them.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
ALERTS = MONITORING / "alerts.yaml"
ALERT_TESTS = MONITORING / "alerts.test.yaml"
DASHBOARD = MONITORING / "dashboard.json"
OPERATIONS = ROOT / "docs" / "operations.md"
TOKEN = "scrape-token-of-the-tests"
# Series Prometheus makes itself for each target, not the gateway.
PROMETHEUS_SERIES = {"up"}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
}
KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
}


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression reads: not its functions, labels or keywords."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', "", expression)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\boffset\s+\w+", " ", text)
    text = re.sub(r"(?<![\w:])\d+(\.\d+)?([eE][-+]?\d+)?", " ", text)
    return {
        name
        for name, call in re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?", text)
        if not call and name not in KEYWORDS
    }


def test_metric_names_are_read_from_expressions() -> None:
    expression = (
        'sum by (fund) (rate(gateway_tokens_total{outcome="refused"}[5m])) > 1e-3 '
        "and on () max(gateway_audit_events_queued offset 15m) > 2 * 86400 "
        "unless on (use) up"
    )
    assert metric_names(expression) == {
        "gateway_tokens_total",
        "gateway_audit_events_queued",
        "up",
    }


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    document = json.loads(DASHBOARD.read_text())
    return [
        target["expr"]
        for panel in document["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]


@pytest.fixture
def exposed(app_client: Callable[..., TestClient]) -> dict[str, str]:
    """Every sample name a scrape of the gateway may hold, with its family's name."""
    http = app_client(metrics_token=SecretStr(TOKEN))
    response = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    names: dict[str, str] = {}
    for family in text_string_to_metric_families(response.text):
        if family.name.endswith("_created"):
            continue  # a counter's creation time, parsed as a family of its own
        names[family.name] = family.name
        for suffix in SUFFIXES.get(family.type, ()):
            names[family.name + suffix] = family.name
    return names


def test_alerts_and_dashboard_read_only_metrics_the_gateway_serves(
    exposed: dict[str, str],
) -> None:
    expressions = [rule["expr"] for rule in rules()] + dashboard_expressions()
    read = {name for expression in expressions for name in metric_names(expression)}
    assert read - set(exposed) - PROMETHEUS_SERIES == set()
    # And the dashboard shows every family of the gateway's own.
    shown = {
        exposed[name]
        for expression in dashboard_expressions()
        for name in metric_names(expression)
        if name in exposed
    }
    gateway = {family for family in exposed.values() if family.startswith("gateway_")}
    assert gateway - shown == set()


def test_each_alert_is_well_formed_with_a_runbook_in_the_operations_guide() -> None:
    document = yaml.safe_load(ALERTS.read_text())
    assert {"groups"} == set(document)
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", OPERATIONS.read_text(), re.MULTILINE)
    }
    names = []
    for group in document["groups"]:
        assert set(group) == {"name", "rules"}
        assert group["rules"]
        for rule in group["rules"]:
            assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule
            assert re.fullmatch(r"Gateway[A-Z][A-Za-z]+", rule["alert"])
            assert re.fullmatch(r"\d+[smh]", rule["for"])
            assert rule["labels"]["severity"] in {"warning", "critical"}
            annotations = rule["annotations"]
            assert set(annotations) == {"summary", "description", "runbook"}
            assert len(annotations["description"]) > len(annotations["summary"]) > 20
            page, _, anchor = annotations["runbook"].partition("#")
            assert page == "docs/operations.md"
            assert anchor == rule["alert"].lower()
            assert anchor in anchors, f"no section {rule['alert']} in docs/operations.md"
            names.append(rule["alert"])
    assert len(names) == len(set(names))
    wanted = {
        "GatewayPushFundParked",
        "GatewayBatchUnacknowledged",
        "GatewayExpressRecordsLate",
        "GatewayAuditCheckpointStale",
        "GatewayKeyNearExpiry",
        "GatewaySealingBacklogGrowing",
        "GatewayDatabaseDown",
        "GatewayTokenRefusalsSpiking",
    }
    assert wanted <= set(names)


def test_every_alert_has_a_unit_test_that_fires_it() -> None:
    document = yaml.safe_load(ALERT_TESTS.read_text())
    assert document["rule_files"] == [ALERTS.name]
    fired = {
        case["alertname"]
        for test in document["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert fired == {rule["alert"] for rule in rules()}


def test_the_dashboard_is_a_grafana_dashboard_on_a_chosen_prometheus() -> None:
    document = json.loads(DASHBOARD.read_text())
    assert document["uid"]
    assert document["title"]
    variables = {v["name"]: v for v in document["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in document["panels"]]
    assert len(ids) == len(set(ids))
    for panel in document["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]


def promtool() -> str:
    """The promtool binary (Debian package ``prometheus``; ``make test`` installs it)."""
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is required under CI=true: apt-get install prometheus")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return found


def test_promtool_checks_the_rules_and_runs_their_unit_tests() -> None:
    binary = promtool()
    checked = subprocess.run(
        [binary, "check", "rules", ALERTS.name],
        cwd=MONITORING,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout
    tested = subprocess.run(
        [binary, "test", "rules", ALERT_TESTS.name],
        cwd=MONITORING,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
