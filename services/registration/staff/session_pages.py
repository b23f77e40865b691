"""Staff login, logout, session renewal, the staff home page and accepting an invitation.

Registration signs the staff session (shared/staff.py); these pages are the only place it is
issued or renewed, so ending a login or deactivating an account takes effect at the next renewal
everywhere (within `REFRESH_AFTER_S` on pages, `staff_session_minutes` at most).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.registration.domain import staff as rules
from services.registration.domain.errors import Invalid
from services.registration.staff import accounts, identity
from services.registration.tx import read, write
from services.registration.web import LOCAL, errors_of, kit, lang, t
from shared import staff
from shared.pages import STAFF_NAV
from shared.staff import Role, StaffSession

router = APIRouter(include_in_schema=False)


def _signer(request: Request) -> staff.SessionSigner:
    return staff.signer(request)


def open_session(
    request: Request, row, login_id: str, *, csrf: str | None = None, logged_in_at: float | None = None
) -> tuple[str, StaffSession]:
    """Sign a session token for an account's login (the password form's and any identity provider's last step)."""
    token = _signer(request).sign(
        account_id=row.id, name=row.name, role=Role(row.role), login_id=login_id, csrf=csrf, logged_in_at=logged_in_at
    )
    return token, _signer(request).verify(token)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_page(request: Request, status: int = 200, **context) -> Response:
    settings = request.app.state.runtime.settings
    context.setdefault("next_url", staff.safe_next(settings, request.query_params.get("next"), ""))
    return kit.render(
        request,
        "staff_login.html",
        status,
        staff=None,
        login_action="/staff/login",
        expired=request.query_params.get("expired") == "1",
        **context,
    )


@router.get("/staff/login")
async def login_form(request: Request):
    identity.provider(request.app.state.runtime.settings)
    if staff.current(request) is not None and not request.query_params.get("expired"):
        return RedirectResponse(staff.safe_next(request.app.state.runtime.settings, request.query_params.get("next")), 303)
    notice = t(request)("logged_out") if request.query_params.get("logged_out") else None
    return _login_page(request, message_ok=notice)


@router.post("/staff/login")
async def login(request: Request):
    runtime = request.app.state.runtime
    settings = runtime.settings
    staff.check_origin(request)
    form = await request.form()
    email, password = str(form.get("email", "")).strip(), str(form.get("password", ""))
    next_url = staff.safe_next(settings, str(form.get("next", "")), "")
    resume_to = staff.safe_next(settings, str(form.get("resume_to", "")), "")
    resume = [(k.removeprefix("resume."), str(v)) for k, v in form.multi_items() if k.startswith("resume.") and isinstance(v, str)]
    context = {"next_url": next_url, "resume_to": resume_to, "resume": resume, "v": {"email": email}}
    tr = t(request)
    missing = {}
    if not email:
        missing["email"] = tr("rule_email_missing")
    if not password:
        missing["password"] = tr("rule_password_missing")
    if missing:
        return _login_page(request, 422, errors=missing, **context)
    try:
        row = await identity.provider(settings).authenticate(runtime, email, password, _address(request))
    except accounts.LoginFailed as failed:
        if failed.locked_until:
            when = failed.locked_until.astimezone(LOCAL).strftime("%H:%M")
            return _login_page(request, 429, message=tr("login_throttled").format(time=when), **context)
        return _login_page(request, 401, errors={"email": tr("login_failed_staff")}, **context)
    rehashed = await accounts.hash_password(password) if accounts.needs_rehash(row.password_hash) else None
    login_id = await write(runtime, lambda conn: accounts.start_login(conn, row.id, email, rehashed=rehashed))
    token, session = open_session(request, row, login_id)
    if resume_to and resume:
        response = kit.render(request, "staff_resume.html", 200, staff=session, resume_to=resume_to, resume=resume, next_url=next_url)
    else:
        response = RedirectResponse(next_url or f"/staff?lang={lang(request)}", 303)
    staff.set_cookie(response, request, token)
    return response


@router.post("/staff/logout")
async def logout(request: Request):
    """Always logs out: with a valid session (and its CSRF token) the login is ended here too."""
    session = staff.current(request)
    if session is not None:
        await staff.check_csrf(request, session)
        await write(request.app.state.runtime, lambda conn: accounts.end_login(conn, session.login_id))
    response = RedirectResponse(f"/staff/login?logged_out=1&lang={lang(request)}", 303)
    staff.clear_cookie(response)
    return response


@router.get("/staff/renew")
async def renew(request: Request):
    settings = request.app.state.runtime.settings
    next_url = staff.safe_next(settings, request.query_params.get("next"))
    try:
        session = staff.session_of(request)
    except staff.LoginRequired as exc:
        return RedirectResponse(staff.login_url(settings, next_url, expired=exc.expired), 303)
    row = await write(request.app.state.runtime, lambda conn: accounts.renewable(conn, session.login_id))
    if row is None:  # logged out elsewhere, or the account was deactivated
        response = RedirectResponse(staff.login_url(settings, next_url, expired=True), 303)
        staff.clear_cookie(response)
        return response
    token, _ = open_session(request, row, session.login_id, csrf=session.csrf, logged_in_at=session.logged_in_at)
    response = RedirectResponse(next_url, 303)
    staff.set_cookie(response, request, token)
    return response


@router.get("/staff")
async def home(request: Request, who: StaffSession = staff.require(Role.kijker)):
    settings = request.app.state.runtime.settings
    tr = t(request)
    sections = [
        {
            "label": tr(item.label),
            "text": tr(item.label + "_text"),
            "url": f"{settings.public_url(item.service)}{item.path}?lang={lang(request)}",
        }
        for item in STAFF_NAV
        if who.can(item.role)
    ]
    return kit.render(request, "staff_home.html", sections=sections)


# --- invitations --------------------------------------------------------------------------------


@router.get("/staff/welcome")
async def welcome_form(request: Request, token: str = ""):
    row = await read(request.app.state.runtime, lambda conn: accounts.invitation(conn, token)) if token else None
    if row is None:
        return kit.render(
            request,
            "message.html",
            410,
            staff=None,
            title=t(request)("invitation_invalid"),
            paragraphs=[t(request)("invitation_invalid_text")],
        )
    return kit.render(request, "staff_welcome.html", staff=None, account=None, invited=row, token=token)


@router.post("/staff/welcome")
async def welcome(request: Request):
    staff.check_origin(request)
    runtime = request.app.state.runtime
    form = await request.form()
    token, password, again = str(form.get("token", "")), str(form.get("password", "")), str(form.get("password_again", ""))
    row = await read(runtime, lambda conn: accounts.invitation(conn, token)) if token else None
    if row is None:
        return kit.render(
            request,
            "message.html",
            410,
            staff=None,
            title=t(request)("invitation_invalid"),
            paragraphs=[t(request)("invitation_invalid_text")],
        )
    problems = rules.validate_password(password, again, email=row.email)
    if problems:
        return kit.render(
            request, "staff_welcome.html", 422, staff=None, invited=row, token=token, errors=errors_of(request, Invalid(problems))
        )
    password_hash = await accounts.hash_password(password)
    accepted = await write(runtime, lambda conn: accounts.accept_invitation(conn, token, password_hash))
    if accepted is None:
        return kit.render(
            request,
            "message.html",
            410,
            staff=None,
            title=t(request)("invitation_invalid"),
            paragraphs=[t(request)("invitation_invalid_text")],
        )
    login_id = await write(runtime, lambda conn: accounts.start_login(conn, accepted.id, accepted.email))
    token_, _ = open_session(request, accepted, login_id)
    response = RedirectResponse(f"/staff?lang={lang(request)}", 303)
    staff.set_cookie(response, request, token_)
    return response
