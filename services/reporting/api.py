"""HTTP routes of the reporting service (walking skeleton: summary)."""

from fastapi import APIRouter, Request
from sqlalchemy import func, select

from services.reporting.store import schools

router = APIRouter(prefix="/api")


@router.get("/summary")
async def summary(request: Request) -> dict:
    async with request.app.state.runtime.sessions() as session:
        count = (await session.execute(select(func.count()).select_from(schools))).scalar_one()
    return {"schools": count}
