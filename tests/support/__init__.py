"""What the tests share, one implementation each.

- ``actors``: participants registered with real keys, their tokens and request headers;
  the prefecture, fund and auditor drivers; the gateway's worker sealing.
- ``factories``: request bodies (a made-up person, valid decisions) and civil dates.
- ``jose``: client assertions, DPoP proofs, signed receipts, batches read back, and
  compact JWS made by hand.
- ``audit``: a request's audit events, and what they may not hold.
- ``auditor``: an auditor's own code: an event's leaf from the events API, a signed
  checkpoint opened with the gateway's public key (none of ``audit/``).
- ``problems``: RFC 9457 problem documents.
- ``database``: rows counted, and sessions on a database of a test's own.
- ``processes``: the gateway in a process of its own, with its participants.
- ``cli``: the ``gateway`` command line, in-process.
- ``merkle``, ``strategies``: the RFC 9162 reference hash and inclusion check; Hypothesis
  strategies.

Test modules import from here and from nowhere else in ``tests``; fixtures come from the
``conftest.py`` files by name.
"""
