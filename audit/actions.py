"""The closed vocabularies of audit events: actions (``subject:action``) and outcomes."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    TOKEN_ISSUED = "token:issued"  # noqa: S105 - an audit action, not a secret
    REQUEST_REFUSED = "request:refused"
    PARTICIPANT_READ = "participant:read"
    PARTICIPANT_SHOWN = "participant:shown"
    PARTICIPANT_LISTED = "participant:listed"
    PARTICIPANT_CREATED = "participant:created"
    PARTICIPANT_SUSPENDED = "participant:suspended"
    PARTICIPANT_REACTIVATED = "participant:reactivated"
    PARTICIPANT_KEY_ADDED = "credential:added"
    PARTICIPANT_KEY_RETIRED = "credential:retired"
    DECISION_CREATED = "decision:created"
    DECISION_READ = "decision:read"
    DECISION_LISTED = "decision:listed"
    DECISION_CORRECTED = "decision:corrected"
    IMPORT_CREATED = "import:created"
    IMPORT_READ = "import:read"
    IMPORT_LINE = "import:line"
    IMPORT_PROCESSED = "import:processed"
    METRICS_SCRAPED = "metrics:scraped"
    SUBSCRIPTIONS_REPLACED = "subscriptions:replaced"
    SUBSCRIPTIONS_READ = "subscriptions:read"
    RETENTION_PURGED = "retention:purged"
    BATCH_SEALED = "batch:sealed"
    BATCH_LISTED = "batch:listed"
    BATCH_DOWNLOADED = "batch:downloaded"
    BATCH_PUSHED = "batch:pushed"
    RECEIPT_RECORDED = "receipt:recorded"
    OUTBOX_READ = "outbox:read"
    AUDIT_CHECKPOINT_READ = "checkpoint:read"
    INCLUSION_PROOF_READ = "inclusion:read"
    AUDIT_EVENTS_LISTED = "events:listed"
    SUBJECT_REPORT_READ = "subject:reported"
    FUND_REPORT_READ = "funds:reported"
    STATUS_REQUESTED = "status:requested"
    STATUS_CHECKED = "status:checked"
    STATUS_STREAMED = "status:streamed"
    PREFECTURE_REPORT_READ = "prefectures:reported"
    CONSISTENCY_PROOF_READ = "consistency:read"
    FUND_PARKED = "fund:parked"
    FUND_UNPARKED = "fund:unparked"
    KEYS_INITIALISED = "keys:initialised"
    KEYS_ROTATED = "keys:rotated"
    # The auditors' console: a person's login (and each refused attempt), logout, the
    # purpose stated, each page shown, and the operator's mapping of people to auditors.
    CONSOLE_LOGIN = "console:login"
    CONSOLE_LOGOUT = "console:logout"
    CONSOLE_PURPOSE_STATED = "console:purpose-stated"
    CONSOLE_OVERVIEW_SHOWN = "console:overview-shown"
    CONSOLE_EVENTS_SEARCHED = "console:events-searched"
    CONSOLE_EVENTS_EXPORTED = "console:events-exported"
    CONSOLE_FUND_SHOWN = "console:fund-shown"
    CONSOLE_PREFECTURE_SHOWN = "console:prefecture-shown"
    CONSOLE_PERSON_ADDED = "console-person:added"
    CONSOLE_PERSON_REMOVED = "console-person:removed"


class AuditOutcome(StrEnum):
    SUCCESS = "success"
    REFUSED = "refused"
    ERROR = "error"
