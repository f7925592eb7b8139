"""Logging with the request or job id on every line, and never a secret.

Entry points set ``context_id``: the request id (listening/web/deps.py), the RQ job id (jobs/).
"""
from __future__ import annotations

import contextvars
import logging
import re
import sys

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


class PassingHandler(logging.StreamHandler):
    """Lets through the exceptions a signal handler raises to interrupt the process.

    RQ's worker raises StopRequested from its SIGTERM handler to leave its wait for a job. A
    signal that lands while a line is being written raises it inside ``emit``, where logging
    would report it as a failure to log and swallow it, and the worker would never stop.
    Failures of the logging itself are still reported and swallowed."""

    def __init__(self, interruptions: tuple[type[BaseException], ...] = ()):
        super().__init__()
        self.interruptions = interruptions

    def handleError(self, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], self.interruptions):
            raise  # noqa: PLE0704 - called by emit's except block: re-raises what it caught
        super().handleError(record)


def configure(level: str = "INFO", interruptions: tuple[type[BaseException], ...] = ()) -> None:
    """Log to stderr with the context id and masking. ``interruptions``: exceptions that a
    signal handler of this process raises, which must reach the code they interrupt."""
    root = logging.getLogger()
    for existing in root.handlers:
        if isinstance(existing, PassingHandler):  # configured already: only add what is new
            existing.interruptions += tuple(i for i in interruptions if i not in existing.interruptions)
            return
    handler = PassingHandler(interruptions)
    handler.addFilter(ContextFilter())
    handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s [%(context_id)s] %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
