"""The console's words are all in its message catalogues: no text written in a template,
every key a template asks for in every catalogue, the same keys in each language."""

from __future__ import annotations

import json
import re

from gateway.console.i18n import LOCALES, Translator, catalogues, language
from gateway.console.web import TEMPLATES

JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
TAG = re.compile(r"<[^>]*>", re.DOTALL)
KEY = re.compile(r"""\bt\(\s*["']([a-z0-9_.-]+)["']""")
# Keys a template builds from a value (``t("state." + state)``): their prefixes.
BUILT = re.compile(r"""\bt\(\s*["']([a-z0-9_.-]+\.)["']\s*\+""")


def test_no_template_holds_text_outside_the_catalogue() -> None:
    for template in sorted(TEMPLATES.glob("*.html")):
        source = template.read_text(encoding="utf-8")
        without_scripts = re.sub(r"<script.*?</script>", "", source, flags=re.DOTALL)
        text = TAG.sub(" ", JINJA.sub(" ", without_scripts))
        words = re.findall(r"[^\W\d_]{2,}", text)
        assert words == [], f"{template.name} writes {words[:5]} outside t()"


def test_every_key_the_templates_use_is_in_every_catalogue() -> None:
    used: set[str] = set()
    prefixes: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        source = template.read_text(encoding="utf-8")
        used |= {key for key in KEY.findall(source) if not key.endswith(".")}
        prefixes |= set(BUILT.findall(source))
    assert used
    for code, messages in catalogues().items():
        assert used <= set(messages), (code, sorted(used - set(messages)))
        for prefix in prefixes:
            assert any(key.startswith(prefix) for key in messages), (code, prefix)


def test_the_catalogues_hold_the_same_keys() -> None:
    french = set(json.loads((LOCALES / "fr.json").read_text(encoding="utf-8")))
    for code, messages in catalogues().items():
        assert set(messages) == french, code


def test_french_is_the_fallback_and_numbers_are_written_the_french_way() -> None:
    assert language(None) == "fr"
    assert language("de-DE,de;q=0.9") == "fr"
    assert language("fr-FR,fr;q=0.9,en;q=0.8") == "fr"
    t = Translator("fr")
    assert t.number(1234.5) == "1\u202f234,5"
    assert t.number(None) == "—"
    assert t("overview.period_days", days=30) == "30 derniers jours"
