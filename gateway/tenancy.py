"""Which rows each caller may see: the one home of tenant isolation.

Every query that answers a caller is filtered here, never by hand, so that isolation is a
property of the query (an architecture test keeps it so):

- a **prefecture** sees its own decisions and imports (``prefecture_rows``);
- a **fund** sees its own batches, outbox and subscriptions, or its principal's when a
  delegate acts for it (``fund_rows``);
- an **auditor** sees what concerns the participants whose territory meets its own, or
  everything when it is national (``auditor_rows``); an audit event concerns both the
  participant who made the request and the one it acts for, or claimed to act for when
  it was refused (``auditor_events``), so both CODAFs see it;
- anyone sees the participants ``participant_rows`` allows.

``covering`` is the territory rule itself (the participants whose territory covers one
of some départements), also used to route a decision to the funds of its département;
``fund_check_refusal`` says whether a person living in a département is the calling
fund's to check, and why not; ``prefecture_departement`` which of its départements a
prefecture posts for.

Each helper takes the caller and the column naming the participant a row belongs to, and
returns a condition for the query's ``WHERE``. A helper given a caller of another kind
refuses (``Forbidden``): the route let through a caller its query cannot scope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import or_, select, true

from gateway.errors import FieldError, Forbidden, InvalidField
from gateway.participants.models import ParticipantKind, ParticipantTerritory

if TYPE_CHECKING:
    from collections.abc import Collection

    from sqlalchemy import ColumnElement, Select, SQLColumnExpression

    from gateway.auth.caller import Caller

    # The column naming the participant a row belongs to (nullable in audit events).
    ParticipantColumn = SQLColumnExpression[str] | SQLColumnExpression[str | None]

__all__ = [
    "OUTSIDE_TERRITORY",
    "RESIDENCE_REQUIRED",
    "auditor_events",
    "auditor_rows",
    "covering",
    "fund_check_refusal",
    "fund_data_rights",
    "fund_rows",
    "participant_rows",
    "prefecture_departement",
    "prefecture_rows",
]


def covering(departements: Collection[str]) -> Select[str]:
    """The ids of the participants whose territory covers one of ``departements``."""
    return select(ParticipantTerritory.participant_id).where(
        ParticipantTerritory.departement.in_(sorted(departements))
    )


def _expect(caller: Caller, kind: ParticipantKind) -> None:
    if caller.kind != kind:
        raise Forbidden(f"this is for a {kind}, not a {caller.kind}", slug="wrong-participant-kind")


def prefecture_rows(caller: Caller, prefecture_id: ParticipantColumn) -> ColumnElement[bool]:
    """Rows of the prefecture the caller is (or acts for)."""
    _expect(caller, ParticipantKind.PREFECTURE)
    return prefecture_id == caller.acting_for


def fund_rows(caller: Caller, fund_id: ParticipantColumn) -> ColumnElement[bool]:
    """Rows of the fund the caller is, or of its principal when a delegate acts for it."""
    _expect(caller, ParticipantKind.FUND)
    return fund_id == caller.acting_for


def auditor_rows(
    caller: Caller, participant_id: ParticipantColumn, *, departement: str | None = None
) -> ColumnElement[bool]:
    """Rows of the participants covering the auditor's territory (every row if national).

    ``departement`` narrows to the participants covering that one département, which
    must be the auditor's (any, for a national auditor).
    """
    _expect(caller, ParticipantKind.AUDITOR)
    if departement is not None:
        if not caller.national and departement not in caller.territory:
            raise InvalidField(
                "departement", "outside-territory", f"département {departement} is not yours"
            )
        return participant_id.in_(covering([departement]))
    if caller.national:
        return true()
    return participant_id.in_(covering(caller.territory))


def auditor_events(
    caller: Caller,
    participant_id: ParticipantColumn,
    acting_for: ParticipantColumn,
    *,
    departement: str | None = None,
) -> ColumnElement[bool]:
    """Audit events an auditor may see: made by, or for, a participant of its territory.

    An event concerns the participant who made the request and the one it acted for (on a
    refused delegation, the one it claimed to act for): the CODAF of either sees it.
    """
    return or_(
        auditor_rows(caller, acting_for, departement=departement),
        auditor_rows(caller, participant_id, departement=departement),
    )


def participant_rows(caller: Caller, participant_id: ParticipantColumn) -> ColumnElement[bool]:
    """The participants the caller may see.

    Operators and national auditors see everyone; a territorial auditor, itself and the
    participants of its départements; anyone else, itself and the participant it acts for.
    """
    if caller.kind == ParticipantKind.OPERATOR or (
        caller.kind == ParticipantKind.AUDITOR and caller.national
    ):
        return true()
    if caller.kind == ParticipantKind.AUDITOR:
        return or_(participant_id == caller.participant_id, auditor_rows(caller, participant_id))
    return participant_id.in_({caller.participant_id, caller.acting_for})


def sees_by_kind(caller: Caller, participant_id: str) -> bool:
    """Whether ``participant_rows`` lets the caller see the participant, territory aside.

    True for everyone when the caller is an operator or a national auditor, for itself,
    and, but for a territorial auditor, for the participant it acts for. False: ask the
    query.
    """
    if caller.kind == ParticipantKind.OPERATOR or (
        caller.kind == ParticipantKind.AUDITOR and caller.national
    ):
        return True
    if participant_id == caller.participant_id:
        return True
    return caller.kind != ParticipantKind.AUDITOR and participant_id == caller.acting_for


OUTSIDE_TERRITORY = "outside-territory"
RESIDENCE_REQUIRED = "residence-departement-required"


def fund_data_rights(caller: Caller) -> None:
    """Refuse a fund with no data rights of its own: a delegate calling in its own name.

    A fund checks the people of its territory, or of every département when it is
    national by registration; a delegate (a participant registered only to act for
    funds) has neither, and always names the fund it acts for (``On-Behalf-Of``).
    """
    _expect(caller, ParticipantKind.FUND)
    if not caller.national and not caller.territory:
        raise Forbidden(
            f"{caller.acting_for} has no territory of its own: name the fund it acts for "
            "in On-Behalf-Of",
            errors=[
                FieldError(
                    "On-Behalf-Of",
                    "required",
                    "a delegate always names the fund it acts for",
                )
            ],
            slug="on-behalf-of-required",
        )


def fund_check_refusal(caller: Caller, departement: str | None) -> str | None:
    """Why a person living in ``departement`` is not the calling fund's to check, if not.

    A national fund checks anyone. A fund with a territory (its own or its principal's)
    checks the residents of that territory and must say where the person lives: a missing
    département is ``residence-departement-required``, another one ``outside-territory``.
    """
    fund_data_rights(caller)
    if caller.national:
        return None
    if not departement:
        return RESIDENCE_REQUIRED
    return None if departement in caller.territory else OUTSIDE_TERRITORY


def prefecture_departement(caller: Caller, requested: str | None) -> str:
    """The département a prefecture's decision is for: one of its own, named or implied."""
    _expect(caller, ParticipantKind.PREFECTURE)
    if requested is None:
        if len(caller.territory) == 1:
            return caller.territory[0]
        raise InvalidField(
            "departement", "required", "this prefecture covers several départements: name one"
        )
    if requested not in caller.territory:
        raise Forbidden(
            f"département {requested} is not one of {caller.acting_for}'s",
            errors=[
                FieldError(
                    "departement",
                    "own-territory",
                    "a prefecture posts only for its own département(s)",
                )
            ],
            slug="not-own-departement",
        )
    return requested
