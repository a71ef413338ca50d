"""The evidence an auditor checks offline: pure, with no database and no web code.

- ``actions``: the closed vocabularies of audit events (actions, outcomes);
- ``pseudonyms``: keyed pseudonyms, the only way events name a person;
- ``events``: an event's fields and canonical bytes (RFC 8785), what the log hashes;
- ``merkle`` and ``tree``: RFC 6962 / 9162 hashing and proofs, the latter from stored
  subtree hashes;
- ``checkpoints``: the signed checkpoints of the log (C2SP signed notes), signed and opened;
- ``verify``: the offline verifier of an exported log, with nothing but the public key.

The gateway stores and sequences the log (``gateway.auditlog``); anyone holding the
gateway's public key checks an export with this package alone (``gateway audit verify``).
"""
