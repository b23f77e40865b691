"""The questionnaires shipped in the repository (services/surveys/questionnaires/*.json)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from .domain.questionnaire import Questionnaire, parse_questionnaire

FOLDER = Path(__file__).parent / "questionnaires"


@lru_cache(maxsize=1)
def shipped() -> dict[tuple[str, str], Questionnaire]:
    """Latest version per (programme kind, phase)."""
    latest: dict[tuple[str, str], Questionnaire] = {}
    for path in sorted(FOLDER.glob("*.json")):
        q = parse_questionnaire(json.loads(path.read_text(encoding="utf-8")))
        current = latest.get((q.key, q.phase))
        if current is None or q.version > current.version:
            latest[(q.key, q.phase)] = q
    return latest


def default_for(kind: str, phase: str) -> Questionnaire:
    found = shipped()
    return found.get((kind, phase)) or found[("girls_day", phase)]
