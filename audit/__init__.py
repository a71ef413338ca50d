"""The audit trail: event model, keyed pseudonyms and the append-only writer.

Every read and write of personal data, every authentication and every admin action
becomes an ``AuditEvent``. Events never hold personal identifiers in clear: only keyed
pseudonyms (``audit.pseudonyms``).
"""
