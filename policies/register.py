"""The record of processing activities (GDPR article 30) a policy file describes.

One document built from the policy, rendered as Markdown or as a standalone HTML page.
The output depends on the policy file alone: the same file gives the same bytes.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from policies.model import (
    DECISION_KINDS,
    DISCLOSABLE_FIELDS,
    NEVER_DISCLOSED,
    PARTICIPANT_KINDS,
    REGIMES,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from policies.loader import LoadedPolicy
    from policies.model import Policy, PriorityClass

TITLE = "Record of processing activities (GDPR article 30)"
IDENTITY_FIELDS = (
    "social_security_number",
    "agdref_number",
    "birth_name",
    "usage_name",
    "first_names",
    "sex",
    "birth_date",
    "place_of_birth",
    "nationality",
    "residence_departement",
)
FIELD_LABELS = {
    "social_security_number": "NIR or NIA (social-security number)",
    "agdref_number": "AGDREF number (foreign nationals' file)",
    "birth_name": "Birth name",
    "usage_name": "Usage name",
    "first_names": "First names",
    "sex": "Sex",
    "birth_date": "Date of birth (possibly partial)",
    "place_of_birth": "Place of birth (INSEE COG code)",
    "nationality": "Nationality (COG country code)",
    "residence_departement": "Département of residence",
    "kind_class": "Class of decision (withdrawal or refusal)",
    "reference": "Reference of the decision",
    "decision_date": "Date of the decision",
    "notification_date": "Date the decision was notified",
    "effect_date": "Date the decision takes effect",
    "permit_expiry": "Expiry date of the residence permit",
    "priority_class": "Priority class",
}
NEVER_DISCLOSED_LABELS = {
    "public_order": "Public-order ground of the decision (it only raises the priority)",
    "legal_basis": "Text of the decision's legal basis",
    "address": "Address beyond the département of residence (never collected)",
}
KIND_LABELS = {
    "permit-withdrawal": "Withdrawal of a residence permit",
    "renewal-refusal": "Refusal to renew a residence permit",
    "first-permit-refusal": "Refusal of a first residence permit",
    "oqtf": "Obligation to leave French territory (OQTF)",
    "irtf": "Ban on returning to French territory (IRTF)",
    "expulsion": "Expulsion order",
}
REGIME_LABELS = {
    "cpam": "CPAM (health insurance)",
    "caf": "CAF (family benefits)",
    "msa": "MSA (agricultural social security)",
    "urssaf": "URSSAF (contributions)",
    "carsat": "CARSAT (pensions and occupational risks)",
    "cgss": "CGSS (general social security funds overseas)",
    "css-mayotte": "CSS Mayotte (social security fund of Mayotte)",
}
PARTICIPANT_LABELS = {
    "prefecture": "Prefectures",
    "fund": "Social-security funds",
    "auditor": "Auditors (CODAF, national)",
    "operator": "Operators of the gateway",
}
SECURITY_MEASURES = (
    (
        "Identity data is encrypted at rest by envelope encryption: each record has its own "
        "AES-256-GCM data key, wrapped under a rotating key-encryption key; destroying a "
        "record's data key erases that record for good (crypto-shredding) without touching "
        "any other."
    ),
    (
        "Lookups go through keyed blind indexes (HMAC under a secret key): besides them, only "
        "the département of residence is stored in clear."
    ),
    (
        "Every request leaves an event in an append-only audit log, which names people only "
        "by keyed pseudonyms (HMAC-SHA-256), never by their identifiers."
    ),
    (
        "Batches sent to funds are canonical JSON signed by the gateway (JWS, Ed25519), "
        "numbered and chained per fund, with a Merkle root over their records, and encrypted "
        "to the fund when it registered a key; funds acknowledge them with receipts signed by "
        "their own keys, kept as evidence."
    ),
    (
        "Participants authenticate with OAuth2 client credentials and private_key_jwt (their "
        "private key never leaves them); access tokens last at most five minutes and can be "
        "bound to the client's key with DPoP."
    ),
    (
        "Every request states a purpose from the closed list of its participant kind; any "
        "other is refused and the refusal audited."
    ),
    (
        "Every outbound record goes through one projection that keeps only the fields of the "
        "recipient's profile and drops those never disclosed."
    ),
)
RETENTION = (
    ("identity_after_last_receipt_days", "Identity data, after the last fund's receipt"),
    ("import_reports_days", "Import reports"),
    ("receipts_days", "Receipts from funds"),
    ("audit_events_days", "Audit events"),
)


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Items:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Paragraph | Items | Table


@dataclass(frozen=True)
class Section:
    heading: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    title: str
    sections: tuple[Section, ...]


def _labels(fields: Sequence[str]) -> str:
    return ", ".join(FIELD_LABELS[name] for name in fields) or "none"


def _processing(loaded: LoadedPolicy) -> Section:
    policy = loaded.policy
    return Section(
        "Processing",
        (
            Table(
                ("entry", "value"),
                (
                    (
                        "Processing",
                        (
                            "Passing the identities of foreign nationals whose right of residence "
                            "a prefecture has ended or refused to the social-security funds "
                            "covering them, so they can check their affiliates' rights, and "
                            "keeping a record of who received or looked at what, when and why."
                        ),
                    ),
                    ("Policy", policy.name),
                    ("Policy version", loaded.version),
                    ("Description", policy.description),
                    (
                        "Controller and data protection officer",
                        (
                            "Not part of the policy file: the controller completes this entry "
                            "with its name and contact details and those of its data protection "
                            "officer."
                        ),
                    ),
                ),
            ),
        ),
    )


def _purposes(policy: Policy) -> Section:
    rows = tuple(
        (PARTICIPANT_LABELS[kind], rule.purpose, rule.legal_basis)
        for kind in PARTICIPANT_KINDS
        for rule in policy.purposes.get(kind, [])  # type: ignore[call-overload]
    )
    return Section(
        "Purposes and legal bases",
        (
            Paragraph(
                "Every request names one purpose allowed for the participant's kind; "
                "anything else is refused and the refusal audited."
            ),
            Table(("participants", "purpose", "legal basis"), rows),
        ),
    )


def _subjects() -> Section:
    return Section(
        "Categories of data subjects",
        (
            Paragraph(
                "Foreign nationals subject to one of these decisions, recorded by a prefecture:"
            ),
            Items(tuple(KIND_LABELS[kind] for kind in DECISION_KINDS)),
        ),
    )


def _data(policy: Policy) -> Section:
    def profiles_naming(name: str) -> str:
        names = [profile for profile, fields in policy.profiles.items() if name in fields]
        return ", ".join(sorted(names)) or "none"

    rows = tuple(
        (
            FIELD_LABELS[name],
            name,
            "identity" if name in IDENTITY_FIELDS else "decision",
            profiles_naming(name),
        )
        for name in DISCLOSABLE_FIELDS
    )
    return Section(
        "Categories of personal data",
        (
            Paragraph("Fields a recipient may receive, and the profiles naming each:"),
            Table(("field", "policy name", "category", "profiles"), rows),
            Paragraph(
                "Never disclosed to any fund, whatever a policy says (a profile naming one "
                "is refused, and the projection drops it):"
            ),
            Items(tuple(NEVER_DISCLOSED_LABELS[name] for name in NEVER_DISCLOSED)),
        ),
    )


def _recipients(policy: Policy) -> Section:
    routing = policy.routing
    if routing.subscriptions_only:
        where = (
            "A disclosed decision goes only to the funds of the enabled regimes that hold a "
            "file on the person on the day it takes effect, whatever their territory "
            "(routing.subscriptions_only); the others receive nothing, and a decision naming "
            "no AGDREF number or NIR/NIA goes to no fund."
        )
    elif routing.residence_first:
        where = (
            "A disclosed decision goes to every fund of the enabled regimes covering the "
            "person's département of residence, or the prefecture's département when the "
            "residence is unknown (routing.residence_first)."
        )
    else:
        where = (
            "A disclosed decision goes to every fund of the enabled regimes covering the "
            "département of the prefecture that took it (routing.residence_first is off)."
        )
    rows: list[tuple[str, str, str, str]] = []
    for regime in REGIMES:
        route = routing.regimes.get(regime)  # type: ignore[call-overload]
        if route is None:
            rows.append((REGIME_LABELS[regime], "no: not in the policy", "-", "none"))
        elif not route.enabled:
            rows.append((REGIME_LABELS[regime], "no: disabled", route.profile, "none"))
        else:
            fields = _labels(policy.profiles[route.profile])
            rows.append((REGIME_LABELS[regime], "yes", route.profile, fields))
    return Section(
        "Recipients",
        (
            Paragraph(where),
            Paragraph(
                "A correction goes, at the highest priority, to every fund that received "
                "the decision."
            ),
            Table(("regime", "receives", "profile", "received fields"), tuple(rows)),
        ),
    )


def _kinds(policy: Policy) -> Section:
    def treatment(kind: str) -> str:
        if kind in policy.eligibility.disclosed:
            return "disclosed to funds"
        return "recorded only, never sent"

    rows = tuple((KIND_LABELS[kind], kind, treatment(kind)) for kind in DECISION_KINDS)
    return Section(
        "Decisions disclosed and recorded only",
        (Table(("decision", "kind", "treatment"), rows),),
    )


def _matches(klass: PriorityClass) -> str:
    conditions: list[str] = []
    if klass.corrections:
        conditions.append("corrections")
    conditions += [KIND_LABELS[kind] for kind in klass.kinds]
    if klass.public_order:
        conditions.append("decisions resting on a public-order ground")
    if klass.otherwise:
        conditions.append("every other decision")
    return "; ".join(conditions)


def _priority(policy: Policy) -> Section:
    rows = tuple(
        (str(rank), klass.name, _matches(klass))
        for rank, klass in enumerate(policy.priority.classes, start=1)
    )
    return Section(
        "Priority classes, most urgent first",
        (Table(("rank", "class", "matches"), rows),),
    )


def _retention(policy: Policy) -> Section:
    values = policy.retention.model_dump()
    rows = tuple((label, f"{values[key]} days", f"retention.{key}") for key, label in RETENTION)
    return Section("Retention", (Table(("data", "kept for", "policy key"), rows),))


def build(loaded: LoadedPolicy) -> Document:
    """The register as headings, paragraphs, lists and tables, for either rendering."""
    policy = loaded.policy
    return Document(
        TITLE,
        (
            _processing(loaded),
            _purposes(policy),
            _subjects(),
            _data(policy),
            _recipients(policy),
            _kinds(policy),
            _priority(policy),
            _retention(policy),
            Section("Security measures", (Items(SECURITY_MEASURES),)),
        ),
    )


# Markdown: every character with an inline meaning is escaped, so a policy's text can
# neither format the page nor smuggle raw HTML into it; a line break would end a table row.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|&#~!])")


_MARKDOWN_BLOCK_START = re.compile(r"^([-+=]|\d{1,9}[.)])")


def _md(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _md_line(text: str) -> str:
    """Inline text starting a line: neither a list marker nor a setext underline either."""
    return _MARKDOWN_BLOCK_START.sub(lambda m: f"{m[0][:-1]}\\{m[0][-1]}", _md(text))


def _markdown_block(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        return [_md_line(block.text)]
    if isinstance(block, Items):
        return [f"- {_md_line(item)}" for item in block.items]
    lines = [
        "| " + " | ".join(_md(cell) for cell in block.headers) + " |",
        "|" + "---|" * len(block.headers),
    ]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in block.rows]
    return lines


def render_markdown(loaded: LoadedPolicy) -> str:
    document = build(loaded)
    parts = [[f"# {_md(document.title)}"]]
    for section in document.sections:
        parts.append([f"## {_md(section.heading)}"])
        parts += [_markdown_block(block) for block in section.blocks]
    return "\n\n".join("\n".join(part) for part in parts) + "\n"


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.45;color:#1b1b1b}"
    "table{border-collapse:collapse;width:100%;margin:1rem 0}"
    "th,td{border:1px solid #999;padding:.35rem .5rem;text-align:left;vertical-align:top}"
    "th{background:#eee}"
)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _html_block(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        return [f"<p>{_e(block.text)}</p>"]
    if isinstance(block, Items):
        return ["<ul>", *(f"<li>{_e(item)}</li>" for item in block.items), "</ul>"]
    lines = [
        "<table>",
        "<thead><tr>" + "".join(f"<th>{_e(cell)}</th>" for cell in block.headers) + "</tr></thead>",
        "<tbody>",
    ]
    lines += [
        "<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>" for row in block.rows
    ]
    return [*lines, "</tbody>", "</table>"]


def render_html(loaded: LoadedPolicy) -> str:
    document = build(loaded)
    lines = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{_e(document.title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(document.title)}</h1>",
    ]
    for section in document.sections:
        lines += ["<section>", f"<h2>{_e(section.heading)}</h2>"]
        for block in section.blocks:
            lines += _html_block(block)
        lines.append("</section>")
    return "\n".join([*lines, "</body>", "</html>"]) + "\n"
