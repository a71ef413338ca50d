"""A generator of synthetic labelled identity pairs, to measure the name matcher with.

``generator.generate(n_pairs, seed)`` draws the pairs (``pools``: names by origin;
``people``: synthetic people and the copies two systems hold of them; ``changes``: the
variations of one person's record; ``negatives``: two people who look alike). They are
written in the labelled-pairs format of ``gateway.identities.quality``, which
``gateway status match-quality`` evaluates. ``python -m tools.identity_pairs`` writes a
set; ``tests/data/identity_pairs.jsonl`` is the one the tests keep.
"""
