"""Structured JSON logs; every line written while handling an event carries its event id."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

current_event_id: ContextVar[str | None] = ContextVar("current_event_id", default=None)


class _EventContext(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        event_id = current_event_id.get()
        if event_id is not None:
            record.event_id = event_id
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter("{asctime}{levelname}{name}{message}", style="{", rename_fields={"levelname": "level", "asctime": "time"})
    )
    handler.addFilter(_EventContext(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_libraries()


# Loggers that would write request paths or SQL parameters (pupils' codes, contacts' e-mail
# addresses) at INFO or DEBUG: held at WARNING whatever GIRLSDAY_LOG_LEVEL says.
QUIET = ("uvicorn.access", "aiosqlite", "sqlalchemy.engine", "asyncpg")


def quiet_libraries() -> None:
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
