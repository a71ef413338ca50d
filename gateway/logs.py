"""Structured JSON logs on stderr: one object a line, with the request id, no personal data.

When a span is being traced (``gateway.tracing``), the line carries its ``trace_id`` and
``span_id``, so that a log line leads to its trace and back.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from sqlalchemy.exc import StatementError

# Attributes a LogRecord always has; anything else was passed in ``extra=`` and is kept.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        traced = trace.get_current_span().get_span_context()
        if traced.is_valid:
            entry.setdefault("trace_id", f"{traced.trace_id:032x}")
            entry.setdefault("span_id", f"{traced.span_id:016x}")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = name != "uvicorn.access"


def _statement_error(error: BaseException) -> StatementError | None:
    """The database error in ``error``'s chain of causes, if there is one."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, StatementError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def log_error(logger: logging.Logger, message: str, error: BaseException, **extra: Any) -> None:
    """Log an unexpected error with its traceback, never a database statement's values.

    A database error's text carries the statement's parameters (unless the engine hides
    them) and the driver's detail, which may quote a value (``Key (id)=(...)``): the
    caller's identifiers, search terms, query string. Such an error is logged as its
    kind, its statement (placeholders only) and its stack, without any message.
    """
    database = _statement_error(error)
    if database is None:
        logger.error(message, exc_info=error, extra=extra)
        return
    driver = type(database.orig).__name__ if database.orig is not None else "none"
    stack = "".join(traceback.format_tb(error.__traceback__))
    logger.error(
        "%s: %s (driver error %s) in the statement:\n%s\n%s",
        message,
        type(database).__name__,
        driver,
        database.statement,
        stack,
        extra=extra,
    )
