"""deploy/kubernetes: the base and the production overlay, built and validated against the
Kubernetes schemas (kubernetes-validate, strict) and the CloudNativePG fields (a schema of
ours), then checked for what the gateway needs of them."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from gateway import startup
from gateway.keys import GatewayKeys
from gateway.settings import Environment, Settings
from tests.deploy.manifests import (
    BASE,
    GATEWAY_USER_ID,
    PRODUCTION,
    BodyLimits,
    app_body_limits,
    key_of,
    kustomize,
    nginx_size,
    option,
    parse_command,
    pod_spec,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

KUBERNETES_VERSION = "1.31.0"  # native sidecars (restartPolicy: Always) are on from 1.29
CNPG_SCHEMA = Path(__file__).with_name("cnpg.schema.json")
CNPG_GROUP = "postgresql.cnpg.io/"
KUSTOMIZATIONS = {"base": BASE, "production": PRODUCTION}
Resources = dict[tuple[str, str], dict[str, Any]]


@pytest.fixture(scope="module", params=sorted(KUSTOMIZATIONS))
def resources(request: pytest.FixtureRequest) -> Resources:
    return {key_of(r): r for r in kustomize(KUSTOMIZATIONS[request.param])}


@pytest.fixture(scope="module")
def production() -> Resources:
    return {key_of(r): r for r in kustomize(PRODUCTION)}


@pytest.fixture(scope="module")
def cnpg_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(CNPG_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture
def limits(tmp_path: Path, gateway_keys: GatewayKeys, key_dir: Path) -> BodyLimits:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'limits.db'}", key_dir=key_dir)
    return app_body_limits(settings, gateway_keys)


def of_kind(resources: Resources, kind: str) -> list[dict[str, Any]]:
    return [r for (k, _), r in resources.items() if k == kind]


def workloads(resources: Resources) -> list[dict[str, Any]]:
    return [r for r in resources.values() if pod_spec(r) is not None]


def spec_of(resource: dict[str, Any]) -> dict[str, Any]:
    spec = pod_spec(resource)
    assert spec is not None
    return spec


def containers(resource: dict[str, Any]) -> list[dict[str, Any]]:
    spec = spec_of(resource)
    return [*spec.get("initContainers", []), *spec["containers"]]


def main_container(resources: Resources, deployment: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = spec_of(resources["Deployment", deployment])["containers"]
    (container,) = found
    return container


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def pod_labels(resource: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = resource["spec"]["template"]["metadata"]["labels"]
    return labels


# -- schemas -------------------------------------------------------------------------


def test_every_resource_is_valid_kubernetes(resources: Resources) -> None:
    checked = 0
    for resource in resources.values():
        if resource["apiVersion"].startswith(CNPG_GROUP):
            continue
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked >= 15


def test_strict_validation_refuses_a_misplaced_field(production: Resources) -> None:
    deployment = copy.deepcopy(production["Deployment", "gateway-api"])
    spec_of(deployment)["containers"][0]["readOnlyRootFileSystem"] = True  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_cloudnativepg_resources_match_their_schema(
    resources: Resources, cnpg_validator: jsonschema.Draft202012Validator
) -> None:
    found = [r for r in resources.values() if r["apiVersion"].startswith(CNPG_GROUP)]
    assert {r["kind"] for r in found} == {"Cluster", "ScheduledBackup"}
    for resource in found:
        cnpg_validator.validate(resource)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["spec", "instance"], 3),  # misspelled
        (["spec", "backup", "barmanObjectStore", "wal", "compression"], "zip"),
        (["spec", "backup", "retentionPolicy"], "30 days"),
        (["spec", "storage", "size"], "lots"),
    ],
)
def test_the_cloudnativepg_schema_refuses_what_the_operator_would(
    production: Resources,
    cnpg_validator: jsonschema.Draft202012Validator,
    path: list[str],
    value: object,
) -> None:
    cluster = copy.deepcopy(production["Cluster", "gateway-db"])
    target = cluster
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        cnpg_validator.validate(cluster)


def kubectl_with_kustomize_5() -> str:
    """kubectl, if it embeds kustomize 5 or later (what these kustomizations are written for)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the build above is checked on its own")
    version = subprocess.run(
        [kubectl, "version", "--client"], capture_output=True, text=True, check=False
    ).stdout
    found = re.search(r"Kustomize Version: v(\d+)\.", version)
    if found is None or int(found.group(1)) < 5:
        pytest.skip(
            "this kubectl embeds no kustomize 5 (Debian's kubernetes-client is older); "
            "the build above is checked on its own"
        )
    return kubectl


def test_this_build_is_kustomizes() -> None:
    kubectl = kubectl_with_kustomize_5()
    for directory in KUSTOMIZATIONS.values():
        output = subprocess.run(
            [kubectl, "kustomize", str(directory)], check=True, capture_output=True, text=True
        ).stdout
        theirs = {key_of(r): r for r in yaml.safe_load_all(output) if r}
        ours = {key_of(r): r for r in kustomize(directory)}
        assert theirs == ours


# -- pods ----------------------------------------------------------------------------


def test_pods_run_unprivileged_on_a_read_only_root(resources: Resources) -> None:
    assert {r["metadata"]["name"] for r in workloads(resources)} == {
        "gateway-api",
        "gateway-worker",
        "gateway-migrate",
    }
    for workload in workloads(resources):
        spec = spec_of(workload)
        assert spec["automountServiceAccountToken"] is False
        context = spec["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] == GATEWAY_USER_ID
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in containers(workload):
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, container["name"]
            assert security["allowPrivilegeEscalation"] is False, container["name"]
            assert security["capabilities"] == {"drop": ["ALL"]}, container["name"]
            resources_ = container["resources"]
            for kind in ("requests", "limits"):
                assert set(resources_[kind]) == {"cpu", "memory"}, container["name"]


def test_writable_mounts_are_pod_volumes_and_secrets_are_read_only(resources: Resources) -> None:
    for workload in workloads(resources):
        volumes = {v["name"]: v for v in spec_of(workload)["volumes"]}
        for container in containers(workload):
            for mount in container["volumeMounts"]:
                volume = volumes[mount["name"]]
                if not mount.get("readOnly"):
                    assert "emptyDir" in volume, (container["name"], mount["name"])
                if "secret" in volume or "configMap" in volume:
                    assert mount.get("readOnly") is True, (container["name"], mount["name"])
            if container["name"] != "keys":
                paths = {m["mountPath"] for m in container["volumeMounts"]}
                assert "/tmp" in paths, container["name"]  # noqa: S108


def test_every_command_parses_with_the_command_line(resources: Resources) -> None:
    expected = {
        "gateway-api": ("serve",),
        "gateway-worker": ("worker",),
        "gateway-migrate": ("db", "upgrade"),
    }
    for workload in workloads(resources):
        (container,) = spec_of(workload)["containers"]
        assert "command" not in container  # the image's entrypoint: tini, then gateway
        parsed = parse_command(container["args"])
        assert parsed.path == expected[workload["metadata"]["name"]]


def test_the_api_probes_its_health_and_readiness_on_its_port(resources: Resources) -> None:
    api = main_container(resources, "gateway-api")
    (port,) = api["ports"]
    assert str(port["containerPort"]) == option(api["args"], "--port")
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert api["startupProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    service = resources["Service", "gateway-api"]
    assert selects(
        {"matchLabels": service["spec"]["selector"]},
        pod_labels(resources["Deployment", "gateway-api"]),
    )
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]


def test_settings_are_settings_the_gateway_reads(resources: Resources) -> None:
    known = startup.known_variables()
    settings = resources["ConfigMap", "gateway-settings"]["data"]
    for workload in workloads(resources):
        for container in containers(workload):
            names = {e["name"] for e in container.get("env", [])}
            if container.get("envFrom"):
                names |= set(settings)
            assert {n for n in names if n.startswith(startup.PREFIX)} <= known, container["name"]


def test_the_database_url_names_the_cluster_its_owner_and_its_ca(resources: Resources) -> None:
    cluster = resources["Cluster", "gateway-db"]["spec"]
    name = "gateway-db"
    initdb = cluster["bootstrap"]["initdb"]
    for workload in workloads(resources):
        container = spec_of(workload)["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        url = urlsplit(env["GATEWAY_DATABASE_URL"]["value"])
        assert url.scheme == "postgresql+psycopg"
        assert url.hostname == f"{name}-rw"
        assert url.username == initdb["owner"]
        assert url.password is None  # PGPASSWORD, from the operator's Secret
        assert url.path == f"/{initdb['database']}"
        query = parse_qs(url.query)
        assert query["sslmode"] == ["verify-full"]
        assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": f"{name}-app",
            "key": "password",
        }
        volumes = {v["name"]: v for v in spec_of(workload)["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        (ca_file,) = query["sslrootcert"]
        ca_volume = volumes[mounts[str(Path(ca_file).parent)]]["secret"]
        assert ca_volume["secretName"] == f"{name}-ca"
        # Only the CA's certificate: the operator's Secret also holds its private key.
        assert ca_volume["items"] == [{"key": "ca.crt", "path": Path(ca_file).name}]
        Settings(database_url=env["GATEWAY_DATABASE_URL"]["value"])


def test_the_database_has_replicas_and_continuous_backups(resources: Resources) -> None:
    cluster = resources["Cluster", "gateway-db"]["spec"]
    assert cluster["instances"] >= 3
    assert cluster["minSyncReplicas"] >= 1
    assert cluster["affinity"]["podAntiAffinityType"] == "required"
    store = cluster["backup"]["barmanObjectStore"]
    assert store["wal"]["encryption"] == store["data"]["encryption"] == "AES256"
    scheduled = resources["ScheduledBackup", "gateway-db-nightly"]["spec"]
    assert scheduled["cluster"]["name"] == "gateway-db"
    assert scheduled["method"] == "barmanObjectStore"


# -- keys ----------------------------------------------------------------------------


def key_sidecar(resources: Resources, deployment: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = spec_of(resources["Deployment", deployment])["initContainers"]
    (sidecar,) = found
    return sidecar


def test_keys_reach_the_gateway_through_a_memory_volume_it_owns(resources: Resources) -> None:
    scripts = set()
    for deployment in ("gateway-api", "gateway-worker"):
        spec = spec_of(resources["Deployment", deployment])
        volumes = {v["name"]: v for v in spec["volumes"]}
        sidecar = key_sidecar(resources, deployment)
        assert sidecar["restartPolicy"] == "Always"  # a native sidecar: it keeps watching
        assert volumes["keys"]["emptyDir"]["medium"] == "Memory"
        secret = volumes["keys-secret"]["secret"]
        assert secret["secretName"] == "gateway-keys"
        assert secret["defaultMode"] & 0o007 == 0  # nothing for others
        gateway = spec["containers"][0]
        mounts = {m["name"]: m for m in gateway["volumeMounts"]}
        assert mounts["keys"] == {
            "name": "keys",
            "mountPath": "/etc/gateway/keys",
            "readOnly": True,
        }
        assert "keys-secret" not in mounts
        scripts.add(sidecar["args"][0])
    assert len(scripts) == 1  # the same copy in both


@pytest.fixture
def running_sidecar(
    production: Resources, tmp_path: Path
) -> Iterator[tuple[Path, Path, subprocess.Popen[bytes]]]:
    """The key sidecar's script, run by ``sh`` on an archive of production keys."""
    sidecar = key_sidecar(production, "gateway-api")
    keys = tmp_path / "made"
    GatewayKeys.init(keys, Environment.PRODUCTION)
    archive = tmp_path / "secret" / "keys.tar"
    archive.parent.mkdir()
    with tarfile.open(archive, "w") as tar:
        tar.add(keys, arcname=".")
    copied = tmp_path / "memory"
    copied.mkdir()
    process = subprocess.Popen(
        [*sidecar["command"], sidecar["args"][0]],
        env={
            "PATH": "/usr/bin:/bin",
            "KEYS_ARCHIVE": str(archive),
            "GATEWAY_KEY_DIR": str(copied),
            "KEYS_CHECK_SECONDS": "0.2",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield keys, copied, process
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def wait_for(condition: Any, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_key_sidecar_copies_keys_production_accepts_and_follows_a_rotation(
    running_sidecar: tuple[Path, Path, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    made, copied, process = running_sidecar
    wait_for(lambda: (copied / "keyring.json").exists() or process.poll() is not None)
    assert process.poll() is None, process.stderr.read() if process.stderr else ""
    loaded = GatewayKeys.load(copied)
    loaded.check_production(copied)  # every private file 0600: production starts on them
    assert {e.kid for e in loaded.entries} == {e.kid for e in GatewayKeys.load(made).entries}
    assert not list(copied.glob(".incoming.*"))
    # A rotation on the operator's side, then the Secret updated: the copy follows.
    (added,) = GatewayKeys.rotate(made, uses=[next(iter({e.use for e in loaded.entries}))])
    archive = tmp_path / "secret" / "keys.tar"
    fresh = tmp_path / "secret" / "keys.tar.new"
    with tarfile.open(fresh, "w") as tar:
        tar.add(made, arcname=".")
    fresh.replace(archive)
    wait_for(lambda: added.kid in (copied / "keyring.json").read_text())
    reloaded = GatewayKeys.load(copied)
    reloaded.check_production(copied)
    assert added.kid in {e.kid for e in reloaded.entries}


# -- scaling, disruptions, ingress -----------------------------------------------------


def test_the_autoscaler_and_the_budget_cover_the_api(resources: Resources) -> None:
    api = resources["Deployment", "gateway-api"]
    (hpa,) = of_kind(resources, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "gateway-api",
    }
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    (budget,) = of_kind(resources, "PodDisruptionBudget")
    assert selects(budget["spec"]["selector"], pod_labels(api))
    assert budget["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    assert api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert "replicas" not in api["spec"]  # the autoscaler's to set; an apply must not reset it


def test_every_ingress_is_tls_and_routes_to_the_api_service(resources: Resources) -> None:
    service = resources["Service", "gateway-api"]
    port_names = {p["name"] for p in service["spec"]["ports"]}
    for ingress in of_kind(resources, "Ingress"):
        spec = ingress["spec"]
        (tls,) = spec["tls"]
        for rule in spec["rules"]:
            assert rule["host"] in tls["hosts"]
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] == "gateway-api"
                assert backend["port"]["name"] in port_names


def test_ingress_body_limits_are_the_gateways(resources: Resources, limits: BodyLimits) -> None:
    routed: dict[str, int] = {}
    for ingress in of_kind(resources, "Ingress"):
        annotations = ingress["metadata"]["annotations"]
        size = annotations.get("nginx.ingress.kubernetes.io/proxy-body-size")
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                if size is None:
                    continue
                routed[path["path"]] = nginx_size(size)
                if path["pathType"] == "Exact":
                    assert nginx_size(size) == limits.of(path["path"]), path["path"]
    assert routed["/"] == limits.default
    for path, limit in limits.larger.items():
        assert routed.get(path) == limit, f"no Ingress gives {path} its {limit} bytes"


def test_the_production_overlay_sets_its_namespace_host_and_image(production: Resources) -> None:
    namespace = production["Namespace", "residence-gateway"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for (kind, _), resource in production.items():
        if kind != "Namespace":
            assert resource["metadata"]["namespace"] == "residence-gateway", kind
    hosts = {r["host"] for i in of_kind(production, "Ingress") for r in i["spec"]["rules"]}
    base_url = production["ConfigMap", "gateway-settings"]["data"]["GATEWAY_PUBLIC_BASE_URL"]
    assert hosts == {urlsplit(base_url).hostname}
    images = {c["image"] for w in workloads(production) for c in containers(w)}
    assert images == {"registry.example/residence-gateway:1.0.0"}


# -- network policies ------------------------------------------------------------------


def policies_for(resources: Resources, labels: dict[str, str]) -> list[dict[str, Any]]:
    return [
        p["spec"]
        for p in of_kind(resources, "NetworkPolicy")
        if selects(p["spec"]["podSelector"], labels)
    ]


def egress_ports(resources: Resources, labels: dict[str, str]) -> set[tuple[str, int]]:
    """What a pod may reach: (the peer, as DB, DNS or an address block; the port)."""
    reached = set()
    for spec in policies_for(resources, labels):
        for rule in spec.get("egress", []):
            for peer in rule["to"]:
                if peer.get("podSelector", {}).get("matchLabels", {}).get("cnpg.io/cluster"):
                    what = "database"
                elif peer.get("podSelector", {}).get("matchLabels", {}).get("k8s-app"):
                    what = "dns"
                else:
                    what = peer["ipBlock"]["cidr"]
                reached |= {(what, int(p["port"])) for p in rule["ports"]}
    return reached


def test_every_gateway_pod_is_under_a_default_deny(resources: Resources) -> None:
    for workload in workloads(resources):
        specs = policies_for(resources, pod_labels(workload))
        assert any(
            set(s["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in s for s in specs
        )


def test_the_api_reaches_only_the_database_and_dns(resources: Resources) -> None:
    api = pod_labels(resources["Deployment", "gateway-api"])
    assert egress_ports(resources, api) == {("database", 5432), ("dns", 53)}
    migrate = pod_labels(resources["Job", "gateway-migrate"])
    assert egress_ports(resources, migrate) == {("database", 5432), ("dns", 53)}


def test_the_worker_also_reaches_push_endpoints_on_443(resources: Resources) -> None:
    worker = pod_labels(resources["Deployment", "gateway-worker"])
    assert egress_ports(resources, worker) == {
        ("database", 5432),
        ("dns", 53),
        ("0.0.0.0/0", 443),
        ("::/0", 443),
    }


def test_the_database_takes_connections_from_the_gateway_pods(resources: Resources) -> None:
    database = {"cnpg.io/cluster": "gateway-db"}
    (spec,) = policies_for(resources, database)
    allowed = [
        peer["podSelector"]
        for rule in spec["ingress"]
        for peer in rule["from"]
        if "podSelector" in peer and {"port": 5432, "protocol": "TCP"} in rule["ports"]
    ]
    for workload in workloads(resources):
        assert any(selects(s, pod_labels(workload)) for s in allowed)
