"""Log context and formatting: request/attempt/user ids on every line, JSON or text, no secrets.

- `bind(**fields)` adds fields (request_id, attempt_id, user_id, ...) to the current context; every
  log record emitted in that context carries them. The context is one mutable dict per request or
  task (`new_context`), so a field bound in a sync dependency that FastAPI runs in a worker thread
  (which gets a *copy* of the context variables) is still seen by the middleware's access line.
- `JsonFormatter`: one JSON object per line (time, level, logger, message, the bound fields,
  `extra=` fields such as path, status, duration_ms, and exc_info).
- `TextFormatter`: `time level logger: message [request_id=... attempt_id=...]`.
- Both scrub secrets from everything they write (`redact`): bearer tokens and JWTs, API keys
  (`sk-...`, `whsec_...`), `Authorization`/`Cookie` header values, `password=`/`api_key=`-style
  pairs, and the signature/credential/token parameters of presigned or signed URLs.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CONTEXT_FIELDS = ("request_id", "attempt_id", "user_id")
"""Fields copied from the context onto every record (when bound)."""

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "rekindle_log_context", default=None
)

REDACTED = "[REDACTED]"

# Order matters a little: whole header values first, then URL parameters, then bare tokens.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # "Authorization: Bearer abc", "'authorization': 'Basic abc'", "Cookie: a=b; c=d"
    (
        re.compile(
            r"(?i)(\b(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?)"
            r"(?:(?:bearer|basic|token)\s+)?[^\s\"',}]+"
        ),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(?i)(\b(?:set-)?cookie\b[\"']?\s*[:=]\s*[\"']?)[^\"'\n}]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + REDACTED),
    # URL query parameters and key=value / "key": "value" pairs whose name says secret.
    (
        re.compile(
            r"(?i)([?&;]|\b)((?:x-amz-)?(?:signature|sig|credential|security-token)|token|"
            r"access_token|refresh_token|id_token|api[_-]?key|apikey|secret|client_secret|"
            r"password|passwd|ticket|key-pair-id|policy)=([^&\s\"'#]+)"
        ),
        r"\1\2=" + REDACTED,
    ),
    (
        re.compile(
            r"(?i)([\"'](?:[a-z_]*(?:password|secret|api_key|apikey|token|authorization))[\"']"
            r"\s*:\s*[\"'])[^\"']+"
        ),
        r"\1" + REDACTED,
    ),
    # Bare credentials: JWTs, provider keys (SiliconFlow/OpenAI sk-, Stripe sk_/rk_/whsec_).
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{6,}"), REDACTED),
    (re.compile(r"\bwhsec_[A-Za-z0-9]{6,}"), REDACTED),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{6,}"), REDACTED),
]


def redact(text: str) -> str:
    """`text` with every secret we know the shape of replaced by `[REDACTED]`."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def current() -> dict[str, Any]:
    """The fields bound in this context (a copy)."""
    fields = _context.get()
    return dict(fields) if fields else {}


def bind(**fields: Any) -> None:
    """Add `fields` to the current context (creating one if there is none). None values unbind."""
    context = _context.get()
    if context is None:
        context = {}
        _context.set(context)
    for key, value in fields.items():
        if value is None:
            context.pop(key, None)
        else:
            context[key] = str(value) if not isinstance(value, int | float | bool) else value


@contextmanager
def new_context(**fields: Any) -> Iterator[dict[str, Any]]:
    """A fresh context for one request or task, with `fields` bound; restored afterwards."""
    context = {k: v for k, v in fields.items() if v is not None}
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


def start_context(**fields: Any) -> contextvars.Token[dict[str, Any] | None]:
    """Like `new_context` for code that cannot use a `with` (Celery signals); pair with
    `end_context(token)`."""
    return _context.set({k: v for k, v in fields.items() if v is not None})


def end_context(token: contextvars.Token[dict[str, Any] | None] | None) -> None:
    if token is None:
        _context.set(None)
        return
    try:
        _context.reset(token)
    except ValueError:  # reset from another context (a different thread): just clear
        _context.set(None)


class ContextFilter(logging.Filter):
    """Copies the bound context fields onto each record (as attributes) unless already set."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in current().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


# Attributes every LogRecord has; anything else on a record came from `extra=` or the context.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD and not key.startswith("_")
    }


def _iso(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, secrets redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extras(record).items():
            entry[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        # Redact the values before encoding: JSON escaping would hide quotes from the patterns.
        clean = {k: redact(v) if isinstance(v, str) else v for k, v in entry.items()}
        return json.dumps(clean, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message [key=value ...]`, secrets redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if extras:
            tail = " ".join(f"{k}={v}" for k, v in extras.items())
            head, sep, rest = line.partition("\n")  # keep tracebacks below the first line
            line = f"{head} [{tail}]{sep}{rest}"
        return redact(line)


def make_formatter(fmt: str) -> logging.Formatter:
    """`json` or `text` (anything else). Raises nothing."""
    return JsonFormatter() if fmt.lower() == "json" else TextFormatter()
