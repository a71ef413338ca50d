"""The one error every identity validator raises.

Validators know the rule a value broke but not which field it came from, so the error
carries a short rule name (``nir-key``, ``date-impossible``) and a message; the caller
attaches the field name when it turns this into an API error. Messages describe the
problem without repeating the value: identifiers and names are personal data, and error
messages end up in logs and responses.
"""

from __future__ import annotations


class IdentityFieldError(ValueError):
    """A value broke an identity rule; ``rule`` names it in kebab-case."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule

    def __reduce__(self) -> tuple[type[IdentityFieldError], tuple[str, str]]:
        # ValueError pickles as cls(*args), and args holds only the message.
        return type(self), (self.rule, str(self))
