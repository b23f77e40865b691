"""Questionnaires as data, and validation of one pupil's answers against them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PHASES = ("pre", "post")
LANGUAGES = ("nl", "en")
INTENTION_VALUES = ("yes", "maybe", "no")
ITEM_KINDS = ("likert", "intention", "text")


class QuestionnaireError(ValueError):
    """A questionnaire definition is malformed."""


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    text: dict[str, str]
    required: bool = True
    scale: int = 5
    construct: str = ""
    labels: dict[str, list[str]] = field(default_factory=dict)
    options: tuple[dict[str, Any], ...] = ()
    max_length: int = 1000

    @property
    def allowed_values(self) -> tuple[Any, ...]:
        if self.kind == "likert":
            return tuple(range(1, self.scale + 1))
        if self.kind == "intention":
            return INTENTION_VALUES
        return ()


@dataclass(frozen=True)
class Questionnaire:
    key: str
    phase: str
    version: int
    title: dict[str, str]
    intro: dict[str, str]
    items: tuple[Item, ...]

    @property
    def ref(self) -> str:
        return f"{self.key}.{self.phase}.v{self.version}"

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)


def _texts(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not isinstance(raw.get("nl"), str) or not raw["nl"].strip():
        raise QuestionnaireError(f"{where}: needs a Dutch text ('nl')")
    return {lang: str(raw.get(lang) or raw["nl"]) for lang in LANGUAGES}


def parse_questionnaire(raw: dict[str, Any]) -> Questionnaire:
    """Build a Questionnaire from its JSON form; raise QuestionnaireError on any defect."""
    if not isinstance(raw, dict):
        raise QuestionnaireError("a questionnaire is a JSON object")
    key, phase, version = raw.get("key"), raw.get("phase"), raw.get("version")
    if not isinstance(key, str) or not key:
        raise QuestionnaireError("key: required")
    if phase not in PHASES:
        raise QuestionnaireError("phase: must be 'pre' or 'post'")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise QuestionnaireError("version: a positive integer")
    raw_items = raw.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise QuestionnaireError("items: at least one item")
    items, seen = [], set()
    for n, ri in enumerate(raw_items):
        where = f"items[{n}]"
        if not isinstance(ri, dict):
            raise QuestionnaireError(f"{where}: an object")
        item_id, kind = ri.get("id"), ri.get("kind")
        if not isinstance(item_id, str) or not item_id or item_id in seen:
            raise QuestionnaireError(f"{where}.id: required and unique")
        if kind not in ITEM_KINDS:
            raise QuestionnaireError(f"{where}.kind: one of {', '.join(ITEM_KINDS)}")
        seen.add(item_id)
        scale = ri.get("scale", 5)
        if kind == "likert" and (not isinstance(scale, int) or not 3 <= scale <= 10):
            raise QuestionnaireError(f"{where}.scale: an integer from 3 to 10")
        max_length = ri.get("max_length", 1000)
        if not isinstance(max_length, int) or not 1 <= max_length <= 5000:
            raise QuestionnaireError(f"{where}.max_length: an integer from 1 to 5000")
        items.append(
            Item(
                id=item_id,
                kind=kind,
                text=_texts(ri.get("text"), f"{where}.text"),
                required=bool(ri.get("required", kind != "text")),
                scale=scale,
                construct=str(ri.get("construct", "")),
                labels={k: list(v) for k, v in (ri.get("labels") or {}).items() if isinstance(v, list)},
                options=tuple(ri.get("options") or ()),
                max_length=max_length,
            )
        )
    return Questionnaire(
        key=key,
        phase=phase,
        version=version,
        title=_texts(raw.get("title"), "title"),
        intro=_texts(raw.get("intro") or raw.get("title"), "intro"),
        items=tuple(items),
    )


@dataclass(frozen=True)
class AnswerProblem:
    item: str
    code: str  # missing, out_of_range, not_a_choice, too_long, unknown_item, wrong_type

    def message(self, lang: str = "nl") -> str:
        return PROBLEM_MESSAGES[self.code][lang if lang in LANGUAGES else "nl"]


PROBLEM_MESSAGES = {
    "missing": {"nl": "Deze vraag moet je nog beantwoorden.", "en": "Please answer this question."},
    "out_of_range": {"nl": "Kies een van de antwoorden op de schaal.", "en": "Choose one of the answers on the scale."},
    "not_a_choice": {"nl": "Kies ja, misschien of nee.", "en": "Choose yes, maybe or no."},
    "too_long": {"nl": "Dit antwoord is te lang.", "en": "This answer is too long."},
    "unknown_item": {"nl": "Deze vraag hoort niet bij de vragenlijst.", "en": "This question is not part of the questionnaire."},
    "wrong_type": {"nl": "Dit antwoord klopt niet.", "en": "This answer is not valid."},
}


class InvalidAnswers(ValueError):
    def __init__(self, problems: list[AnswerProblem]):
        super().__init__("; ".join(f"{p.item}: {p.code}" for p in problems))
        self.problems = problems


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _clean(item: Item, value: Any) -> tuple[Any, str | None]:
    if item.kind == "likert":
        if isinstance(value, bool):
            return None, "wrong_type"
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                return None, "wrong_type"
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            return None, "wrong_type"
        return (value, None) if 1 <= value <= item.scale else (None, "out_of_range")
    if not isinstance(value, str):
        return None, "wrong_type"
    if item.kind == "intention":
        v = value.strip().lower()
        return (v, None) if v in INTENTION_VALUES else (None, "not_a_choice")
    text = value.replace("\x00", "").strip()
    return (text, None) if len(text) <= item.max_length else (None, "too_long")


def validate_answers(questionnaire: Questionnaire, answers: dict[str, Any]) -> dict[str, Any]:
    """Return the cleaned answers, or raise InvalidAnswers listing every problem at once."""
    if not isinstance(answers, dict):
        raise InvalidAnswers([AnswerProblem("*", "wrong_type")])
    problems: list[AnswerProblem] = []
    cleaned: dict[str, Any] = {}
    known = {i.id for i in questionnaire.items}
    problems += [AnswerProblem(str(k), "unknown_item") for k in answers if k not in known]
    for item in questionnaire.items:
        value = answers.get(item.id)
        if _blank(value):
            if item.required:
                problems.append(AnswerProblem(item.id, "missing"))
            continue
        clean, code = _clean(item, value)
        if code:
            problems.append(AnswerProblem(item.id, code))
        else:
            cleaned[item.id] = clean
    if problems:
        raise InvalidAnswers(problems)
    return cleaned
