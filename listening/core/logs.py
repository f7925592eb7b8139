"""Logging with the request or job id on every line, and never a secret.

Entry points set ``context_id``: the request id (listening/web/deps.py), the RQ job id (jobs/).
"""
from __future__ import annotations

import contextvars
import logging
import re

context_id: contextvars.ContextVar[str] = contextvars.ContextVar("log_context_id", default="-")

# Belt and braces: a bearer token or an OAuth secret that slips into a message is masked, and
# so are our own API keys and webhook secrets, whatever precedes them.
_SECRET = re.compile(
    r"(?i)(bearer\s+|(?:access|refresh|id)_token['\"=:\s]+|client_secret['\"=:\s]+|code['\"=:\s]+)"
    r"[A-Za-z0-9._~+/=-]{8,}")
_OURS = re.compile(r"\b(lst_|whsec_)[A-Za-z0-9_+/=-]{8,}")
# PostgreSQL quotes row values in its error details (a unique violation names the email, a NOT
# NULL violation prints the whole row), and a statement's parameters may follow it.
_ROW_VALUES = re.compile(r"(Key \(.*?\)=\(|Failing row contains \(|\[parameters: )[^\n]*")


def mask(text: str) -> str:
    return _ROW_VALUES.sub(r"\1[redacted]", _OURS.sub(r"\1[redacted]", _SECRET.sub(r"\1[redacted]", text)))


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.context_id = context_id.get()
        if isinstance(record.msg, str) and not record.args:
            record.msg = mask(record.msg)
        elif record.args:
            try:
                message = record.getMessage()
            except (TypeError, ValueError):
                return True
            record.msg, record.args = mask(message), None
        return True


class MaskingFormatter(logging.Formatter):
    """Masks the whole formatted line: the message with its arguments, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


def configure(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(isinstance(f, ContextFilter) for h in root.handlers for f in h.filters):
        return
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s [%(context_id)s] %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
