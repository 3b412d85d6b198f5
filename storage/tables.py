"""SQLAlchemy Core tables. Migrations in storage/migrations mirror this file.

Every synced table shares the same bookkeeping columns (see `_synced_columns`): the content
hash of the mapped fields, the hash of the Clever object they were mapped from, the source
position it came from (a Clever event id, or the event position recorded when a full sync
started), and tombstone/deactivation state, so upserts can skip unchanged rows and never let an
older source overwrite a newer one.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Json = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only


def _now() -> Column:
    return Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now())


districts = Table(
    "districts",
    metadata,
    Column("id", String(64), primary_key=True),  # the Clever district id
    Column("name", Text),
    Column("status", String(32), nullable=False),  # connecting|active|syncing|disconnected|needs_reauth
    Column("generation", Integer, nullable=False, server_default="1"),
    Column("token_ciphertext", Text),
    Column("token_id", String(64)),  # Clever's id of the district token (not secret)
    Column("scopes", Json, nullable=False, server_default="[]"),
    Column("authorized_by", String(64)),  # Clever user id of who approved
    Column("tenant_id", String(128), index=True),  # the VenueOS tenant that owns the connection
    Column("events_cursor", String(64)),
    Column("events_cursor_at", DateTime(timezone=True)),
    Column("timezone", String(64), nullable=False, server_default="America/New_York"),
    Column("options", Json, nullable=False, server_default="{}"),  # lane, threshold, role rules, ext field
    Column("current_run_id", String(36)),
    Column("next_reconcile_at", DateTime(timezone=True)),
    Column("connected_at", DateTime(timezone=True)),
    Column("disconnected_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    _now(),
)


def _synced_columns() -> list[Column]:
    return [
        Column("id", Id, primary_key=True, autoincrement=True),
        Column("district_id", String(64), nullable=False),
        Column("clever_id", String(64), nullable=False),
        Column("content_hash", String(64)),
        Column("source_hash", String(64)),  # of the Clever object the row was mapped from
        Column("source_position", String(64), nullable=False),
        Column("active", Boolean, nullable=False, server_default="1"),
        Column("deleted", Boolean, nullable=False, server_default="0"),  # tombstone from a delete event
        Column("deactivated_at", DateTime(timezone=True)),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        _now(),
    ]


def _synced_table(name: str, *columns: Column) -> Table:
    return Table(
        name,
        metadata,
        *_synced_columns(),
        *columns,
        UniqueConstraint("district_id", "clever_id", name=f"uq_{name}_district_clever"),
    )


tenants = _synced_table(
    "tenants",
    Column("kind", String(16), nullable=False),  # district|school
    Column("parent_clever_id", String(64)),
    Column("name", Text, nullable=False),
    Column("sis_id", Text),
    Column("school_number", Text),
    Column("low_grade", String(32)),
    Column("high_grade", String(32)),
    Column("principal_name", Text),
    Column("principal_email", Text),
    Column("phone", Text),
    Column("timezone", String(64)),
    Column("ext", Json, nullable=False, server_default="{}"),
)

staff_users = _synced_table(
    "staff_users",
    Column("first_name", Text, nullable=False),
    Column("middle_name", Text),
    Column("last_name", Text, nullable=False),
    Column("email", Text),
    Column("clever_roles", Json, nullable=False, server_default="[]"),
    Column("titles", Json, nullable=False, server_default="[]"),
    Column("department", Text),
    Column("staff_permissions", Json, nullable=False, server_default="[]"),
    Column("school_clever_ids", Json, nullable=False, server_default="[]"),
    Column("synced_role", String(32), nullable=False),
    Column("role_reason", Text, nullable=False),
    Column("role_school_clever_ids", Json, nullable=False, server_default="[]"),
    # Set by people only; a sync never writes these columns.
    Column("override_role", String(32)),
    Column("override_set_by", Text),
    Column("override_set_at", DateTime(timezone=True)),
)

classrooms = _synced_table(
    "classrooms",
    Column("school_clever_id", String(64), nullable=False),
    Column("name", Text, nullable=False),
    Column("period", Text),
    Column("subject", Text),
    Column("grade", String(32)),
    Column("teacher_clever_ids", Json, nullable=False, server_default="[]"),
    Column("term_clever_id", String(64)),
    Column("course_clever_id", String(64)),
    Column("section_number", Text),
    Column("sis_id", Text),
)

terms = _synced_table(
    "terms",
    Column("name", Text),
    Column("start_date", String(10)),
    Column("end_date", String(10)),
)

courses = _synced_table(
    "courses",
    Column("name", Text),
    Column("number", Text),
)

bell_schedules = Table(
    "bell_schedules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("district_id", String(64), nullable=False),
    Column("school_clever_id", String(64), nullable=False),
    Column("source", String(16), nullable=False),  # manual|clever
    Column("content_hash", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    _now(),
    UniqueConstraint("district_id", "school_clever_id", "source", name="uq_bell_schedules_school_source"),
)

bell_periods = Table(
    "bell_periods",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "schedule_id", Id, ForeignKey("bell_schedules.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("position", Integer, nullable=False),
    Column("label", Text, nullable=False),
    Column("start_time", String(5)),
    Column("end_time", String(5)),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("district_id", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # full|reconcile|reconnect
    Column("status", String(16), nullable=False),  # queued|running|held|succeeded|failed|discarded|cancelled
    Column("generation", Integer, nullable=False),
    Column("requested_by", Text),
    Column("source_position", String(64)),
    Column("checkpoint", Json, nullable=False, server_default="{}"),
    Column("fetched", Json, nullable=False, server_default="{}"),  # resource -> objects fetched
    Column("pages_published", Integer, nullable=False, server_default="0"),
    Column("ingest_done", Boolean, nullable=False, server_default="0"),
    Column("counters", Json, nullable=False, server_default="{}"),
    Column("drift", Integer),
    Column("held_plan", Json),
    Column("error", Text),
    Column("queued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True)),
    Column("heartbeat_at", DateTime(timezone=True)),  # last sign of progress, to spot abandoned runs
    Column("ingest_finished_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    # One crawler per run: every crawl start takes the next token, and only the holder of the
    # current one may move the checkpoint (whose rank never goes down) or end the crawl.
    Column("crawl_token", Integer, nullable=False, server_default="0"),
    Column("checkpoint_rank", BigInteger, nullable=False, server_default="0"),
    Column("crawl_starts", Json, nullable=False, server_default="{}"),  # token -> rank it started at
    Index("ix_sync_runs_district_queued", "district_id", "queued_at"),
)

# Messages that must follow a commit, written in the same transaction; published right after
# the commit, or later by the relay when the broker was unavailable then.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("queue_name", String(200), nullable=False),
    Column("message", Json, nullable=False),  # the Dramatiq message as its fields, ids included
    Column("available_at", DateTime(timezone=True), nullable=False),  # not published before
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# A message's idempotency key is recorded in the transaction that applied it; a redelivered
# message finds its key and does nothing. Applied pages also carry their counters here, so
# concurrent apply workers never contend on one run row.
processed_messages = Table(
    "processed_messages",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("district_id", String(64), nullable=False, index=True),
    Column("run_id", String(36), index=True),
    Column("kind", String(16), nullable=False),  # page|event|connect
    Column("counters", Json),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Which Clever ids a full sync saw, for mark-and-sweep when the run ends: one row per applied
# page (a redelivered page adds another), so a sync of 260,000 entities writes a few hundred
# rows instead of an index entry per id.
run_seen_pages = Table(
    "run_seen_pages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", String(36), nullable=False),
    Column("entity_type", String(16), nullable=False),
    Column("clever_ids", Json, nullable=False),
    Index("ix_run_seen_pages_run", "run_id", "entity_type"),
)

oauth_states = Table(
    "oauth_states",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("district_id", String(64)),  # filled in by the connect actor, for the progress page
    Column("error", Text),
    Column("used_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("tenant_id", String(128)),  # the tenant whose session started the connection
    Column("session_id", String(64)),  # that browser session
    # The Clever district and user the code was exchanged for (before the token is saved): a
    # connect retried after a crash finishes from the token listing.
    Column("exchanged_district_id", String(64)),
    Column("authorized_by", String(64)),
    Column("run_id", String(64)),  # the connect run the progress page follows
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("district_id", String(64), index=True),
    Column("actor", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", Text),
    Column("details", Json, nullable=False, server_default="{}"),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

deletion_receipts = Table(
    "deletion_receipts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("district_id", String(64), nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("counts", Json, nullable=False),
    Column("tenant_id", String(128), index=True),  # the district's row is gone; its tenant still sees this
    Column("completed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# A message that gave up (retries spent, or an error no retry can fix), kept with its cause and
# the message itself so an operator can replay it once the cause is fixed, or drop it. One row
# per message id: a replayed message that fails again updates its row.
failed_messages = Table(
    "failed_messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("message_id", String(64), nullable=False, unique=True),
    Column("queue", String(200), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("district_id", String(64)),
    Column("idempotency_key", String(200)),
    Column("cause", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("first_failed_at", DateTime(timezone=True), nullable=False),
    Column("last_failed_at", DateTime(timezone=True), nullable=False),
    Column("message", Json, nullable=False),
    Column("status", String(16), nullable=False, server_default="waiting"),  # waiting|replayed|dropped
    Column("resolved_by", Text),
    Column("resolved_at", DateTime(timezone=True)),
    Index("ix_failed_messages_district", "district_id", "id"),
    Index("ix_failed_messages_status", "status", "id"),
)

scheduler_slots = Table(
    "scheduler_slots",
    metadata,
    Column("name", String(128), primary_key=True),  # e.g. reconcile:<district>:<local date>
    Column("claimed_by", Text, nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

SYNCED_TABLES: dict[str, Table] = {
    "tenant": tenants,
    "term": terms,
    "course": courses,
    "classroom": classrooms,
    "staff": staff_users,
}
