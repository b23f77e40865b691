"""Why a survey cannot be shown or answered."""

from __future__ import annotations

from typing import Any


class SurveyRefused(Exception):
    """`status` is the HTTP status, `code` the reason; `window` the phase's window where known."""

    def __init__(self, status: int, code: str, window: Any = None) -> None:
        super().__init__(code)
        self.status, self.code, self.window = status, code, window
