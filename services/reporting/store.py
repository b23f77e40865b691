"""The reporting service's own tables (walking skeleton: schools seen)."""

from sqlalchemy import Column, DateTime, MetaData, String, Table

from shared.service import service_tables

metadata = MetaData()
outbox, inbox = service_tables(metadata)

schools = Table(
    "schools",
    metadata,
    Column("school_id", String(36), primary_key=True),
    Column("level", String(3), nullable=False),
    Column("registered_at", DateTime(timezone=True)),
)
