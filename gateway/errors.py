"""One error base class, carrying its HTTP status and RFC 9457 problem type.

Exception tree::

    GatewayError
    ├── BadRequest (400)
    │   ├── InvalidField (400): names the field and the rule it broke
    │   ├── InvalidFields (400): the same problem, for several fields at once
    │   └── OAuthError (400 or 401): also carries the RFC 6749 ``error`` code
    ├── Unauthenticated (401)
    ├── Forbidden (403)
    ├── NotFound (404)
    ├── Conflict (409)
    ├── PayloadTooLarge (413)
    └── ServiceUnavailable (503)
        └── DatabaseUnavailable (503): the database is out of reach; Retry-After
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

PROBLEM_BASE = "/problems/"


@dataclass(frozen=True)
class FieldError:
    """One broken rule: where (a dotted path or a header name) and which rule."""

    field: str
    rule: str
    message: str
    line: int | None = None  # in an uploaded file, the 1-based line it was found on

    def as_dict(self) -> dict[str, str | int]:
        found: dict[str, str | int] = {"field": self.field, "rule": self.rule}
        if self.line is not None:
            found["line"] = self.line
        found["message"] = self.message
        return found


class GatewayError(Exception):
    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        if slug is not None:
            self.slug = slug  # type: ignore[misc]
        self.headers = headers or {}

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.slug

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [error.as_dict() for error in self.errors]
        return body


class BadRequest(GatewayError):
    status = 400
    slug = "bad-request"
    title = "Bad request"


class InvalidField(BadRequest):
    slug = "invalid-field"
    title = "A field breaks a rule"

    def __init__(self, field: str, rule: str, message: str, **kwargs: Any) -> None:
        super().__init__(message, errors=[FieldError(field, rule, message)], **kwargs)


class InvalidFields(BadRequest):
    """Rules broken between fields (a number against a sex): each field named, with its rule."""

    slug = "invalid-field"
    title = "A field breaks a rule"

    def __init__(self, detail: str, errors: list[FieldError], **kwargs: Any) -> None:
        super().__init__(detail, errors=errors, **kwargs)


class OAuthError(GatewayError):
    """A token endpoint error: a problem document that also carries RFC 6749 members."""

    status = 400
    slug = "oauth-error"
    title = "Token request refused"

    def __init__(self, error: str, detail: str, *, status: int = 400, **kwargs: Any) -> None:
        super().__init__(detail, slug=error.replace("_", "-"), **kwargs)
        self.error = error
        self.status = status  # type: ignore[misc]

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body = super().problem(instance)
        body["error"] = self.error
        body["error_description"] = self.detail
        return body


class Unauthenticated(GatewayError):
    status = 401
    slug = "unauthenticated"
    title = "Authentication required"


class Forbidden(GatewayError):
    status = 403
    slug = "forbidden"
    title = "Not allowed"


class NotFound(GatewayError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(GatewayError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class PayloadTooLarge(GatewayError):
    status = 413
    slug = "payload-too-large"
    title = "Request body too large"


class ServiceUnavailable(GatewayError):
    status = 503
    slug = "not-ready"
    title = "Not ready"


class DatabaseUnavailable(ServiceUnavailable):
    slug = "database-unavailable"
    title = "Database unavailable"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "the gateway cannot reach its database; nothing was done: retry later",
            headers={"Retry-After": str(retry_after)},
        )
