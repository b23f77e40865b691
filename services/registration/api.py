"""HTTP routes of the registration service (walking skeleton: schools)."""

import uuid
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select

from services.registration.store import schools
from shared.contracts import SchoolRegistered

router = APIRouter(prefix="/api")


class SchoolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    brin: str = Field(pattern=r"^\d{2}[A-Z]{2}$", examples=["12AB"])
    name: str = Field(min_length=1, max_length=200, examples=["Het Baken"])
    level: Literal["po", "vo", "mbo"]
    postcode: str = Field(pattern=r"^\d{4} ?[A-Z]{2}$", examples=["3511 AB"])


@router.post("/schools", status_code=status.HTTP_201_CREATED)
async def register_school(body: SchoolIn, request: Request) -> dict:
    runtime = request.app.state.runtime
    school_id = str(uuid.uuid4())
    async with runtime.sessions() as session, session.begin():
        existing = (await session.execute(select(schools.c.id).where(schools.c.brin == body.brin))).scalar()
        if existing:
            raise HTTPException(status.HTTP_409_CONFLICT, {"message": "school already registered", "school_id": existing})
        now = datetime.now(UTC)
        await session.execute(insert(schools).values(id=school_id, created_at=now, **body.model_dump()))
        await runtime.outbox.add(
            session, SchoolRegistered(school_id=school_id, registered_at=now, **body.model_dump()), subject=f"school/{school_id}"
        )
    return {"id": school_id, **body.model_dump()}
