"""The registration service's own tables and the queries the routes share."""

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text

from shared.service import service_tables

metadata = MetaData()
outbox, inbox = service_tables(metadata)

programmes = Table(
    "programmes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("event_date", Date, nullable=False),
    Column("opens_at", DateTime(timezone=True), nullable=False),
    Column("closes_at", DateTime(timezone=True), nullable=False),
    Column("allocation_mode", String(16), nullable=False),
    Column("min_group_size", Integer, nullable=False),
    Column("max_group_size", Integer),
    Column("min_age", Integer, nullable=False),
    Column("max_age", Integer, nullable=False),
    Column("target_pupils", Integer, nullable=False),
    Column("target_schools", Integer, nullable=False),
    Column("target_companies", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

schools = Table(
    "schools",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("brin", String(4), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("level", String(3), nullable=False),
    Column("postcode", String(7), nullable=False),
    Column("municipality", String(100)),
    Column("province", String(50)),
    Column("contact_name", String(200), nullable=False),
    Column("contact_email", String(254), nullable=False),
    Column("contact_phone", String(32)),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

companies = Table(
    "companies",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kvk", String(8), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("sectors", JSON, nullable=False),
    Column("postcode", String(7), nullable=False),
    Column("municipality", String(100)),
    Column("province", String(50)),
    Column("contact_name", String(200), nullable=False),
    Column("contact_email", String(254), nullable=False),
    Column("contact_phone", String(32)),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

groups = Table(
    "groups",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("school_id", String(36), ForeignKey("schools.id"), nullable=False),
    Column("programme_id", String(36), ForeignKey("programmes.id"), nullable=False),
    Column("status", String(16), nullable=False),  # registered | withdrawn
    Column("revision", Integer, nullable=False),
    Column("pupil_count", Integer, nullable=False),
    Column("data", JSON, nullable=False),  # the GroupIn body, normalised
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_groups_school", "school_id"),
    Index("ix_groups_programme", "programme_id"),
)

activities = Table(
    "activities",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("company_id", String(36), ForeignKey("companies.id"), nullable=False),
    Column("programme_id", String(36), ForeignKey("programmes.id"), nullable=False),
    Column("status", String(16), nullable=False),  # registered | cancelled
    Column("revision", Integer, nullable=False),
    Column("title", String(200), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("wheelchair_accessible", Boolean, nullable=False, default=False),
    Column("data", JSON, nullable=False),  # the ActivityIn body, normalised
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_activities_company", "company_id"),
    Index("ix_activities_programme", "programme_id"),
)

# A POST with an Idempotency-Key: the key (hashed, per principal) and the answer it got.
idempotency = Table(
    "idempotency_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
