"""The registration service's own tables and the queries the routes share."""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

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

# A pupil's pseudonym: events name her by `ref` (random, never derived from her code; a pupil
# entered before pseudonyms existed has her code as ref). Her code leaves only in PupilsNamed.
pupils = Table(
    "pupils",
    metadata,
    Column("group_id", String(36), ForeignKey("groups.id"), primary_key=True),
    Column("ref", String(32), primary_key=True),
    Column("code", String(24), nullable=False),
    UniqueConstraint("group_id", "code", name="uq_pupils_group_code"),
)

# Erased pupils whose group's older PupilsNamed events (holding her code) are still to be purged
# from the streams (services/registration/erasure.py). Holds no code: the ref is linked to nothing.
erasures = Table(
    "erasures",
    metadata,
    Column("programme_id", String(36), primary_key=True),
    Column("group_id", String(36), primary_key=True),
    Column("ref", String(32), primary_key=True),
    Column("erased_at", DateTime(timezone=True), nullable=False),
    Column("purged_at", DateTime(timezone=True)),
)

# Programmes whose pupil data have expired (retention.py), until their codes are purged from the streams.
expired_programmes = Table(
    "expired_programmes",
    metadata,
    Column("programme_id", String(36), primary_key=True),
    Column("expired_at", DateTime(timezone=True), nullable=False),
    Column("purged_at", DateTime(timezone=True)),
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

# --- the ESF+ participant register (energy-transition programmes): adults, kept apart from pupils'
# data, with its own retention date per programme (programme_registers). The person number is
# never stored in clear: sealed (vault.py) and a blind index to recognise a second registration.
participants = Table(
    "participants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("programme_id", String(36), ForeignKey("programmes.id"), nullable=False),
    Column("person_kind", String(16), nullable=False),  # bsn | onderwijsnummer
    Column("person_index", String(64), nullable=False),
    Column("person_sealed", Text, nullable=False),
    Column("name", String(200), nullable=False),
    Column("email", String(254), nullable=False),
    Column("phone", String(32)),
    Column("birth_date", Date),  # only for the target groups that need it
    Column("gender", String(16), nullable=False),
    Column("age_band", String(8), nullable=False),
    Column("isced", String(8), nullable=False),
    Column("labour_status", String(32), nullable=False),
    Column("target_group", String(32), nullable=False),
    Column("postcode", String(7)),
    Column("employer_id", String(36), ForeignKey("companies.id")),
    Column("consents", JSON, nullable=False),  # purpose -> ISO time the consent was given
    Column("ranking", JSON, nullable=False),  # activity ids, best first
    Column("first_activity", Date),
    Column("last_activity", Date),
    Column("revision", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("programme_id", "person_index", name="uq_participants_person"),
    Index("ix_participants_employer", "employer_id"),
)

# What each participant took part in: one row per activity, with its attendance.
participations = Table(
    "participations",
    metadata,
    Column("participant_id", String(36), ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True),
    Column("activity_id", String(36), ForeignKey("activities.id"), primary_key=True),
    Column("status", String(16), nullable=False),  # attended | absent
    Column("day", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

# A programme's register settings: until when its participants' data are kept (the legal end
# date of the ESF+ project's retention obligation), then a job deletes them.
programme_registers = Table(
    "programme_registers",
    metadata,
    Column("programme_id", String(36), ForeignKey("programmes.id"), primary_key=True),
    Column("keep_until", Date, nullable=False),
)

# Partner employers' aggregate retention figures per period (no person in them).
retention_reports = Table(
    "retention_reports",
    metadata,
    Column("programme_id", String(36), ForeignKey("programmes.id"), primary_key=True),
    Column("company_id", String(36), ForeignKey("companies.id"), primary_key=True),
    Column("period", String(7), primary_key=True),
    Column("women_technical", Integer, nullable=False),
    Column("hired", Integer, nullable=False),
    Column("kept", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
)

# --- VHTO staff (services/registration/staff/) ----------------------------------------------------

staff_accounts = Table(
    "staff_accounts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),  # normalised (lower case)
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # kijker | medewerker | beheerder
    Column("password_hash", String(255)),  # argon2id; empty until the invitation is accepted (or with OIDC)
    Column("active", Boolean, nullable=False),
    Column("invitation_hash", String(64), unique=True),  # SHA-256 of the one-time link's token
    Column("invitation_expires_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True)),
)

# One row per login; a session token names its login, and renewal checks that it has not ended.
staff_logins = Table(
    "staff_logins",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", String(36), ForeignKey("staff_accounts.id"), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("renewed_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Index("ix_staff_logins_account", "account_id"),
)

# Failed login attempts, for throttling (kept for the throttle window, pruned hourly).
staff_login_failures = Table(
    "staff_login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_staff_login_failures_email", "email", "at"),
    Index("ix_staff_login_failures_address", "address", "at"),
)

# The audit log of every service (shared/audit.py): kept here, where the staff accounts are.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", String(64), primary_key=True),  # the event id
    Column("at", DateTime(timezone=True), nullable=False),
    Column("service", String(16), nullable=False),
    Column("action", String(64), nullable=False),
    Column("actor_kind", String(16), nullable=False),
    Column("actor_id", String(36)),
    Column("actor_role", String(16)),
    Column("subject_type", String(32)),
    Column("subject_id", String(64)),
    Column("programme_id", String(36)),
    Column("details", JSON, nullable=False),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_actor", "actor_id", "at"),
    Index("ix_audit_log_subject", "subject_id"),
)

# A staff import between its preview and its confirmation: the uploaded file (it holds contact
# details, so it is emptied once imported and removed after a day) and the report of the import.
staff_imports = Table(
    "staff_imports",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),  # school | company
    Column("filename", String(200), nullable=False),
    Column("content", LargeBinary),
    Column("created_by", String(36), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True)),
    Column("report", JSON),
)
