"""The console's web layer: cookies, security headers, pages, and refusals as pages.

Every answer under ``/console`` carries a strict Content-Security-Policy (scripts,
styles, fonts and images from the gateway only; no inline script: chart data travels in
``<script type="application/json">`` blocks), ``frame-ancestors 'none'`` and
``X-Frame-Options: DENY``, ``Referrer-Policy: same-origin``, ``nosniff``; pages are
``Cache-Control: no-store``, the vendored files revalidated (``no-cache``).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.datastructures import FormData, MutableHeaders

from gateway.console import i18n, repository, service
from gateway.errors import GatewayError
from gateway.participants.models import ParticipantKind
from gateway.routing import Audit, DbSession, State
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from gateway.console.models import ConsolePerson
    from gateway.participants.models import Participant
    from gateway.settings import Settings

ROOT = "/console"
VENDOR = ROOT + "/vendor"
STATIC = ROOT + "/static"
TEMPLATES = Path(__file__).parent / "templates"
CSP_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
CONTENT_SECURITY_POLICY = "; ".join(CSP_DIRECTIVES)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
# A refusal that sends the browser elsewhere rather than showing a page.
REDIRECTS = {
    "no-session": ROOT + "/",
    "session-idle": ROOT + "/?notice=session_ended",
    "session-expired": ROOT + "/?notice=session_ended",
    "purpose-required": ROOT + "/purpose",
}

templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class ConsoleHeaders:
    """ASGI middleware: the security headers of every answer under ``/console``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == ROOT or path.startswith(ROOT + "/")):
            await self.app(scope, receive, send)
            return
        vendored = path.startswith((VENDOR + "/", STATIC + "/"))

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                headers["cache-control"] = "no-cache" if vendored else "no-store"
            await send(message)

        await self.app(scope, receive, sending)


def cookie_names(settings: Settings) -> tuple[str, str]:
    """The session's and the login attempt's cookies: ``__Host-`` when Secure."""
    prefix = "__Host-" if settings.console_secure_cookies else ""
    return f"{prefix}console-session", f"{prefix}console-login"


def set_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=settings.console_secure_cookies,
        httponly=True,
        samesite="lax",
    )


def delete_cookie(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name, path="/", secure=settings.console_secure_cookies, httponly=True, samesite="lax"
    )


@dataclass(frozen=True)
class Visitor:
    """The logged-in person of a request: their session, mapping and auditor."""

    id_hash: str
    person: ConsolePerson
    auditor: Participant
    csrf_token: str
    purpose: str | None

    @property
    def role(self) -> str:
        return self.person.role

    @property
    def auditor_name(self) -> str:
        return self.auditor.name


def visitor_of(
    session: Session, settings: Settings, raw: str | None, now: datetime
) -> Visitor | str:
    """The request's visitor, or why there is none (a refusal's code)."""
    found = repository.session_by_hash(session, service.digest(raw)) if raw else None
    person = repository.person(session, found.person_id) if found is not None else None
    if found is None or person is None:
        return "no-session"
    if now >= found.expires_at:
        return "session-expired"
    if (now - found.last_seen_at).total_seconds() > settings.console_idle_timeout_seconds:
        return "session-idle"
    auditor = service.usable_auditor(session, person)
    if auditor is None:
        return "auditor-inactive"
    return Visitor(found.id_hash, person, auditor, found.csrf_token, found.purpose)


class ConsoleRefusal(GatewayError):
    """A console request refused: a page (or a redirect) for the browser, and audited."""

    status = 403
    title = "Refused"

    def __init__(self, reason: str, status: int = 403) -> None:
        super().__init__(f"console: {reason}", slug=reason)
        self.status = status  # type: ignore[misc]


def current_visitor(request: Request, state: State, session: DbSession, audit: Audit) -> Visitor:
    """The logged-in person (their session touched), their auditor named in the audit."""
    settings = state.settings
    raw = request.cookies.get(cookie_names(settings)[0])
    now = utcnow()
    found = visitor_of(session, settings, raw, now)
    if isinstance(found, str):
        raise ConsoleRefusal(found, 401 if found in REDIRECTS else 403)
    audit.participant_id = found.auditor.id
    audit.participant_kind = str(ParticipantKind.AUDITOR)
    audit.acting_for = found.auditor.id
    audit.agent_id = found.person.id
    audit.purpose = found.purpose
    repository.touch(session, found.id_hash, now)
    return found


CurrentVisitor = Annotated[Visitor, Depends(current_visitor)]


def with_purpose(visitor: CurrentVisitor) -> Visitor:
    """The visitor, once they have stated their purpose."""
    if visitor.purpose is None:
        raise ConsoleRefusal("purpose-required", 401)
    return visitor


PurposefulVisitor = Annotated[Visitor, Depends(with_purpose)]


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


async def checked_form(request: Request, visitor: CurrentVisitor, state: State) -> FormData:
    """A POST's form, once its CSRF token is the session's and it comes from the console."""
    expected = _origin(state.settings.public_base_url)
    origin = request.headers.get("origin")
    referer = request.headers.get("referer")
    if origin is not None:
        same_origin = origin == expected
    else:
        same_origin = referer is not None and _origin(referer) == expected
    form = await request.form()
    token = form.get("csrf")
    if (
        not same_origin
        or not isinstance(token, str)
        or not hmac.compare_digest(token.encode(), visitor.csrf_token.encode())
    ):
        raise ConsoleRefusal("csrf")
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


@dataclass
class PostedForm:
    """What a console form's POST needs.

    Its visitor (with a purpose), the form checked against CSRF, the app's state, the
    transaction and its audit event.
    """

    visitor: PurposefulVisitor
    form: CheckedForm
    state: State
    session: DbSession
    audit: Audit


Posted = Annotated[PostedForm, Depends()]


def translator(request: Request) -> i18n.Translator:
    return i18n.Translator(i18n.language(request.headers.get("accept-language")))


def page(
    request: Request,
    name: str,
    visitor: Visitor | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The template ``name`` in the request's language."""
    html = templates.get_template(name).render(
        t=translator(request),
        root=ROOT,
        vendor=VENDOR,
        static=STATIC,
        visitor=visitor,
        **context,
    )
    return HTMLResponse(html, status_code=status)


async def refusal_page(request: Request, error: Exception) -> Response:
    """A refused console request: sent home or to the purpose, or told why, in French."""
    assert isinstance(error, ConsoleRefusal)  # noqa: S101 - registered for this type
    target = REDIRECTS.get(error.slug)
    if target is not None:
        return RedirectResponse(target, status_code=303)
    reason = (
        error.slug
        if f"refused.reason.{error.slug}" in i18n.catalogues()["fr"]
        else "invalid-request"
    )
    return page(request, "refused.html", status=error.status, reason=reason)
