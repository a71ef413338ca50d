"""deploy/container/Containerfile and .dockerignore, read without a container engine."""

from __future__ import annotations

import fnmatch
import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from gateway import console, startup
from tests.deploy.manifests import (
    GATEWAY_USER_ID,
    ROOT,
    CommandLineError,
    Instruction,
    containerfile,
    env_of,
    option,
    parse_command,
)

SECRET_NAMES = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE|_KEY$", re.IGNORECASE)


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return containerfile()


def final(instructions: list[Instruction], keyword: str) -> list[Instruction]:
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.keyword == keyword and i.stage == last]


def dockerignore_excludes(path: str) -> bool:
    """Whether the root .dockerignore keeps ``path`` (relative, with /) out of the context.

    The last matching pattern wins; ``!`` re-includes; a pattern matches the path or any
    of its parent directories, as Docker's and Podman's do."""
    excluded = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.removeprefix("!").rstrip("/").removeprefix("**/")
        deep = line.removeprefix("!").startswith("**/")
        for prefix in prefixes:
            candidates = [prefix, prefix.rsplit("/", 1)[-1]] if deep else [prefix]
            if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
                excluded = not negated
                break
    return excluded


def test_every_copy_source_exists_in_the_build_context(instructions: list[Instruction]) -> None:
    copies = [i for i in instructions if i.keyword == "COPY" and "from" not in i.flags()]
    assert copies
    for instruction in copies:
        *sources, _destination = instruction.words()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
            assert not dockerignore_excludes(source), f"COPY {source}: .dockerignore leaves it out"


def test_copies_from_stages_name_stages_that_exist(instructions: list[Instruction]) -> None:
    stages = {i.words()[-1] for i in instructions if i.keyword == "FROM" and " AS " in i.arguments}
    froms = [i.flags()["from"] for i in instructions if i.keyword == "COPY" and "from" in i.flags()]
    assert froms
    assert set(froms) <= stages


def test_the_image_ships_the_files_the_console_serves(instructions: list[Instruction]) -> None:
    """The console refuses to start without its vendored files: the image copies each
    folder it reads from the pinned packages, where its setting points."""
    vendor_dir = env_of(instructions)["GATEWAY_CONSOLE_VENDOR_DIR"]
    shipped = {
        words[-1]: words[0]
        for words in (i.words() for i in final(instructions, "COPY"))
        if len(words) == 2
    }
    for inside in console.VENDORED.values():
        assert shipped.get(f"{vendor_dir}/{inside}") == f"/src/node_modules/{inside}", inside
    npm = [i for i in instructions if i.keyword == "RUN" and "npm ci" in i.arguments]
    assert len(npm) == 1
    assert "--ignore-scripts" in npm[0].arguments  # the packages' built files, as published


def test_the_context_leaves_out_keys_databases_and_the_environment() -> None:
    for path in ["var/keys/keyring.json", "var/gateway.db", ".venv/bin/python", ".git/config",
                 "tests/conftest.py", ".env", "deploy/compose/.env"]:  # fmt: skip
        assert dockerignore_excludes(path), path
    for path in ["gateway/app.py", "policies/default.yaml", "requirements.lock"]:
        assert not dockerignore_excludes(path), path
    assert dockerignore_excludes("gateway/__pycache__/app.cpython-311.pyc")


def test_dependencies_install_from_the_lock_with_their_hashes(
    instructions: list[Instruction],
) -> None:
    runs = [i.arguments for i in instructions if i.keyword == "RUN"]
    locked = [r for r in runs if "requirements.lock" in r]
    assert locked
    assert all("--require-hashes" in r for r in locked)
    # Every later install takes only those checked wheels: nothing from an index.
    installs = [r for r in runs if "pip install" in r and "requirements.lock" not in r]
    assert installs
    assert all("--no-index" in r for r in installs)


def test_it_runs_as_an_unprivileged_user(instructions: list[Instruction]) -> None:
    (user,) = final(instructions, "USER")
    uid, _, gid = user.arguments.partition(":")
    assert int(uid) == GATEWAY_USER_ID
    assert int(gid) == GATEWAY_USER_ID
    made = " ".join(i.arguments for i in final(instructions, "RUN"))
    assert f"--uid {GATEWAY_USER_ID}" in made
    assert f"--gid {GATEWAY_USER_ID}" in made


def test_the_command_is_a_gateway_command_line(instructions: list[Instruction]) -> None:
    (entrypoint,) = final(instructions, "ENTRYPOINT")
    (cmd,) = final(instructions, "CMD")
    program = entrypoint.exec_form()
    assert program[-1] == "gateway"
    arguments = cmd.exec_form()
    parsed = parse_command(arguments)
    assert parsed.path == ("serve",)
    assert parsed.params["host"] == "0.0.0.0"  # noqa: S104 - inside the container's network
    # The parser refuses what the gateway would: the check is not an echo.
    with pytest.raises(CommandLineError):
        parse_command([*arguments, "--threads", "2"])


def test_the_healthcheck_asks_the_served_port_for_healthz(instructions: list[Instruction]) -> None:
    (healthcheck,) = final(instructions, "HEALTHCHECK")
    (cmd,) = final(instructions, "CMD")
    (expose,) = final(instructions, "EXPOSE")
    port = option(cmd.exec_form(), "--port")
    probe = " ".join(healthcheck.exec_form())
    assert f"http://127.0.0.1:{port}/healthz" in probe
    assert expose.arguments == port


def test_its_settings_are_settings_the_gateway_reads(instructions: list[Instruction]) -> None:
    env = env_of(instructions)
    gateway = {name for name in env if name.startswith(startup.PREFIX)}
    assert gateway
    assert gateway <= startup.known_variables()
    assert env["GATEWAY_ENVIRONMENT"] == "production"


def test_nothing_secret_is_baked_in(instructions: list[Instruction]) -> None:
    env = env_of(instructions)
    assert not [name for name in env if SECRET_NAMES.search(name)]
    copied = [w for i in instructions if i.keyword == "COPY" for w in i.words()[:-1]]
    assert not [c for c in copied if "key" in c.lower() or c.endswith((".pem", ".env"))]
    args = [i.arguments for i in instructions if i.keyword == "ARG"]
    assert not [a for a in args if SECRET_NAMES.search(a.split("=")[0])]


def test_writable_paths_are_volumes_and_the_rest_can_be_read_only(
    instructions: list[Instruction],
) -> None:
    env = env_of(instructions)
    (volume,) = final(instructions, "VOLUME")
    assert env["GATEWAY_AUDIT_SPOOL_DIR"] in volume.exec_form()
    made = " ".join(i.arguments for i in final(instructions, "RUN"))
    # The spool and the key directory belong to the gateway's user, mode 0700.
    assert re.search(r"-o gateway -g gateway -m 0700 " + re.escape(env["GATEWAY_KEY_DIR"]), made)
    assert env["GATEWAY_AUDIT_SPOOL_DIR"] in made
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    # The policy default is in the image, where a mounted policy replaces it.
    assert Path(env["GATEWAY_POLICY_FILE"]).parent.as_posix() == "/etc/gateway/policy"


def test_the_image_runs_under_an_init_that_forwards_signals(
    instructions: list[Instruction],
) -> None:
    (entrypoint,) = final(instructions, "ENTRYPOINT")
    assert entrypoint.exec_form()[:2] == ["tini", "--"]
    installed = " ".join(i.arguments for i in final(instructions, "RUN"))
    assert "install" in installed
    assert "tini" in installed


def test_the_containerfile_reader_reads_continuations(tmp_path: Path) -> None:
    path = tmp_path / "Containerfile"
    path.write_text(
        "FROM a AS b\n# note\nRUN one \\\n    # inside\n    && two\nCOPY --from=b /x /y\n"
    )
    (first, run, copy) = containerfile(path)
    assert first.keyword == "FROM"
    assert run.arguments == "one && two"
    assert copy.flags() == {"from": "b"}
    assert copy.words() == ["/x", "/y"]


def locked_versions() -> dict[str, str]:
    pins = re.findall(
        r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", (ROOT / "requirements.lock").read_text(), re.MULTILINE
    )
    return {canonicalize_name(name): version for name, version in pins}


def runtime_closure() -> set[str]:
    """The gateway's dependencies and theirs, extras and markers evaluated, as installed."""
    found: set[tuple[str, frozenset[str]]] = set()
    todo: list[tuple[str, frozenset[str]]] = [("residence-gateway", frozenset())]
    while todo:
        name, extras = todo.pop()
        for raw in metadata.requires(name) or []:
            requirement = Requirement(raw)
            wanted = [{"extra": e} for e in extras] or [{"extra": ""}]
            if requirement.marker is not None and not any(
                requirement.marker.evaluate(w) for w in wanted
            ):
                continue
            key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
            if key not in found:
                found.add(key)
                todo.append((requirement.name, key[1]))
    return {name for name, _ in found}


def test_the_images_install_finds_every_runtime_dependency_locked() -> None:
    """Stage 2 installs with ``--no-index`` from the locked wheels alone: every runtime
    dependency must be pinned there, at the version these tests run with; the development
    tools stay out of the image."""
    locked = locked_versions()
    runtime = runtime_closure()
    assert {"fastapi", "sqlalchemy", "psycopg", "uvicorn", "cryptography"} <= runtime
    assert runtime <= set(locked), sorted(runtime - set(locked))
    for name in runtime:
        assert metadata.version(name) == locked[name], name
    assert not runtime & {"pytest", "mypy", "ruff", "hypothesis", "kubernetes-validate"}
