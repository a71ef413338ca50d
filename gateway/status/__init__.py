"""Status checks: a fund asks whether an insured person is subject to a residence decision.

Exact matches on identifiers, else name matching (``gateway.identities.matching``);
rate limits per agent and fund (``limits``, ``models``); sweeps streamed as NDJSON
(``stream``); every lookup in ``repository``.
"""
