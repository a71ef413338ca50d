"""Auditors' routes: the audit log's checkpoints and proofs."""
