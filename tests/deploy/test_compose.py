"""deploy/compose: the pilot's services, their commands, and nginx's limits and headers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from gateway import startup
from gateway.settings import Settings
from gateway.web import REQUEST_ID
from tests.deploy.manifests import (
    COMPOSE,
    DEPLOY,
    Block,
    BodyLimits,
    app_body_limits,
    env_file,
    nginx_config,
    nginx_size,
    option,
    parse_command,
)

if TYPE_CHECKING:
    from pathlib import Path

    from gateway.keys import GatewayKeys

GATEWAY_SERVICES = {"migrate", "api-1", "api-2", "worker"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


@pytest.fixture(scope="module")
def https_server() -> Block:
    servers = nginx_config().children("server")
    (server,) = [s for s in servers if any("ssl" in v for v in s.values("listen"))]
    return server


@pytest.fixture
def limits(tmp_path: Path, gateway_keys: GatewayKeys, key_dir: Path) -> BodyLimits:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'limits.db'}", key_dir=key_dir)
    return app_body_limits(settings, gateway_keys)


def api_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services.items() if s.get("command", [None])[0] == "serve"}


def test_the_pilot_has_its_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"db", "proxy", *GATEWAY_SERVICES}
    assert len(api_services(services)) >= 2


def test_every_gateway_command_parses_with_the_command_line(
    services: dict[str, dict[str, Any]],
) -> None:
    expected = {"migrate": ("db", "upgrade"), "worker": ("worker",)}
    for name in GATEWAY_SERVICES:
        parsed = parse_command(services[name]["command"])
        assert parsed.path == expected.get(name, ("serve",)), name


def test_migrations_run_once_before_the_api_and_the_worker(
    services: dict[str, dict[str, Any]],
) -> None:
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    for name in GATEWAY_SERVICES - {"migrate"}:
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }


def test_gateway_containers_are_read_only_unprivileged_and_keep_keys_read_only(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in GATEWAY_SERVICES:
        service = services[name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert any(t.split(":")[0] == "/tmp" for t in service["tmpfs"])  # noqa: S108, name
        volumes = service["volumes"]
        assert "./keys:/etc/gateway/keys:ro" in volumes, name
        assert "./policy:/etc/gateway/policy:ro" in volumes, name


def test_only_the_api_keeps_the_images_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name in GATEWAY_SERVICES:
        kept = "healthcheck" not in services[name]
        assert kept == (name in api_services(services)), name
    assert services["proxy"]["depends_on"] == {
        name: {"condition": "service_healthy"} for name in api_services(services)
    }


def test_each_api_replica_has_its_own_audit_spool(services: dict[str, dict[str, Any]]) -> None:
    spools = [
        volume.split(":")[0]
        for service in api_services(services).values()
        for volume in service["volumes"]
        if volume.endswith(":/var/lib/gateway/audit-spool")
    ]
    assert len(spools) == len(api_services(services))
    assert len(set(spools)) == len(spools)


def test_only_the_proxy_publishes_ports_and_the_backend_is_internal(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    assert [n for n, s in services.items() if "ports" in s] == ["proxy"]
    assert compose["networks"]["backend"]["internal"] is True
    assert "egress" in services["worker"]["networks"]
    assert [n for n, s in services.items() if "edge" in s.get("networks", [])] == ["proxy"]


def test_the_settings_given_are_settings_the_gateway_reads(
    services: dict[str, dict[str, Any]],
) -> None:
    known = startup.known_variables()
    given = set(env_file(DEPLOY / "compose" / "gateway.env.example"))
    for name in GATEWAY_SERVICES:
        given |= set(services[name]["environment"])
    assert {n for n in given if n.startswith(startup.PREFIX)} <= known
    # The database URL parses as the gateway's settings want it.
    url = services["api-1"]["environment"]["GATEWAY_DATABASE_URL"]
    assert Settings(database_url=url).database_url == url


def test_the_proxy_sends_to_every_api_replica_on_its_port(
    services: dict[str, dict[str, Any]],
) -> None:
    (upstream,) = nginx_config().children("upstream")
    servers = {value[0] for value in upstream.values("server")}
    expected = {f"{n}:{option(s['command'], '--port')}" for n, s in api_services(services).items()}
    assert servers == expected


def test_the_proxy_body_limits_are_the_gateways(https_server: Block, limits: BodyLimits) -> None:
    default = https_server.value("client_max_body_size")
    assert default is not None
    assert nginx_size(default) == limits.default
    exact = {
        block.name[2]: block
        for block in https_server.children("location")
        if block.name[1:2] == ["="]
    }
    for path, limit in limits.larger.items():
        assert path in exact, f"the proxy has no location = {path} for its {limit} bytes"
    for path, block in exact.items():
        size = block.value("client_max_body_size")
        effective = nginx_size(size) if size is not None else limits.default
        assert effective == limits.of(path), path


def test_the_proxy_streams_large_uploads_and_the_status_stream(
    https_server: Block, limits: BodyLimits
) -> None:
    exact = {b.name[2]: b for b in https_server.children("location") if b.name[1:2] == ["="]}
    # Uploads past a few tens of megabytes go to the gateway as they arrive, not to disk.
    streamed = [p for p, limit in limits.larger.items() if limit > 64 * 1024**2]
    assert streamed
    for path in [*streamed, "/v1/status-checks/stream"]:
        assert exact[path].value("proxy_request_buffering") == "off", path
    assert exact["/v1/status-checks/stream"].value("proxy_buffering") == "off"
    assert exact["/metrics"].value("return") == "404"


def test_the_proxy_sets_the_headers_the_gateway_reads(https_server: Block) -> None:
    headers = {v[0].lower(): v[1] for v in https_server.values("proxy_set_header")}
    assert headers["x-forwarded-for"] == "$remote_addr"
    assert headers["x-forwarded-proto"] == "$scheme"
    assert headers["x-forwarded-host"] == "$host"
    assert headers["x-request-id"] == "$gateway_request_id"
    (request_ids,) = [
        m for m in nginx_config().children("map") if m.name[-1] == headers["x-request-id"]
    ]
    (kept, made) = request_ids.directives
    # The client's id is kept exactly when the gateway would keep it.
    assert kept == [f"~{REQUEST_ID.pattern}", "$http_x_request_id"]
    assert made == ["default", "$request_id"]


def test_the_proxy_speaks_only_tls_1_2_and_up_and_redirects_http(https_server: Block) -> None:
    assert https_server.values("ssl_protocols") == [["TLSv1.2", "TLSv1.3"]]
    assert ["Strict-Transport-Security", "max-age=63072000", "always"] in https_server.values(
        "add_header"
    )
    (plain,) = [s for s in nginx_config().children("server") if ["80"] in s.values("listen")]
    assert plain.value("return") == "308 https://$host$request_uri"


def test_the_proxy_logs_no_path_or_query() -> None:
    (log_format,) = nginx_config().values("log_format")
    text = " ".join(log_format)
    assert not re.search(r"\$(request|uri|request_uri|args|query_string)\b", text)
    assert "$gateway_request_id" in text


def test_the_nginx_reader_refuses_unbalanced_braces(tmp_path: Path) -> None:
    path = tmp_path / "broken.conf"
    path.write_text("server { listen 80;\n")
    with pytest.raises(AssertionError, match="unbalanced"):
        nginx_config(path)
