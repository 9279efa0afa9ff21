"""Structured JSON logs. Event and trace ids ride in context variables; personal data is never logged.

Callers log ids and counts, never payloads. As a second line of defence the formatter drops any `extra` key named
like a personal field.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

event_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("event_id", default=None)
trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)

PII_KEYS = frozenset(
    {
        "name",
        "full_name",
        "email",
        "emails",
        "phone",
        "phones",
        "address",
        "addresses",
        "birth_date",
        "data",
        "body",
    }
)
_STD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if (eid := event_id_var.get()) is not None:
            out["event_id"] = eid
        if (tid := trace_id_var.get()) is not None:
            out["trace_id"] = tid
        for key, value in record.__dict__.items():
            if key in _STD_ATTRS or key.startswith("_") or key in out:
                continue
            out[key] = "[redacted]" if key in PII_KEYS else value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "pymongo", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # uvicorn's access log would print query strings (which can hold emails); our own middleware logs requests.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error", "faststream"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
