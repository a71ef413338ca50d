"""``gateway policy register``: the record of processing activities a policy describes."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from gateway.cli.main import app
from policies.loader import DEFAULT_POLICY, LoadedPolicy, load_file, load_text
from policies.model import DECISION_KINDS, DISCLOSABLE_FIELDS, NEVER_DISCLOSED, REGIMES
from policies.register import (
    FIELD_LABELS,
    KIND_LABELS,
    NEVER_DISCLOSED_LABELS,
    REGIME_LABELS,
    render_html,
    render_markdown,
)

if TYPE_CHECKING:
    from pathlib import Path

DEFAULT = DEFAULT_POLICY.read_text()
LOADED = load_file(DEFAULT_POLICY)
FORMATS = ("markdown", "html")
SECTIONS = (
    "Processing",
    "Purposes and legal bases",
    "Categories of data subjects",
    "Categories of personal data",
    "Recipients",
    "Decisions disclosed and recorded only",
    "Priority classes, most urgent first",
    "Retention",
    "Security measures",
)


class Page(HTMLParser):
    """The text of a rendered HTML register, per section: tables, list items, paragraphs."""

    CAPTURED = frozenset({"h2", "p", "li", "th", "td"})

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.section = ""
        self.tables: dict[str, list[list[list[str]]]] = {}
        self.items: dict[str, list[str]] = {}
        self.paragraphs: dict[str, list[str]] = {}
        self._text: list[str] | None = None
        self.feed(document)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        del attrs
        self.tags.append(tag)
        if tag in self.CAPTURED:
            self._text = []
        elif tag == "table":
            self.tables.setdefault(self.section, []).append([])
        elif tag == "tr":
            self.tables[self.section][-1].append([])

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.CAPTURED or self._text is None:
            return
        text, self._text = "".join(self._text), None
        if tag == "h2":
            self.section = text
        elif tag == "li":
            self.items.setdefault(self.section, []).append(text)
        elif tag == "p":
            self.paragraphs.setdefault(self.section, []).append(text)
        else:
            self.tables[self.section][-1][-1].append(text)


def html_tables(document: str, heading: str) -> list[list[list[str]]]:
    return Page(document).tables.get(heading, [])


def markdown_section(document: str, heading: str) -> str:
    start = document.index(f"\n## {heading}\n")
    end = document.find("\n## ", start + 1)
    return document[start : end if end != -1 else None]


def markdown_tables(document: str, heading: str) -> list[list[list[str]]]:
    """The section's tables, cells split on unescaped pipes and unescaped themselves."""
    tables: list[list[list[str]]] = []
    previous_was_row = False
    for line in markdown_section(document, heading).splitlines():
        is_row = line.startswith("|")
        if is_row and not line.startswith("|---"):
            if not previous_was_row:
                tables.append([])
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            tables[-1].append([re.sub(r"\\(.)", r"\1", cell.strip()) for cell in cells])
        previous_was_row = is_row
    return tables


def rows(fmt: str, loaded: LoadedPolicy, heading: str, index: int = 0) -> list[dict[str, str]]:
    """The rows of a section's table as {header: cell}, from either rendering."""
    if fmt == "html":
        tables = html_tables(render_html(loaded), heading)
    else:
        tables = markdown_tables(render_markdown(loaded), heading)
    header, *body = tables[index]
    return [dict(zip(header, row, strict=True)) for row in body]


def render(fmt: str, loaded: LoadedPolicy) -> str:
    return render_html(loaded) if fmt == "html" else render_markdown(loaded)


def with_description(description: str) -> LoadedPolicy:
    start, end = DEFAULT.index("description: >-"), DEFAULT.index("\npurposes:")
    return load_text(f"{DEFAULT[:start]}description: {json.dumps(description)}\n{DEFAULT[end:]}")


def with_default_profile(fields: list[str]) -> LoadedPolicy:
    start, end = DEFAULT.index("profiles:\n"), DEFAULT.index("\nretention:")
    profile = f"profiles:\n  default: [{', '.join(fields)}]\n"
    return load_text(DEFAULT[:start] + profile + DEFAULT[end:])


def changed(old: str, new: str) -> LoadedPolicy:
    assert old in DEFAULT
    return load_text(DEFAULT.replace(old, new))


def test_every_field_kind_and_regime_has_a_label() -> None:
    assert set(FIELD_LABELS) == set(DISCLOSABLE_FIELDS)
    assert set(NEVER_DISCLOSED_LABELS) == set(NEVER_DISCLOSED)
    assert set(KIND_LABELS) == set(DECISION_KINDS)
    assert set(REGIME_LABELS) == set(REGIMES)


def test_both_formats_render_the_shipped_policy_with_its_version() -> None:
    markdown, page = render_markdown(LOADED), render_html(LOADED)
    assert markdown.startswith("# Record of processing activities (GDPR article 30)\n")
    assert [line[3:] for line in markdown.splitlines() if line.startswith("## ")] == list(SECTIONS)
    assert page.startswith('<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">')
    assert "<style>" in page
    assert page.endswith("</body>\n</html>\n")
    parsed = Page(page)
    assert [tag for tag in parsed.tags if tag == "h2"] == ["h2"] * len(SECTIONS)
    for fmt in FORMATS:
        processing = {row["entry"]: row["value"] for row in rows(fmt, LOADED, "Processing")}
        assert processing["Policy version"] == LOADED.version
        assert processing["Description"] == " ".join(LOADED.policy.description.split())


@pytest.mark.parametrize("heading", SECTIONS)
def test_markdown_and_html_say_the_same(heading: str) -> None:
    document, markdown = render_html(LOADED), render_markdown(LOADED)
    assert html_tables(document, heading) == markdown_tables(markdown, heading)
    section = re.sub(r"\\(.)", r"\1", markdown_section(markdown, heading))
    page = Page(document)
    for text in page.items.get(heading, []) + page.paragraphs.get(heading, []):
        assert section.count(text) == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_purpose_appears_with_its_legal_basis(fmt: str) -> None:
    found = {
        (row["purpose"], row["legal basis"])
        for row in rows(fmt, LOADED, "Purposes and legal bases")
    }
    expected = {
        (rule.purpose, rule.legal_basis)
        for rules in LOADED.policy.purposes.values()
        for rule in rules
    }
    assert found == expected
    assert len(expected) == 5


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_retention_period_appears_with_the_policy_value(fmt: str) -> None:
    found = {row["policy key"]: row["kept for"] for row in rows(fmt, LOADED, "Retention")}
    assert found == {
        f"retention.{key}": f"{days} days"
        for key, days in LOADED.policy.retention.model_dump().items()
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_changed_retention_changes_the_register(fmt: str) -> None:
    shorter = changed("import_reports_days: 90", "import_reports_days: 45")
    before, after = render(fmt, LOADED), render(fmt, shorter)
    assert "90 days" in before
    assert "45 days" not in before
    assert "45 days" in after
    assert "90 days" not in after
    assert shorter.version in after
    assert LOADED.version not in after


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_regime_says_whether_it_receives_and_which_fields(fmt: str) -> None:
    loaded = changed(
        "    caf: {profile: default}\n    msa: {profile: default}\n",
        "    caf: {profile: default, enabled: false}\n",
    )
    found = {row["regime"]: row for row in rows(fmt, loaded, "Recipients")}
    assert set(found) == {REGIME_LABELS[regime] for regime in REGIMES}
    default_fields = ", ".join(FIELD_LABELS[name] for name in loaded.policy.profiles["default"])
    for regime in REGIMES:
        row = found[REGIME_LABELS[regime]]
        if regime == "caf":
            assert (row["receives"], row["received fields"]) == ("no: disabled", "none")
        elif regime == "msa":
            assert (row["receives"], row["received fields"]) == ("no: not in the policy", "none")
        else:
            assert (row["receives"], row["profile"]) == ("yes", "default")
            assert row["received fields"] == default_fields


@pytest.mark.parametrize("fmt", FORMATS)
def test_never_disclosed_data_is_listed_as_such_and_never_as_received(fmt: str) -> None:
    document = render(fmt, LOADED)
    never = [NEVER_DISCLOSED_LABELS[name] for name in NEVER_DISCLOSED]
    if fmt == "html":
        assert Page(document).items["Categories of personal data"] == never
    else:
        section = markdown_section(document, "Categories of personal data")
        assert [line[2:] for line in section.splitlines() if line.startswith("- ")] == never
    categories = rows(fmt, LOADED, "Categories of personal data")
    assert [row["policy name"] for row in categories] == list(DISCLOSABLE_FIELDS)
    received = [row["received fields"] for row in rows(fmt, LOADED, "Recipients")]
    for cell in [row["field"] for row in categories] + received:
        assert "public-order" not in cell.lower()
        assert "public order" not in cell.lower()
        assert "legal basis" not in cell.lower()
        assert "address" not in cell.lower()


@pytest.mark.parametrize("fmt", FORMATS)
def test_disclosed_and_recorded_only_kinds_follow_the_policy(fmt: str) -> None:
    def treatments(loaded: LoadedPolicy) -> dict[str, str]:
        found = rows(fmt, loaded, "Decisions disclosed and recorded only")
        return {row["kind"]: row["treatment"] for row in found}

    assert treatments(LOADED) == {
        **dict.fromkeys(LOADED.policy.eligibility.disclosed, "disclosed to funds"),
        **dict.fromkeys(LOADED.policy.eligibility.recorded_only, "recorded only, never sent"),
    }
    oqtf_sent = load_text(
        DEFAULT.replace(
            "  recorded_only: [oqtf, irtf, expulsion]", "  recorded_only: [irtf, expulsion]"
        ).replace("first-permit-refusal]", "first-permit-refusal, oqtf]")
    )
    assert treatments(oqtf_sent)["oqtf"] == "disclosed to funds"


@pytest.mark.parametrize("fmt", FORMATS)
def test_priority_classes_appear_in_order(fmt: str) -> None:
    found = rows(fmt, LOADED, "Priority classes, most urgent first")
    assert [(row["rank"], row["class"]) for row in found] == [
        (str(rank), klass.name)
        for rank, klass in enumerate(LOADED.policy.priority.classes, start=1)
    ]
    assert found[0]["matches"] == "corrections"
    assert "public-order ground" in found[1]["matches"]
    assert found[-1]["matches"] == "every other decision"


def test_the_routing_rule_follows_the_policy() -> None:
    def routing(loaded: LoadedPolicy) -> str:
        return Page(render_html(loaded)).paragraphs["Recipients"][0]

    assert "person's département of residence" in routing(LOADED)
    by_prefecture = changed("residence_first: true", "residence_first: false")
    assert "département of the prefecture that took it" in routing(by_prefecture)
    policy = LOADED.policy
    subscribed = dataclasses.replace(
        LOADED,
        policy=policy.model_copy(
            update={"routing": policy.routing.model_copy(update={"subscriptions_only": True})}
        ),
    )
    assert "hold a file on the person" in routing(subscribed)
    assert "département" not in routing(subscribed)


def test_html_escapes_the_policy_text() -> None:
    description = '<script>alert("x")</script> & <b>bold</b>'
    document = render_html(with_description(description))
    assert "<script>" not in document
    assert "<b>" not in document
    assert html.escape(description) in document
    page = Page(document)
    assert "script" not in page.tags
    assert "b" not in page.tags
    processing = {row[0]: row[1] for row in page.tables["Processing"][0]}
    assert processing["Description"] == description


def test_markdown_escapes_what_would_break_a_table_or_format_the_page() -> None:
    description = "withdrawals | refusals <script>x</script> *now* [link](http://x)"
    document = render_markdown(with_description(description))
    line = next(line for line in document.splitlines() if line.startswith("| Description |"))
    assert "\\|" in line
    assert len(re.split(r"(?<!\\)\|", line)) == 4  # two cells: |a|b|
    assert "<script>" not in document
    assert "*now*" not in document
    assert "[link]" not in document
    processing = {row["entry"]: row["value"] for row in rows("markdown", LOADED, "Processing")}
    assert processing["Description"] != description
    escaped = {
        row["entry"]: row["value"]
        for row in rows("markdown", with_description(description), "Processing")
    }
    assert escaped["Description"] == description


@pytest.mark.parametrize("fmt", FORMATS)
def test_rendering_is_deterministic(fmt: str) -> None:
    first = render(fmt, LOADED)
    assert render(fmt, LOADED) == first
    assert render(fmt, load_file(DEFAULT_POLICY)) == first


@pytest.mark.slow  # a hundred policies rendered and parsed back
@given(st.lists(st.sampled_from(DISCLOSABLE_FIELDS), unique=True))
def test_each_regime_receives_exactly_the_fields_of_its_profile(fields: list[str]) -> None:
    loaded = with_default_profile(fields)
    document = render_html(loaded)
    labels = [FIELD_LABELS[name] for name in fields]
    for row in rows("html", loaded, "Recipients"):
        received = row["received fields"]
        assert (received.split(", ") if received != "none" else []) == labels
    named = {
        row["policy name"]
        for row in rows("html", loaded, "Categories of personal data")
        if row["profiles"] == "default"
    }
    assert named == set(fields)
    assert "public_order" not in document


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["policy", "register", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_register_command_renders_either_format(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(DEFAULT.replace("receipts_days: 1095", "receipts_days: 730"))
    loaded = load_file(path)
    code, out, _ = cli(str(path))
    assert code == 0
    assert out == render_markdown(loaded)
    code, out, _ = cli(str(path), "--format", "html")
    assert code == 0
    assert out == render_html(loaded)
    code, out, _ = cli("--format", "pdf")
    assert code == 2  # a usage error


def test_register_command_defaults_to_the_policy_in_force(tmp_path: Path) -> None:
    path = tmp_path / "in-force.yaml"
    path.write_text(DEFAULT.replace("receipts_days: 1095", "receipts_days: 730"))
    code, out, _ = cli(env={"GATEWAY_POLICY_FILE": str(path)})
    assert code == 0
    assert "| 730 days | retention.receipts\\_days |" in out
    assert load_file(path).version in out


def test_register_command_writes_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "register.html"
    code, out, _ = cli(str(DEFAULT_POLICY), "--format", "html", "--output", str(target))
    assert code == 0
    assert target.read_text(encoding="utf-8") == render_html(LOADED)
    assert out == f"{target}: register of policy {LOADED.version}\n"
    code, _, err = cli(str(DEFAULT_POLICY), "--output", str(tmp_path / "missing" / "r.md"))
    assert code == 1
    assert "cannot write" in err


def test_register_command_refuses_an_invalid_policy_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFAULT.replace("    - priority_class", "    - public_order"))
    line = next(
        n for n, text in enumerate(bad.read_text().splitlines(), 1) if "- public_order" in text
    )
    code, out, err = cli(str(bad))
    assert code == 1
    assert out == ""
    assert f"bad.yaml:{line}: profiles.default.14:" in err
