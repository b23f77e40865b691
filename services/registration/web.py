"""Registration's pages on the shared layout (shared/pages.py): one kit for the school and company
pages and the staff pages, with registration's messages (templates/messages.json)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import Request
from pydantic import ValidationError

from services.registration.domain.errors import Invalid
from shared.pages import Pages, lang_of

TEMPLATES = Path(__file__).parent / "templates"
LOCAL = ZoneInfo("Europe/Amsterdam")
kit = Pages("registration", TEMPLATES)


def lang(request: Request) -> str:
    return lang_of(request)


def t(request: Request):
    return kit.t(lang_of(request))


def errors_of(request: Request, exc: Invalid | ValidationError, **fmt) -> dict[str, str]:
    """Field -> Dutch (or English) message, one per field, for the error summary and the fields."""
    language = lang_of(request)
    out: dict[str, str] = {}
    if isinstance(exc, ValidationError):
        for e in exc.errors():
            out.setdefault(".".join(str(p) for p in e["loc"]), kit.rule_text(language, e["type"], **fmt))
    else:
        for v in exc.violations:
            out.setdefault(v.field, kit.rule_text(language, v.rule, **fmt))
    return out
