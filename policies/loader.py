"""Loading a policy file: YAML in, a validated ``Policy`` out, or errors naming the line.

A policy's version is its name plus a hash of its bytes, so two files that differ in
any way never share a version, and every disclosure can say exactly which one decided it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from policies.model import Policy

DEFAULT_POLICY = Path(__file__).parent / "default.yaml"


@dataclass(frozen=True)
class PolicyProblem:
    line: int | None
    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        return f"{where}: {self.path or '(top)'}: {self.message} [{self.rule}]"


class PolicyError(ValueError):
    """The file is not a valid policy; ``problems`` says where and why."""

    def __init__(self, source: str, problems: list[PolicyProblem]) -> None:
        super().__init__(f"{source}: " + "; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    version: str
    source: str


def _line_of(node: yaml.Node | None, path: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the node at ``path``, or of its deepest existing ancestor."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            found = node.value[part]
        else:
            found = None
        if found is None:
            break
        node, line = found, found.start_mark.line + 1
    return line


def _duplicate_keys(node: yaml.Node | None, path: str = "") -> list[PolicyProblem]:
    found: list[PolicyProblem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                found.append(
                    PolicyProblem(
                        key.start_mark.line + 1,
                        f"{path}{name}",
                        "duplicate-key",
                        f"{name!r} appears twice",
                    )
                )
            seen.add(name)
            found += _duplicate_keys(value, f"{path}{name}.")
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += _duplicate_keys(item, f"{path}{index}.")
    return found


def load_text(text: str, source: str = "<policy>") -> LoadedPolicy:
    try:
        tree = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise PolicyError(source, [PolicyProblem(line, "", "yaml", str(error))]) from error
    problems = _duplicate_keys(tree)
    if problems:
        raise PolicyError(source, problems)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as error:
        problems = [
            PolicyProblem(
                _line_of(tree, tuple(item["loc"])),
                ".".join(str(part) for part in item["loc"]),
                item["type"],
                item["msg"],
            )
            for item in error.errors(include_url=False, include_input=False)
        ]
        raise PolicyError(source, problems) from error
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return LoadedPolicy(policy, f"{policy.name}@{digest}", source)


def load_file(path: Path) -> LoadedPolicy:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(str(path), [PolicyProblem(None, "", "unreadable", str(error))]) from error
    return load_text(text, str(path))
