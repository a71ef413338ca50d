"""The fund side's errors (the tree is in ``connectors.fund``)."""

from __future__ import annotations


class FundError(Exception):
    """Base of the fund side's errors."""


class BatchVerificationError(FundError):
    """A batch failed one of the checks; ``rule`` names which."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


class FundStateError(FundError):
    """The state directory is not this fund's, or its files disagree with the state."""
