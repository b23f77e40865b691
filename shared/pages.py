"""One page layout and stylesheet for every service's pages (Dutch first, English with ?lang=en).

A service makes one `Pages` with its own templates folder and messages; its templates extend
`layout.html` and import the form macros from `forms.html` (both in shared/templates):

    pages_kit = Pages("matching", Path(__file__).parent / "templates")
    ...
    return pages_kit.render(request, "runs.html", runs=runs)

`render` gives every template `lang`, `t(key)` (the service's messages over the shared ones),
`staff` (the verified staff session, or None), the staff navigation across the four services
(links by each service's public URL), `csrf_field()`, the language switch and the stylesheet.
Every service serves shared/static at `/assets/` (`install`, called by `shared.service.create_app`),
and answers a missing or too-weak staff session the same way: a page redirects to the login
(registration's), a form post shows the login with what was typed kept, the JSON API answers
401/403 (see shared/staff.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.datastructures import UploadFile

from shared import staff
from shared.settings import Settings
from shared.staff import Role, StaffSession

SHARED = Path(__file__).resolve().parent
TEMPLATES = SHARED / "templates"
STATIC = SHARED / "static"
LANGS = ("nl", "en")
LANG_COOKIE = "gd_lang"
# Fields never carried over an expired session (secrets, tokens, files)
NOT_RESUMED = frozenset({"_csrf", "password", "password_again", "secret", "_key"})


@dataclass(frozen=True)
class NavItem:
    service: str
    path: str
    label: str  # message key
    role: Role = Role.kijker


# The staff navigation across the services: every service's staff pages live under /staff on it.
STAFF_NAV = (
    NavItem("registration", "/staff/programmes", "nav_programmes"),
    NavItem("registration", "/staff/registrations", "nav_registrations"),
    NavItem("registration", "/staff/imports", "nav_imports", Role.medewerker),
    NavItem("matching", "/staff", "nav_matching"),
    NavItem("surveys", "/staff", "nav_surveys"),
    NavItem("reporting", "/staff", "nav_reporting"),
    NavItem("registration", "/staff/accounts", "nav_accounts", Role.beheerder),
    NavItem("registration", "/staff/audit", "nav_audit", Role.beheerder),
)


@cache
def _shared_messages() -> dict:
    return json.loads((TEMPLATES / "messages.json").read_text(encoding="utf-8"))


def lang_of(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "nl"
    return lang if lang in LANGS else "nl"


def public_url_of(request: Request) -> str:
    """This request's URL as people reach it (the service's public URL, path and query)."""
    runtime = request.app.state.runtime
    query = request.url.query
    return runtime.settings.public_url(runtime.name) + request.url.path + (f"?{query}" if query else "")


def with_lang(request: Request, lang: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    params.append(("lang", lang))
    return f"{request.url.path}?{urlencode(params)}"


class Pages:
    """Templates of one service on the shared layout, with its messages over the shared ones."""

    def __init__(self, service: str, templates: Path | None = None, messages: Path | None = None) -> None:
        self.service = service
        loaders = [FileSystemLoader(templates)] if templates else []
        loaders.append(FileSystemLoader(TEMPLATES))
        self.env = Environment(loader=ChoiceLoader(loaders), autoescape=select_autoescape(["html"]))
        self._messages_path = messages if messages else (templates / "messages.json" if templates else None)
        self._messages: dict | None = None

    def messages(self) -> dict:
        if self._messages is None:
            merged = {section: dict(values) for section, values in _shared_messages().items()}
            if self._messages_path and self._messages_path.exists():
                for section, values in json.loads(self._messages_path.read_text(encoding="utf-8")).items():
                    merged.setdefault(section, {}).update(values)
            self._messages = merged
        return self._messages

    def t(self, lang: str):
        ui = self.messages()["ui"]
        return lambda key: ui.get(key, {}).get(lang, key)

    def rule_text(self, lang: str, rule: str, **fmt) -> str:
        rules = self.messages()["rules"]
        text = rules.get(rule, rules["default"])[lang]
        try:
            return text.format(**fmt)
        except (KeyError, IndexError):
            return text

    def context(self, request: Request, **extra) -> dict:
        lang = lang_of(request)
        t = self.t(lang)
        # `staff=None` renders a page without the staff header (a school's page, the login)
        session = extra.pop("staff") if "staff" in extra else staff.current(request)
        settings: Settings = request.app.state.runtime.settings
        nav = []
        if session is not None:
            for item in STAFF_NAV:
                if session.can(item.role):
                    current = item.service == self.service and request.url.path.startswith(item.path)
                    url = f"{settings.public_url(item.service)}{item.path}?lang={lang}"
                    nav.append({"label": t(item.label), "url": url, "current": current})
            if not any(n["current"] for n in nav) and self.service != "registration":
                for n in nav:  # a service's own /staff pages: mark its entry
                    n["current"] = n["url"].startswith(settings.public_url(self.service))
        csrf = session.csrf if session else ""
        other = "en" if lang == "nl" else "nl"
        return {
            "lang": lang,
            "t": t,
            "other_lang": other,
            "lang_url": with_lang(request, other),
            "staff": session,
            "staff_nav": nav,
            "csrf": csrf,
            "csrf_field": lambda: Markup(f'<input type="hidden" name="{staff.CSRF_FIELD}" value="{escape(csrf)}">'),
            "logout_url": f"{settings.public_url('registration')}/staff/logout?lang={lang}",
            "staff_home": f"{settings.public_url('registration')}/staff?lang={lang}",
            "errors": {},
            "v": {},
            **extra,
        }

    def render(self, request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        html = self.env.get_template(name).render(**self.context(request, **context))
        response = HTMLResponse(html, status)
        if request.query_params.get("lang") in LANGS:
            response.set_cookie(LANG_COOKIE, request.query_params["lang"], max_age=365 * 86400, samesite="lax")
        return response


async def resume_fields(request: Request) -> list[tuple[str, str]]:
    """What a person typed in a form, to carry through a login (never secrets or files)."""
    try:
        form = await request.form()
    except Exception:  # not a form
        return []
    return [(k, v) for k, v in form.multi_items() if k not in NOT_RESUMED and not isinstance(v, UploadFile) and isinstance(v, str)]


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def install(app: FastAPI, service: str) -> None:
    """Serve the shared stylesheet and answer missing or too-weak staff sessions alike everywhere."""
    app.mount("/assets", StaticFiles(directory=STATIC), name="assets")
    kit = Pages(service)

    async def login_required(request: Request, exc: staff.LoginRequired) -> Response:
        settings: Settings = request.app.state.runtime.settings
        if _is_api(request):
            return JSONResponse(
                {"detail": {"type": "staff_login_required", "msg": "log in as staff (the gd_staff session cookie) or use the admin token"}},
                401,
            )
        if request.method in staff.SAFE_METHODS:
            response = RedirectResponse(staff.login_url(settings, public_url_of(request), expired=exc.expired), 303)
        else:
            back = request.headers.get("referer") or public_url_of(request)
            response = kit.render(
                request,
                "staff_login.html",
                401,
                staff=None,
                expired=True,
                next_url=staff.safe_next(settings, back),
                resume_to=public_url_of(request),
                resume=await resume_fields(request),
                login_action=f"{settings.public_url('registration')}/staff/login",
            )
        if exc.expired:
            staff.clear_cookie(response)
        return response

    async def renew(request: Request, _exc: staff.RenewSession) -> Response:
        return RedirectResponse(staff.renew_url(request.app.state.runtime.settings, public_url_of(request)), 303)

    async def forbidden(request: Request, exc: staff.StaffForbidden) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": {"type": f"staff_{exc.reason}", "msg": str(exc), "needed_role": str(exc.needed)}}, 403)
        return kit.render(request, "forbidden.html", 403, staff=exc.session, needed=str(exc.needed), reason=exc.reason)

    app.add_exception_handler(staff.LoginRequired, login_required)
    app.add_exception_handler(staff.RenewSession, renew)
    app.add_exception_handler(staff.StaffForbidden, forbidden)


__all__ = ["Pages", "STAFF_NAV", "install", "lang_of", "public_url_of", "StaffSession"]
