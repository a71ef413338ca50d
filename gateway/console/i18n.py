"""The console's languages: one message catalogue per language, ``locales/<lang>.json``.

Templates hold no text of their own: every word comes from ``t(key, **values)``, looked
up in the request's catalogue. French is the console's language and the fallback; adding
a language is adding its catalogue (every key of ``fr.json``), which ``catalogues()``
then offers to browsers asking for it (``Accept-Language``).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

LOCALES = Path(__file__).parent / "locales"
DEFAULT_LANGUAGE = "fr"


class MissingMessage(KeyError):
    """A template asked for a key its catalogue does not hold."""


@functools.cache
def catalogues() -> dict[str, dict[str, str]]:
    """Every language's messages, by language code (the file's name)."""
    found = {}
    for path in sorted(LOCALES.glob("*.json")):
        messages = json.loads(path.read_text(encoding="utf-8"))
        found[path.stem] = {str(key): str(value) for key, value in messages.items()}
    return found


def language(accept_language: str | None) -> str:
    """The first language of ``Accept-Language`` the console has, else French."""
    available = catalogues()
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower().split("-")[0]
        if code in available:
            return code
    return DEFAULT_LANGUAGE


class Translator:
    """``t(key, **values)`` for one language: the message, its ``{names}`` filled in."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.messages = catalogues()[code]

    def __call__(self, key: str, **values: Any) -> str:
        try:
            message = self.messages[key]
        except KeyError:
            raise MissingMessage(f"no message {key!r} in the {self.code} catalogue") from None
        return message.format(**values) if values else message

    def number(self, value: float | None, digits: int = 1) -> str:
        """A number as this language writes it (French: 1 234,5), or a dash if unknown."""
        if value is None:
            return self("value.none")
        text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
        if self.code == "fr":
            text = text.replace(",", "\u202f").replace(".", ",")
        return text
