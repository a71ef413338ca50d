"""What auditors ask: events within their territory, one person's report, CODAF reports.

``router`` also serves the audit log's checkpoints and proofs (from ``gateway.auditlog``);
``repository`` holds every query, scoped by ``tenancy.auditor_rows``; ``service`` builds
the reports; ``fishing`` flags status-check patterns that look like fishing.
"""
