"""Logging setup: one line per record (JSON or text), with time, level, logger and context."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once (idempotent): `fmt` `json` or `text` (LOG_FORMAT), the
    request/attempt/user context on every line, secrets redacted (see `rekindle.logcontext`)."""
    from rekindle.logcontext import ContextFilter, make_formatter

    root = logging.getLogger()
    # httpx logs every request URL at INFO (provider CDN URLs carry signatures): warnings only.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    if getattr(root, "_rekindle_configured", False):
        root.setLevel(level.upper())
        for handler in root.handlers:
            if getattr(handler, "_rekindle", False):
                handler.setFormatter(make_formatter(fmt))
        return
    handler = logging.StreamHandler()
    handler.setFormatter(make_formatter(fmt))
    handler.addFilter(ContextFilter())
    handler._rekindle = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    root._rekindle_configured = True  # type: ignore[attr-defined]
