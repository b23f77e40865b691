"""The matching service's own tables."""

from sqlalchemy import MetaData

from shared.service import service_tables

metadata = MetaData()
outbox, inbox = service_tables(metadata)
