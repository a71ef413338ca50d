"""Every YAML file of deploy/ passes yamllint with deploy/.yamllint."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from yamllint import linter  # type: ignore[import-untyped]
from yamllint.config import YamlLintConfig  # type: ignore[import-untyped]

from tests.deploy.manifests import DEPLOY

if TYPE_CHECKING:
    from pathlib import Path

YAML_FILES = sorted(p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix in {".yaml", ".yml"})


@pytest.fixture(scope="module")
def config() -> YamlLintConfig:
    return YamlLintConfig(file=str(DEPLOY / ".yamllint"))


def test_deploy_holds_the_yaml_it_should() -> None:
    names = {p.relative_to(DEPLOY).as_posix() for p in YAML_FILES}
    assert "compose/compose.yaml" in names
    assert "kubernetes/base/kustomization.yaml" in names
    assert "kubernetes/overlays/production/kustomization.yaml" in names


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_yaml_passes_yamllint(path: Path, config: YamlLintConfig) -> None:
    problems = [str(p) for p in linter.run(path.read_text(), config, str(path))]
    assert problems == []


def test_yamllint_flags_what_the_configuration_forbids(config: YamlLintConfig) -> None:
    text = "a:  1\nb: yes\nmode: 0440\n"
    rules = {p.rule for p in linter.run(text, config)}
    assert rules == {"colons", "truthy", "octal-values"}
