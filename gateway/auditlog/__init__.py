"""The audit log as the gateway stores it: events, their Merkle log, checkpoints, proofs.

``writer`` appends events in the caller's transaction (and queues them for the log);
``service`` sequences queued events into the RFC 6962 log, signs checkpoints, answers
proofs and exports the log; ``repository`` holds every query; ``models`` the append-only
tables. The formats (event bytes, signed notes, Merkle hashing) and the offline verifier
are pure and live in ``audit/``, which an auditor runs without this package.
"""
