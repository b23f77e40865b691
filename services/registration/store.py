"""The registration service's own tables."""

from sqlalchemy import Column, DateTime, MetaData, String, Table

from shared.service import service_tables

metadata = MetaData()
outbox, inbox = service_tables(metadata)

schools = Table(
    "schools",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("brin", String(4), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("level", String(3), nullable=False),
    Column("postcode", String(7), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
