"""Reading ``deploy/`` as the tools that use it would: the Containerfile, the compose
file, nginx's configuration, the Kubernetes kustomizations and the systemd units; and the
gateway command lines they hold, parsed by the gateway's own command line."""

from __future__ import annotations

import copy
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import typer
import yaml

from gateway.app import create_app
from gateway.cli.main import app as cli_app
from gateway.keys import GatewayKeys
from gateway.settings import Settings
from gateway.web import BodySizeLimit

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CONTAINERFILE = DEPLOY / "container" / "Containerfile"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
NGINX = DEPLOY / "compose" / "nginx" / "gateway.conf"
KUBERNETES = DEPLOY / "kubernetes"
BASE = KUBERNETES / "base"
PRODUCTION = KUBERNETES / "overlays" / "production"
SYSTEMD = DEPLOY / "systemd"
IMAGE_BINARY = "/opt/gateway/bin/gateway"
GATEWAY_USER_ID = 10001

# -- the gateway's command line ------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """A gateway command line as the CLI understands it: the command's path and options."""

    path: tuple[str, ...]
    params: dict[str, Any]


class CommandLineError(Exception):
    """The gateway's command line would refuse these arguments."""


def parse_command(argv: list[str]) -> Parsed:
    """Parse ``argv`` (without the program name) as ``gateway`` would, running nothing.

    Raises ``CommandLineError`` for an unknown command or option, a missing argument or a
    value of the wrong type.
    """
    try:
        return _parse(argv)
    except Exception as error:
        message = getattr(error, "format_message", None)
        if message is None:
            raise
        raise CommandLineError(message()) from error


def _parse(argv: list[str]) -> Parsed:
    group: Any = typer.main.get_command(cli_app)
    context = group.make_context("gateway", list(argv))
    path: list[str] = []
    command = group
    args = _remaining(context)
    while hasattr(command, "resolve_command"):  # a group of commands
        if not args:
            raise CommandLineError(f"{' '.join(path) or 'gateway'} needs a command")
        name, found, rest = command.resolve_command(context, args)
        if found is None or name is None:
            raise CommandLineError(f"no command {args[0]!r}")
        path.append(name)
        context = found.make_context(name, rest, parent=context)
        command = found
        args = _remaining(context)
    if args:
        raise CommandLineError(f"unexpected arguments {args}")
    return Parsed(tuple(path), dict(context.params))


def _remaining(context: Any) -> list[str]:
    """The words a group's context left for its subcommand (click keeps them apart)."""
    protected = getattr(context, "_protected_args", None)
    return [*(protected or []), *context.args]


def option(argv: list[str], name: str) -> str:
    """The value of ``--name VALUE`` in ``argv``."""
    return argv[argv.index(name) + 1]


# -- the application's own body limits -----------------------------------------------


@dataclass(frozen=True)
class BodyLimits:
    default: int
    larger: dict[str, int]

    def of(self, path: str) -> int:
        return self.larger.get(path, self.default)


def app_body_limits(settings: Settings, keys: GatewayKeys) -> BodyLimits:
    """The limits ``gateway/app.py`` gives its ``BodySizeLimit`` middleware."""
    app = create_app(settings, keys=keys)
    found: list[dict[str, Any]] = [
        dict(m.kwargs) for m in app.user_middleware if cast("object", m.cls) is BodySizeLimit
    ]
    (options,) = found
    return BodyLimits(int(options["max_bytes"]), dict(options["larger"]))


SIZE = re.compile(r"^(\d+)([kKmMgG]?)$")
UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def nginx_size(text: str) -> int:
    """An nginx size (``1m``, ``4096m``, ``32k``) in bytes."""
    match = SIZE.fullmatch(text)
    assert match is not None, f"not an nginx size: {text!r}"
    return int(match.group(1)) * UNITS[match.group(2).lower()]


# -- Containerfile -------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    arguments: str
    stage: int

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form ``CMD``, ``ENTRYPOINT`` or ``HEALTHCHECK CMD``."""
        text = self.arguments
        if self.keyword == "HEALTHCHECK":
            text = text[text.index("CMD") + len("CMD") :]
        parsed = json.loads(text)
        assert isinstance(parsed, list), f"{self.keyword} is not in exec form"
        return [str(part) for part in parsed]

    def flags(self) -> dict[str, str]:
        """The ``--flag=value`` options before the arguments (``COPY --from=build``)."""
        found = {}
        for word in shlex.split(self.arguments):
            if not word.startswith("--"):
                break
            name, _, value = word[2:].partition("=")
            found[name] = value
        return found

    def words(self) -> list[str]:
        return [w for w in shlex.split(self.arguments) if not w.startswith("--")]


def containerfile(path: Path = CONTAINERFILE) -> list[Instruction]:
    """The instructions, continuation lines joined, comments dropped."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        whole = pending + line
        pending = ""
        keyword, _, arguments = whole.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, arguments.strip(), stage))
    assert not pending, "the Containerfile ends on a continuation line"
    return instructions


def env_of(instructions: list[Instruction]) -> dict[str, str]:
    """The final stage's ``ENV`` (``KEY=VALUE`` pairs)."""
    last = max(i.stage for i in instructions)
    found: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "ENV" and instruction.stage == last:
            for word in shlex.split(instruction.arguments):
                name, _, value = word.partition("=")
                found[name] = value
    return found


# -- env files -----------------------------------------------------------------------


def env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines, as systemd's ``EnvironmentFile`` and compose's ``env_file``."""
    found = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a KEY=VALUE line: {line!r}"
        found[name] = value
    return found


# -- nginx ---------------------------------------------------------------------------


@dataclass
class Block:
    """An nginx block: its directives in order and its nested blocks."""

    name: list[str]
    directives: list[list[str]] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)

    def values(self, name: str) -> list[list[str]]:
        return [d[1:] for d in self.directives if d[0] == name]

    def value(self, name: str) -> str | None:
        found = self.values(name)
        return " ".join(found[-1]) if found else None

    def children(self, name: str) -> list[Block]:
        return [b for b in self.blocks if b.name[0] == name]


TOKEN = re.compile(r"""\s*(?:("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|([{};])|([^\s{};"']+))""")


def nginx_config(path: Path = NGINX) -> Block:
    """Parse nginx's configuration format (enough of it for this file)."""
    text = "\n".join(
        line.split("#", 1)[0] if '"' not in line else line for line in path.read_text().splitlines()
    )
    tokens: list[str] = []
    position = 0
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip():
                raise ValueError(
                    f"cannot read nginx configuration at {text[position : position + 40]!r}"
                )
            break
        position = match.end()
        quoted, punctuation, word = match.groups()
        tokens.append(quoted[1:-1] if quoted else punctuation or word)
    root = Block(["main"])
    stack = [root]
    words: list[str] = []
    for token in tokens:
        if token == ";":
            stack[-1].directives.append(words)
            words = []
        elif token == "{":
            block = Block(words)
            stack[-1].blocks.append(block)
            stack.append(block)
            words = []
        elif token == "}":
            assert not words, f"directive without ';' before '}}': {words}"
            stack.pop()
        else:
            words.append(token)
    assert len(stack) == 1, "unbalanced braces"
    return root


# -- Kubernetes: kustomize, as far as these kustomizations use it ----------------------

CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def key_of(resource: dict[str, Any]) -> tuple[str, str]:
    return resource["kind"], resource["metadata"]["name"]


def strategic_merge(target: Any, patch: Any) -> Any:
    """Kubernetes' strategic merge, for what the patches here do: maps merge key by key;
    lists of maps that all have a ``name`` merge item by item on it (containers, env,
    volumes, ports); every other list is replaced."""
    if isinstance(target, dict) and isinstance(patch, dict):
        merged = dict(target)
        for name, value in patch.items():
            merged[name] = strategic_merge(target[name], value) if name in target else value
        return merged
    if _named_items(target) and _named_items(patch):
        merged_items = {item["name"]: item for item in target}
        for item in patch:
            known = merged_items.get(item["name"])
            merged_items[item["name"]] = strategic_merge(known, item) if known else item
        return list(merged_items.values())
    return copy.deepcopy(patch)


def _named_items(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(i, dict) and "name" in i for i in value)
    )


def _containers(resource: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(resource)
    if spec is None:
        return []
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def pod_spec(resource: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec of a workload (Deployment, Job), or None."""
    spec = resource.get("spec", {})
    template = spec.get("template", {})
    found = template.get("spec")
    return found if isinstance(found, dict) else None


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """Build a kustomization: its resources (files and kustomizations), the namespace,
    the images and the strategic-merge patches. Anything else it holds is refused, so this
    build cannot silently differ from kustomize's."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    known = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
    unknown = set(kustomization) - known
    assert not unknown, f"{directory}: this build does not do {sorted(unknown)}"
    resources: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        resources.extend(kustomize(path) if path.is_dir() else load_yaml_documents(path))
    _set_namespace(resources, kustomization.get("namespace"))
    for image in kustomization.get("images", []):
        _set_image(resources, image)
    for entry in kustomization.get("patches", []):
        assert set(entry) == {"path"}, f"only patch files are built here: {entry}"
        for patch in load_yaml_documents(directory / entry["path"]):
            (index,) = [i for i, r in enumerate(resources) if key_of(r) == key_of(patch)]
            resources[index] = strategic_merge(resources[index], patch)
    return resources


def _set_namespace(resources: list[dict[str, Any]], namespace: str | None) -> None:
    if namespace is None:
        return
    for resource in resources:
        if resource["kind"] not in CLUSTER_SCOPED:
            resource["metadata"]["namespace"] = namespace


def _set_image(resources: list[dict[str, Any]], image: dict[str, str]) -> None:
    for resource in resources:
        for container in _containers(resource):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"


def built(directory: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return {key_of(r): r for r in kustomize(directory)}


# -- systemd -------------------------------------------------------------------------


def unit_file(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit's sections, each setting with every value it was given (in order)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: a setting before any section"
        name, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a setting: {line!r}"
        current.setdefault(name.strip(), []).append(value.strip())
    return sections


def gateway_argv(command_line: str) -> list[str]:
    """The gateway's arguments in a unit's command line (``/opt/gateway/bin/gateway ...``)."""
    words = shlex.split(command_line)
    assert words[0] == IMAGE_BINARY, f"not the installed gateway: {words[0]}"
    return words[1:]
