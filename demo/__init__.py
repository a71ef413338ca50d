"""The end-to-end demonstration the README's first command runs (``make demo``).

Not part of the installed product: it is run from the repository (``python -m demo``) and
by the test suite, so it cannot rot. ``demo.__main__`` sets the stage (``demo.stage``: a
throwaway SQLite database, gateway keys, participants with keys of their own, the API on
a loopback port), then plays one module per scene, each participant acting exactly as an
external system would, over HTTP: ``access`` (tokens and refusals), ``intake``
(decisions, corrections, a backlog import, and ``policy``: what the policy decides),
``stewardship`` (routes, subscriptions, the register of processing, retention),
``delivery`` (sealing, pull, push, a correction reaching its fund), ``checks`` (status
checks) and ``evidence`` (the signed audit log, proofs, reports, the trail left). It
prints what happened and exits non-zero if anything did not behave as expected.
"""
