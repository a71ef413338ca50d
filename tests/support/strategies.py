"""Hypothesis strategies for the JSON that batches hold."""

from __future__ import annotations

from hypothesis import strategies as st

# Text is any Unicode but lone surrogates; object keys are printable ASCII.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
KEYS = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
