"""HTML pages: the pupil's survey (Dutch first, English with ?lang=en) and the teacher's overview."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from shared import dates

from .api import Ctx, Id
from .domain.questionnaire import InvalidAnswers
from .submissions import SurveyRefused, open_survey, submit
from .teachers import school_overview

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=FilePath(__file__).parent / "templates")
Lang = Annotated[Literal["nl", "en"], Query()]

TEXT = {
    "nl": {
        "unknown_token": (
            "Deze link kennen we niet",
            "Controleer of je de hele link hebt overgenomen of scan de QR-code opnieuw. Lukt het niet? Vraag je docent om je link.",
        ),
        "already_responded": (
            "Je hebt deze vragenlijst al ingevuld",
            "Bedankt! Je antwoorden zijn bewaard. Je kunt de vragenlijst maar één keer invullen.",
        ),
        "phase_not_open": ("Deze vragenlijst is nog niet open", "Je kunt hem invullen vanaf {opens}. Bewaar je link of QR-code tot dan."),
        "phase_closed": ("Deze vragenlijst is gesloten", "Hij kon worden ingevuld tot {closes}. Bedankt voor je interesse!"),
        "consent_required": (
            "We kunnen je antwoorden nog niet bewaren",
            "Omdat je jonger bent dan 16 jaar, moet een ouder of verzorger eerst toestemming geven. "
            "Vraag je docent ernaar. Er is niets van jou opgeslagen.",
        ),
        "thanks": ("Bedankt!", "Je antwoorden zijn goed ontvangen. Je kunt dit venster nu sluiten."),
        "teacher_link_invalid": (
            "Deze docentenlink klopt niet",
            "Gebruik de volledige link uit de e-mail van VHTO, of vraag VHTO om een nieuwe link.",
        ),
        "invalid": "Kijk nog even naar deze vragen:",
        "missing_one": "Bijna klaar! Deze vraag heeft nog geen antwoord:",
        "missing_many": "Bijna klaar! Deze vragen hebben nog geen antwoord:",
        "required": "verplicht",
        "optional": "mag je leeg laten",
        "send": "Versturen",
        "other_language": "English",
        "problem_title": "Er ging iets mis",
    },
    "en": {
        "unknown_token": (
            "We do not know this link",
            "Check that you copied the whole link or scan the QR code again. Still stuck? Ask your teacher for your link.",
        ),
        "already_responded": (
            "You have already filled in this questionnaire",
            "Thank you! Your answers are saved. The questionnaire can be filled in only once.",
        ),
        "phase_not_open": ("This questionnaire is not open yet", "You can fill it in from {opens}. Keep your link or QR code until then."),
        "phase_closed": ("This questionnaire has closed", "It could be filled in until {closes}. Thank you!"),
        "consent_required": (
            "We cannot save your answers yet",
            "Because you are under 16, a parent or guardian must give permission first. "
            "Please ask your teacher. Nothing about you has been saved.",
        ),
        "thanks": ("Thank you!", "Your answers have been received. You can close this window now."),
        "teacher_link_invalid": ("This teacher link is not valid", "Use the whole link from VHTO's e-mail, or ask VHTO for a new link."),
        "invalid": "Please have another look at these questions:",
        "missing_one": "Almost done! This question has no answer yet:",
        "missing_many": "Almost done! These questions have no answer yet:",
        "required": "required",
        "optional": "optional",
        "send": "Send",
        "other_language": "Nederlands",
        "problem_title": "Something went wrong",
    },
}


def _when(moment, lang: str) -> str:
    return dates.moment(moment, lang)


def _message(request: Request, lang: str, code: str, status: int, window=None) -> HTMLResponse:
    title, body = TEXT[lang][code]
    if window is not None:
        body = body.format(opens=_when(window.opens, lang), closes=_when(window.closes, lang))
    return templates.TemplateResponse(
        request, "message.html", {"lang": lang, "t": TEXT[lang], "title": title, "body": body, "code": code}, status_code=status
    )


def _form(request: Request, lang: str, survey, values: dict, problems: dict, status: int = 200, only_missing: bool = False) -> HTMLResponse:
    context = {"lang": lang, "t": TEXT[lang], "q": survey.questionnaire, "token": survey.token, "values": values, "problems": problems}
    return templates.TemplateResponse(request, "survey.html", {**context, "only_missing": only_missing}, status_code=status)


@router.get("/s/{token}", response_class=HTMLResponse)
async def survey_page(request: Request, token: str, ctx: Ctx, lang: Lang = "nl"):
    try:
        survey = await open_survey(ctx.runtime.engine, token, ctx.windows, ctx.clock())
    except SurveyRefused as exc:
        return _message(request, lang, exc.code, exc.status, exc.window)
    return _form(request, lang, survey, {}, {})


@router.post("/s/{token}", response_class=HTMLResponse)
async def survey_submit(request: Request, token: str, ctx: Ctx, lang: Lang = "nl"):
    form = await request.form()
    answers = {k: v for k, v in form.items() if isinstance(v, str) and k != "lang"}
    try:
        await submit(ctx.writer, token, answers, ctx.clock())
    except SurveyRefused as exc:
        return _message(request, lang, exc.code, exc.status, exc.window)
    except InvalidAnswers as exc:
        survey = await open_survey(ctx.runtime.engine, token, ctx.windows, ctx.clock())
        problems = {p.item: p.message(lang) for p in exc.problems}
        only_missing = all(p.code == "missing" for p in exc.problems)
        return _form(request, lang, survey, answers, problems, status=422, only_missing=only_missing)
    title, body = TEXT[lang]["thanks"]
    return templates.TemplateResponse(
        request, "message.html", {"lang": lang, "t": TEXT[lang], "title": title, "body": body, "code": "thanks"}, status_code=201
    )


@router.get("/leraar/{programme_id}/{school_id}", response_class=HTMLResponse)
async def teacher_page(
    request: Request, programme_id: Id, school_id: Id, ctx: Ctx, key: Annotated[str | None, Query(max_length=64)] = None, lang: Lang = "nl"
):
    if not ctx.keys.valid(programme_id, school_id, key):
        return _message(request, lang, "teacher_link_invalid", 403)
    overview = await school_overview(ctx, programme_id, school_id)
    context = {"lang": lang, "o": overview, "key": key, "when": lambda iso: dates.moment(iso, lang), "refresh_ms": TEACHER_REFRESH_MS}
    return templates.TemplateResponse(request, "teacher.html", context)


TEACHER_REFRESH_MS = 15_000  # how often the teacher page asks for the response rates
