"""The layering rules of ``docs/architecture.md``, checked on the code itself.

- ``policies/``, ``audit/`` and ``connectors/`` import no web or database layer and no
  gateway code (the fund's push receiver, an ASGI app of the fund's own, may use a web
  framework); ``audit/`` imports nothing of the packages around it. Checked on the source
  and by importing them in a fresh interpreter.
- In ``gateway/``, every query is in a ``repository.py`` (or in ``storage/``, the
  infrastructure), every table in a ``models.py``; identities do not depend on status
  checks; the ``Caller`` value does not depend on the web layer.
- No territory filter is written by hand: only ``gateway/tenancy.py`` reads a caller's
  territory or the territories table, and repositories scope by the caller through it.
- Every path the README's map names exists; the built wheel holds the product only, and
  ``gateway --help`` lists no lab command.

Each rule is a function of a source root returning its violations, so the tests of the
tests below show each one catching the breach it is for.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app

if TYPE_CHECKING:
    from collections.abc import Iterator

    import typer

ROOT = Path(__file__).resolve().parents[1]
TOP_LEVEL = (
    "gateway",
    "audit",
    "policies",
    "connectors",
    "tests",
    "docs",
    "demo",
    "tools",
    "deploy",
)
WEB = {"fastapi", "starlette", "uvicorn"}
DATABASE = {"sqlalchemy", "alembic", "psycopg"}
LAB = {"demo", "tools"}
FORBIDDEN_IMPORTS = {
    "audit": WEB | DATABASE | LAB | {"gateway", "connectors", "policies", "httpx"},
    "policies": WEB | DATABASE | LAB | {"gateway", "connectors"},
    "connectors": WEB | DATABASE | LAB | {"gateway"},
}
# The fund's push receiver is the fund's own HTTP endpoint: an ASGI app, served by any
# ASGI server. It is the only pure module allowed a web framework.
ALLOWED_WEB = {"connectors/fund/receiver.py": {"fastapi", "starlette"}}
QUERY_METHODS = {"execute", "scalars", "scalar", "get", "get_one", "query", "merge"}
DATABASE_HANDLES = {"session", "connection"}
STATEMENT_BUILDERS = {"select", "insert", "update", "delete", "text", "exists", "union_all"}
STATEMENT_BUILDERS |= {"tuple_", "func"}
# Where SQL may be written: repositories (queries), models (table definitions, which may
# use SQL expressions for defaults and indexes), and the storage layer's infrastructure.
QUERY_HOMES = ("repository.py", "models.py")
INFRASTRUCTURE = ("gateway/storage/",)
BULK_WRITES = "gateway.storage.bulk"  # COPY and chunked IN lists: statements too
TENANCY = "gateway/tenancy.py"
# The caller's scope, read only by tenancy (and by the code that builds the Caller).
SCOPE_ATTRIBUTES = {"territory", "national"}
CALLER_BUILDERS = {"gateway/auth/caller.py", "gateway/auth/dependencies.py"}
# Who may name the territories table: its model, and the service registering participants.
TERRITORY_TABLE = "ParticipantTerritory"
TERRITORY_TABLE_HOMES = {TENANCY, "gateway/participants/models.py"}
TERRITORY_TABLE_HOMES |= {"gateway/participants/service.py"}
# What builds the Caller from a request, which the Caller value must not need.
WEB_SIDE_OF_THE_CALLER = ("gateway.participants.repository", "gateway.routing")
# In a repository, the caller's identity is read through tenancy only.
CALLER_IDENTITY = {"acting_for", "participant_id", "territory", "national"}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.rule}] {self.detail}"


def _sources(root: Path, package: str) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted((root / package).rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        yield relative, ast.parse(path.read_text(encoding="utf-8"), filename=relative)


def _imported(tree: ast.Module) -> Iterator[tuple[int, str, list[str]]]:
    """(line, module, names) of every absolute import, however nested."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module, [alias.name for alias in node.names]


def _handle(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def layering(root: Path) -> list[Violation]:
    """Imports of the pure packages that cross into the web, database, gateway or lab."""
    found = []
    for package, forbidden in FORBIDDEN_IMPORTS.items():
        for path, tree in _sources(root, package):
            allowed = ALLOWED_WEB.get(path, set())
            for line, module, _ in _imported(tree):
                top = module.split(".")[0]
                if top in forbidden - allowed:
                    found.append(Violation(path, line, "layering", f"imports {module}"))
    return found


def queries_outside_repositories(root: Path) -> list[Violation]:
    """Queries and statement builders in gateway modules that are not repositories."""
    found = []
    for path, tree in _sources(root, "gateway"):
        name = path.rsplit("/", 1)[-1]
        if name in QUERY_HOMES or path == TENANCY or path.startswith(INFRASTRUCTURE):
            continue
        for line, module, names in _imported(tree):
            built = sorted(set(names) & STATEMENT_BUILDERS)
            if module.startswith("sqlalchemy") and built:
                found.append(Violation(path, line, "query", f"builds statements ({built})"))
            if module.startswith("sqlalchemy.dialects") or module == BULK_WRITES:
                found.append(Violation(path, line, "query", f"imports {module}"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in QUERY_METHODS
                and _handle(node.func.value) in DATABASE_HANDLES
            ):
                call = f"{_handle(node.func.value)}.{node.func.attr}()"
                found.append(Violation(path, node.lineno, "query", f"runs {call}"))
    return found


def tables_outside_models(root: Path) -> list[Violation]:
    return [
        Violation(path, node.lineno, "table", "defines a table")
        for path, tree in _sources(root, "gateway")
        if not path.endswith("/models.py")
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(
            isinstance(target, ast.Name) and target.id == "__tablename__" for target in node.targets
        )
    ]


def hand_written_scopes(root: Path) -> list[Violation]:
    """Territory rules and caller filters written outside ``gateway/tenancy.py``."""
    found = []
    for path, tree in _sources(root, "gateway"):
        if path == TENANCY:
            continue
        repository = path.endswith("/repository.py")
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == TERRITORY_TABLE:
                if path not in TERRITORY_TABLE_HOMES:
                    found.append(Violation(path, node.lineno, "scope", "uses the territories"))
            elif isinstance(node, ast.Attribute) and _handle(node.value) == "caller":
                if node.attr in SCOPE_ATTRIBUTES and path not in CALLER_BUILDERS:
                    detail = f"reads caller.{node.attr}: scope through gateway.tenancy"
                    found.append(Violation(path, node.lineno, "scope", detail))
                elif repository and node.attr in CALLER_IDENTITY:
                    detail = f"filters by caller.{node.attr}: use gateway.tenancy"
                    found.append(Violation(path, node.lineno, "scope", detail))
    return found


def one_way_dependencies(root: Path) -> list[Violation]:
    """Identities do not need status checks; the Caller value does not need the web layer."""
    found = []
    for path, tree in _sources(root, "gateway/identities"):
        for line, module, _ in _imported(tree):
            if module.startswith("gateway.status"):
                found.append(Violation(path, line, "direction", f"imports {module}"))
    caller = root / "gateway/auth/caller.py"
    if caller.exists():
        tree = ast.parse(caller.read_text(encoding="utf-8"))
        for line, module, _ in _imported(tree):
            top = module.split(".")[0]
            if top in WEB or module.startswith(
                ("gateway.participants.repository", "gateway.routing")
            ):
                detail = f"the Caller value imports {module}"
                found.append(Violation("gateway/auth/caller.py", line, "direction", detail))
    return found


_BACKTICKED = re.compile(r"`([^`\s]+)`")
_PATHLIKE = re.compile(r"[\w./-]+(/|\.(py|md|yaml|jsonl|json|toml|lock))$")


def readme_paths(root: Path) -> list[Violation]:
    """Paths the README names that do not exist.

    Outside the top-level folders, a name is relative to the last path named before it on
    its line (``gateway/status/`` (``service.py``), or ``tests/x/test_a.py``, ``test_b.py``).
    """
    found = []
    for number, line in enumerate((root / "README.md").read_text().splitlines(), 1):
        base = ""
        for token in _BACKTICKED.findall(line):
            if not _PATHLIKE.fullmatch(token):
                continue
            if token.split("/")[0] in TOP_LEVEL or token.startswith(".ci/"):
                path = token
            elif base:
                path = f"{base}/{token}"
            else:
                continue
            if not (root / path).exists():
                found.append(Violation("README.md", number, "map", f"names {path}"))
            if token.split("/")[0] in TOP_LEVEL:
                base = path.rstrip("/") if path.endswith("/") else path.rsplit("/", 1)[0]
    return found


RULES = (
    layering,
    queries_outside_repositories,
    tables_outside_models,
    hand_written_scopes,
    one_way_dependencies,
    readme_paths,
)


@pytest.mark.parametrize("rule", RULES, ids=[rule.__name__ for rule in RULES])
def test_the_code_keeps_the_rule(rule: object) -> None:
    assert callable(rule)
    found = rule(ROOT)
    assert not found, "\n".join(str(violation) for violation in found)


PURE_MODULES = (
    "audit.merkle", "audit.tree", "audit.events", "audit.checkpoints", "audit.verify",
    "audit.pseudonyms", "audit.canonical", "audit.actions", "policies.loader",
    "policies.evaluate", "policies.projection", "policies.register", "connectors.wire",
    "connectors.client", "connectors.importers", "connectors.push", "connectors.fund",
    "connectors.fund.checks",
)  # fmt: skip


def _loaded_by(modules: tuple[str, ...]) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after importing ``modules``."""
    script = "import sys\n" + "".join(f"import {m}\n" for m in modules)
    script += "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_the_pure_packages_load_no_server_code() -> None:
    loaded = _loaded_by(PURE_MODULES)
    assert not loaded & (WEB | DATABASE | LAB | {"gateway"}), sorted(loaded)


def test_the_funds_receiver_loads_a_web_framework_but_no_gateway_code() -> None:
    loaded = _loaded_by(("connectors.fund.receiver",))
    assert "fastapi" in loaded
    assert not loaded & (DATABASE | LAB | {"gateway"}), sorted(loaded)


def test_the_command_line_loads_no_lab_code() -> None:
    assert not _loaded_by(("gateway.cli.main",)) & LAB


def _commands(typer_app: typer.Typer, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(command path, module of its function) of every command, groups included."""
    for command in typer_app.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        module = command.callback.__module__ if command.callback else ""
        yield f"{prefix}{name.replace('_', '-')}", module
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            yield from _commands(group.typer_instance, f"{prefix}{group.name} ")


def test_gateway_help_lists_no_lab_command() -> None:
    commands = dict(_commands(app))
    assert "status make-pairs" not in commands
    assert "demo" not in commands
    assert all(module.startswith("gateway.") for module in commands.values()), commands
    for args in (["--help"], ["status", "--help"]):
        result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "make-pairs" not in result.output
        assert " demo " not in result.output


@pytest.mark.slow
def test_the_built_wheel_holds_the_product_only(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("gateway", "audit", "policies", "connectors", "demo", "tools"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-q", "-w", str(tmp_path / "dist"), str(source)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packages = {
        name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")
    }
    assert packages == {"gateway", "audit", "policies", "connectors"}
    assert "policies/default.yaml" in names
    assert {
        "gateway/contract/schemas/batch-payload.json",
        "gateway/contract/schemas/receipt.json",
    } <= set(names)
    assert not [name for name in names if "pair" in name.rsplit("/", 1)[-1]]


# -- the tests of the tests: each rule catches the breach it is for ---------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for package in ("gateway", "audit", "policies", "connectors"):
        (root / package).mkdir(exist_ok=True)
    (root / "README.md").touch()
    return root


CLEAN = {
    "audit/merkle.py": "import hashlib\n",
    "connectors/fund/receiver.py": "from fastapi import FastAPI\n",
    "gateway/batches/repository.py": (
        "from sqlalchemy import select\n"
        "from gateway import tenancy\n"
        "def batches(session, caller):\n"
        "    mine = tenancy.fund_rows(caller, Batch.fund_id)\n"
        "    return session.scalars(select(Batch).where(mine))\n"
    ),
    "gateway/batches/models.py": "class Batch(Base):\n    __tablename__ = 'batches'\n",
    "gateway/batches/service.py": "def total(rows):\n    return {'n': len(rows)}\n",
    "gateway/tenancy.py": "def covering(caller):\n    return caller.territory\n",
    "README.md": "| batches | `gateway/batches/` (`repository.py`, `models.py`) |\n",
}


def test_a_clean_tree_breaks_no_rule(tmp_path: Path) -> None:
    root = _tree(tmp_path, CLEAN)
    assert [violation for rule in RULES for violation in rule(root)] == []


@pytest.mark.parametrize(
    ("rule", "path", "text", "expected"),
    [
        (layering, "audit/merkle.py", "import sqlalchemy\n", "imports sqlalchemy"),
        (layering, "audit/verify.py", "from gateway.auditlog import service\n", "gateway"),
        (layering, "policies/loader.py", "from fastapi import Request\n", "fastapi"),
        (layering, "connectors/fund/pull.py", "from gateway.auth.dpop import x\n", "gateway"),
        (layering, "connectors/client.py", "def f():\n    import tools.x\n", "tools.x"),
        (layering, "connectors/fund/verify.py", "import starlette\n", "starlette"),
        (
            queries_outside_repositories,
            "gateway/batches/service.py",
            "from sqlalchemy import select\n",
            "builds statements",
        ),
        (
            queries_outside_repositories,
            "gateway/batches/router.py",
            "def f(session):\n    return session.get(Batch, 1)\n",
            "session.get()",
        ),
        (
            queries_outside_repositories,
            "gateway/jobs.py",
            "from sqlalchemy.dialects import postgresql\n",
            "sqlalchemy.dialects",
        ),
        (
            queries_outside_repositories,
            "gateway/imports/runner.py",
            "from gateway.storage.bulk import insert_rows\n",
            "gateway.storage.bulk",
        ),
        (
            tables_outside_models,
            "gateway/status/limits.py",
            "class Window(Base):\n    __tablename__ = 'windows'\n",
            "defines a table",
        ),
        (
            hand_written_scopes,
            "gateway/batches/router.py",
            "def f(caller):\n    return caller.territory\n",
            "caller.territory",
        ),
        (
            hand_written_scopes,
            "gateway/auditing/repository.py",
            "q = select(ParticipantTerritory.participant_id)\n",
            "territories",
        ),
        (
            hand_written_scopes,
            "gateway/batches/repository.py",
            "def f(caller):\n    return Batch.fund_id == caller.acting_for\n",
            "caller.acting_for",
        ),
        (
            one_way_dependencies,
            "gateway/identities/service.py",
            "from gateway.status.matching import blocking_keys\n",
            "gateway.status.matching",
        ),
        (
            one_way_dependencies,
            "gateway/auth/caller.py",
            "from fastapi import Security\n",
            "fastapi",
        ),
        (readme_paths, "README.md", "code in `gateway/gone.py`\n", "gateway/gone.py"),
        (readme_paths, "README.md", "`gateway/batches/` (`gone.py`)\n", "gateway/batches/gone.py"),
    ],
)
def test_each_rule_catches_its_breach(
    tmp_path: Path, rule: object, path: str, text: str, expected: str
) -> None:
    assert callable(rule)
    files = {**CLEAN, path: CLEAN.get(path, "") + text}
    found = rule(_tree(tmp_path, files))
    assert any(expected in str(violation) for violation in found), found
