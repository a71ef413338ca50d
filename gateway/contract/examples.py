"""Request and response examples of the main operations, for the OpenAPI document.

``tests/gateway/contract/test_openapi.py`` checks each against the schema it illustrates,
and posts the request examples to a gateway.
"""

from __future__ import annotations

from typing import Any

BATCH_ID = "01936f2e-8a4b-7c1d-9e2f-3a4b5c6d7e8f"
DECISION_ID = "01936f2d-1111-7abc-8def-0123456789ab"
DIGEST = "sha256:" + "5f" * 32
JWS = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImNhZi0xMy0yMDI2In0.eyJiYXRjaF9pZCI6IjAxOTM2ZjJlLTh.MEUCIQDx8kR4"


def problem(slug: str, status: int, title: str, detail: str, instance: str) -> dict[str, Any]:
    return {
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }


TOKEN_REQUEST = {
    "grant_type": "client_credentials",
    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    "client_assertion": JWS,
}
TOKEN_RESPONSE = {
    "access_token": JWS,
    "token_type": "Bearer",
    "expires_in": 300,
    "scope": "decisions:read decisions:write participants:read",
}
TOKEN_REFUSED = {
    **problem(
        "invalid-client",
        401,
        "Token request refused",
        "this client assertion was already used (replay)",
        "/oauth2/token",
    ),
    "error": "invalid_client",
    "error_description": "this client assertion was already used (replay)",
}

IDENTITY: dict[str, Any] = {
    "agdref_number": "7512345678",
    "birth_name": "Martin",
    "first_names": ["Ana", "Maria"],
    "sex": "F",
    "birth_date": "1985-04-17",
    "nationality": "99341",
    "residence_departement": "75",
}
DECISION = {
    "reference": "PREF75-2026-000123",
    "kind": "renewal-refusal",
    "decision_date": "2026-01-12",
    "notification_date": "2026-01-19",
    "effect_date": "2026-02-19",
    "identity": IDENTITY,
}
DECISION_CREATED = {
    "id": DECISION_ID,
    "reference": "PREF75-2026-000123",
    "departement": "75",
    "kind": "renewal-refusal",
    "status": "active",
    "current_version": 1,
    "created_at": "2026-02-20T09:15:02Z",
    "updated_at": "2026-02-20T09:15:02Z",
    "versions": [
        {
            "version": 1,
            "status": "active",
            "kind": "renewal-refusal",
            "withdrawn_document": None,
            "removal_measures": [],
            "public_order": False,
            "decision_date": "2026-01-12",
            "notification_date": "2026-01-19",
            "effect_date": "2026-02-19",
            "permit": None,
            "legal_basis": None,
            "correction": None,
            "identity": {**IDENTITY, "agdref_possible_lost_leading_zero": False},
            "created_at": "2026-02-20T09:15:02Z",
        }
    ],
    "disclosures": [
        {
            "fund_id": "cpam-75",
            "version": 1,
            "state": "pending",
            "correction": False,
            "priority_class": "normal",
            "policy_version": "instruction-2024-10-28@2550859bf45e",
            "created_at": "2026-02-20T09:15:02Z",
        }
    ],
}
DECISION_CONFLICT = {
    **problem(
        "reference-reused",
        409,
        "Conflict",
        "reference 'PREF75-2026-000123' was already used for decision "
        f"{DECISION_ID} with a different body; a change to a decision is a correction",
        "/v1/decisions",
    ),
    "errors": [
        {
            "field": "reference",
            "rule": "reference-reused",
            "message": "same reference, different body",
        }
    ],
}
INVALID_REQUEST = {
    **problem(
        "invalid-field",
        400,
        "A field breaks a rule",
        "every request states its purpose in the Purpose header",
        "/v1/decisions",
    ),
    "errors": [
        {
            "field": "Purpose",
            "rule": "required",
            "message": "every request states its purpose in the Purpose header",
        }
    ],
}

BATCH_LIST = {
    "batches": [
        {
            "id": BATCH_ID,
            "seq": 3,
            "digest": DIGEST,
            "previous_digest": "sha256:" + "a1" * 32,
            "record_count": 2,
            "express": True,
            "encrypted": False,
            "state": "sealed",
            "created_at": "2026-02-20T10:00:00Z",
            "delivered_at": None,
            "acknowledged_at": None,
        }
    ],
    "next_after_seq": None,
}
RECEIPT_RECORDED = {
    "batch_id": BATCH_ID,
    "digest": "sha256:" + "c3" * 32,
    "received_at": "2026-02-20T10:05:00Z",
    "recorded_at": "2026-02-20T10:05:01Z",
    "outcomes": {"rights-ended": 1, "not-an-affiliate": 1},
    "already_recorded": False,
}
INVALID_RECEIPT = {
    **problem(
        "invalid-receipt",
        422,
        "Invalid receipt",
        "the receipt's batch_digest is not this batch's: it is for another batch",
        f"/v1/batches/{BATCH_ID}/receipt",
    ),
    "errors": [
        {
            "field": "batch_digest",
            "rule": "batch-digest-mismatch",
            "message": "the receipt's batch_digest is not this batch's: it is for another batch",
        }
    ],
}

STATUS_CHECKS = {
    "checks": [
        {"identity": {"agdref_number": "7512345678", "residence_departement": "75"}},
        {
            "identity": {
                "social_security_number": {"number": "295109912611193", "type": "nia"},
                "residence_departement": "75",
            }
        },
    ]
}
STATUS_ANSWERS = {
    "answers": [
        {
            "position": 0,
            "result": "adverse_decision",
            "match": "exact",
            "decision": {
                "kind_class": "refusal",
                "reference": "PREF75-2026-000123",
                "notification_date": "2026-01-19",
                "effect_date": "2026-02-19",
            },
            "errors": [],
        },
        {"position": 1, "result": "none_known", "match": "none", "decision": None, "errors": []},
    ],
    "note": "none_known does not prove regular residence",
}
RATE_LIMITED = {
    **problem(
        "rate-limited",
        429,
        "Too many checks",
        "this agent may make at most 100000 checks per 3600 s",
        "/v1/status-checks",
    ),
    "errors": [
        {
            "field": "Agent-Id",
            "rule": "rate-limit",
            "message": "this agent may make at most 100000 checks per 3600 s",
        }
    ],
}

EVENT_PAGE = {
    "events": [
        {
            "id": 4242,
            "event_id": "01936f30-0000-7000-8000-000000004242",
            "occurred_at": "2026-02-20T10:05:01.000000Z",
            "action": "receipt:recorded",
            "outcome": "success",
            "participant_id": "cpam-75",
            "acting_for": "cpam-75",
            "agent_id": "agent-4521",
            "case_reference": None,
            "purpose": "residence-regularity-check",
            "object_ids": [BATCH_ID],
            "subject_pseudonyms": [],
            "detail": {"seq": 3, "outcomes": {"rights-ended": 2}, "again": False},
            "participant_kind": "fund",
            "request_id": "5f2b9c0e8d7a4b1c9e3f6a2d1b0c4e7f",
            "leaf_index": 4241,
        }
    ],
    "next_after_id": None,
    "next_after_index": None,
}

_IMPORT = {
    "id": "4b1d9a52-8f3e-4c1a-9d7e-2f6b8c0a1e35",
    "format": "csv",
    "dry_run": False,
    "encoding": "windows-1252",
    "size_bytes": 5_242_880,
    "lines_total": 20_001,
    "error": None,
    "created_at": "2026-03-02T09:14:03Z",
    "finished_at": None,
}
IMPORT_QUEUED: dict[str, Any] = {
    **_IMPORT,
    "status": "queued",
    "lines_done": 0,
    "lines": 0,
    "accepted": 0,
    "duplicate": 0,
    "rejected": 0,
    "started_at": None,
}
IMPORT_RUNNING: dict[str, Any] = {
    **_IMPORT,
    "status": "running",
    "lines_done": 8_001,
    "lines": 8_000,
    "accepted": 7_912,
    "duplicate": 80,
    "rejected": 8,
    "started_at": "2026-03-02T09:14:04Z",
    "report": [
        {
            "line": 2,
            "outcome": "accepted",
            "reference": "BACKLOG-2023-0001",
            "decision_id": "0f8e4c1a-5b2d-4e9f-8a7c-3d6b1e2f4a59",
            "errors": [],
        }
    ],
    "next_line": 2,
}
