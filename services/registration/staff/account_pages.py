"""Staff accounts (beheerder only): the list, inviting a colleague, changing a role, deactivating.

An invited colleague sets her own password through a one-time link (valid 7 days). Every change
is written to the audit log in the same transaction.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from services.registration.domain import staff as rules
from services.registration.domain.errors import Invalid
from services.registration.errors import NotFound
from services.registration.staff import accounts
from services.registration.tx import read, write
from services.registration.web import LOCAL, errors_of, kit, lang, t
from shared import audit, staff
from shared.staff import ROLE_ORDER, Role, StaffSession

router = APIRouter(include_in_schema=False)
BEHEERDER = staff.require(Role.beheerder)


def _roles(request: Request) -> list[tuple[str, str]]:
    tr = t(request)
    return [(str(r), f"{tr('role_' + r)} — {tr('role_' + r + '_text')}") for r in ROLE_ORDER]


def _invite_url(request: Request, token: str) -> str:
    return f"{request.app.state.runtime.settings.public_url('registration')}/staff/welcome?token={token}"


def _view(row) -> dict:
    state = "active" if row.active and row.password_hash else ("invited" if row.active else "inactive")
    last = row.last_login_at.astimezone(LOCAL).strftime("%d-%m-%Y %H:%M") if row.last_login_at else ""
    return {"id": row.id, "name": row.name, "email": row.email, "role": row.role, "state": state, "last_login": last}


@router.get("/staff/accounts")
async def account_list(request: Request, who: StaffSession = BEHEERDER):
    rows = await read(request.app.state.runtime, accounts.list_accounts)
    return kit.render(request, "staff_accounts.html", accounts=[_view(r) for r in rows])


@router.get("/staff/accounts/new")
async def invite_form(request: Request, who: StaffSession = BEHEERDER):
    return kit.render(request, "staff_account_new.html", roles=_roles(request), v={"role": "medewerker"})


@router.post("/staff/accounts/new")
async def invite(request: Request, who: StaffSession = BEHEERDER):
    runtime = request.app.state.runtime
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("name", "email", "role")}
    account = rules.StaffAccount(values["name"], values["email"], values["role"])

    def act(conn):
        row, token = accounts.create_account(conn, account, invite=True)
        audit.record_sync(conn, runtime.outbox, who, "staff.invited", subject=("staff_account", row.id), role=row.role)
        return row, token

    try:
        row, token = await write(runtime, act)
    except Invalid as exc:
        return kit.render(request, "staff_account_new.html", 422, roles=_roles(request), v=values, errors=errors_of(request, exc))
    return kit.render(request, "staff_invited.html", 201, account=_view(row), invite_url=_invite_url(request, token))


async def _account(request: Request, account_id: str):
    try:
        return await read(request.app.state.runtime, lambda conn: accounts.account_by_id(conn, account_id))
    except NotFound:
        return None


def _not_found(request: Request):
    return kit.render(request, "message.html", 404, title=t(request)("account_not_found"), paragraphs=[])


@router.get("/staff/accounts/{account_id}")
async def account_detail(request: Request, account_id: str, who: StaffSession = BEHEERDER):
    row = await _account(request, account_id)
    if row is None:
        return _not_found(request)
    done = request.query_params.get("done")
    return kit.render(
        request, "staff_account.html", account=_view(row), roles=_roles(request), v={"role": row.role}, done=done, me=who.account_id
    )


@router.post("/staff/accounts/{account_id}/role")
async def change_role(request: Request, account_id: str, who: StaffSession = BEHEERDER):
    runtime = request.app.state.runtime
    role = str((await request.form()).get("role", ""))

    def act(conn):
        before = accounts.change_role(conn, who.account_id, account_id, role)
        if before.role != role:
            audit.record_sync(
                conn, runtime.outbox, who, "staff.role_changed", subject=("staff_account", account_id), before=before.role, after=role
            )

    try:
        await write(runtime, act)
    except NotFound:
        return _not_found(request)
    except Invalid as exc:
        row = await _account(request, account_id)
        return kit.render(
            request,
            "staff_account.html",
            422,
            account=_view(row),
            roles=_roles(request),
            v={"role": role},
            errors=errors_of(request, exc),
            me=who.account_id,
        )
    return RedirectResponse(f"/staff/accounts/{account_id}?done=role&lang={lang(request)}", 303)


@router.get("/staff/accounts/{account_id}/deactivate")
async def deactivate_confirm(request: Request, account_id: str, who: StaffSession = BEHEERDER):
    row = await _account(request, account_id)
    if row is None:
        return _not_found(request)
    tr = t(request)
    return kit.render(
        request,
        "confirm.html",
        title=tr("deactivate_title").format(name=row.name),
        consequences=[tr("deactivate_consequence")],
        action=f"/staff/accounts/{account_id}/deactivate?lang={lang(request)}",
        confirm_label=tr("deactivate"),
        cancel_url=f"/staff/accounts/{account_id}?lang={lang(request)}",
        danger=True,
    )


async def _set_active(request: Request, account_id: str, who: StaffSession, active: bool):
    runtime = request.app.state.runtime

    def act(conn):
        accounts.set_active(conn, who.account_id, account_id, active)
        audit.record_sync(
            conn, runtime.outbox, who, "staff.activated" if active else "staff.deactivated", subject=("staff_account", account_id)
        )

    try:
        await write(runtime, act)
    except NotFound:
        return _not_found(request)
    except Invalid as exc:
        row = await _account(request, account_id)
        refused = next(iter(errors_of(request, exc).values()))
        return kit.render(
            request,
            "staff_account.html",
            409,
            account=_view(row),
            roles=_roles(request),
            v={"role": row.role},
            notice=refused,
            me=who.account_id,
        )
    return RedirectResponse(f"/staff/accounts/{account_id}?done={'activated' if active else 'deactivated'}&lang={lang(request)}", 303)


@router.post("/staff/accounts/{account_id}/deactivate")
async def deactivate(request: Request, account_id: str, who: StaffSession = BEHEERDER):
    return await _set_active(request, account_id, who, False)


@router.post("/staff/accounts/{account_id}/activate")
async def activate(request: Request, account_id: str, who: StaffSession = BEHEERDER):
    return await _set_active(request, account_id, who, True)


@router.post("/staff/accounts/{account_id}/invitation")
async def new_invitation(request: Request, account_id: str, who: StaffSession = BEHEERDER):
    runtime = request.app.state.runtime

    def act(conn):
        row = accounts.account_by_id(conn, account_id)
        token = accounts.reinvite(conn, account_id)
        audit.record_sync(conn, runtime.outbox, who, "staff.invited", subject=("staff_account", account_id), role=row.role)
        return row, token

    try:
        row, token = await write(runtime, act)
    except NotFound:
        return _not_found(request)
    return kit.render(request, "staff_invited.html", 201, account=_view(row), invite_url=_invite_url(request, token))
