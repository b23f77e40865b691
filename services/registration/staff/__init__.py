"""VHTO's staff pages in registration: staff accounts and the session every service verifies
(shared/staff.py), programmes, who registered, imports, exports, the audit log."""

from fastapi import APIRouter

from services.registration.staff import account_pages, audit_pages, import_pages, programme_pages, registration_pages, session_pages

router = APIRouter(include_in_schema=False)
router.include_router(session_pages.router)
router.include_router(account_pages.router)
router.include_router(audit_pages.router)
router.include_router(programme_pages.router)
router.include_router(registration_pages.router)
router.include_router(import_pages.router)
