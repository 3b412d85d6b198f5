"""What the JSON routes answer, as pydantic models: the OpenAPI document's response schemas come
from here, and the tests check real answers against them. The serializers build the dicts; these
models say what every key holds, so a serializer that drifts from the contract fails a test."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Counters = dict[str, dict[str, int]]  # resource -> outcome (created, updated, ...) -> count


class Model(BaseModel):
    # Every answer has exactly these keys: a key the serializer adds is a contract change.
    model_config = ConfigDict(extra="forbid")


class Error(Model):
    error: str = Field(description="why the request was refused or could not be served")


class Health(Model):
    status: Literal["ok"]


class ReadyChecks(Model):
    database: str
    broker: str
    schema_: str = Field(alias="schema")


class Ready(Model):
    status: Literal["ready"]
    checks: ReadyChecks


class NotReady(Model):
    error: str
    checks: ReadyChecks


class Run(Model):
    id: str
    district_id: str
    kind: str
    status: str
    generation: int
    requested_by: str | None
    counters: Counters
    drift: int | None
    error: str | None
    held_deactivations: dict[str, int] | None = Field(
        description="rows per type an approval would deactivate (held runs only)"
    )
    queued_at: str | None
    started_at: str | None
    finished_at: str | None
    duration_seconds: float | None


class District(Model):
    id: str
    name: str | None
    status: str
    generation: int
    has_token: bool
    scopes: list[str]
    authorized_by: str | None
    events_cursor: str | None
    events_cursor_at: str | None
    timezone: str | None
    options: dict[str, Any]
    current_run_id: str | None
    next_reconcile_at: str | None
    connected_at: str | None
    disconnected_at: str | None
    last_run: Run | None


class Districts(Model):
    districts: list[District]


class RunPage(Model):
    runs: list[Run]
    total: int
    limit: int
    offset: int


class SyncAccepted(Model):
    run_id: str
    created: bool = Field(description="false when a run already in progress was returned")


class SyncRefused(Model):
    error: str = Field(description="why no sync starts (disconnected, re-authorization, a held run)")
    run_id: str | None = Field(
        default=None, description="the held run waiting for approve or discard (held runs only)"
    )


class Synced(Model):
    id: str
    active: bool
    deleted: bool
    deactivated_at: str | None
    updated_at: str | None


class Staff(Synced):
    first_name: str | None
    middle_name: str | None
    last_name: str | None
    email: str | None
    clever_roles: list[str]
    titles: list[str]
    department: str | None
    schools: list[str]
    synced_role: str
    override_role: str | None
    role: str
    role_reason: str | None
    role_schools: list[str]
    override_set_by: str | None
    override_set_at: str | None


class School(Synced):
    name: str | None
    sis_id: str | None
    school_number: str | None
    low_grade: str | None
    high_grade: str | None
    principal_name: str | None
    principal_email: str | None
    phone: str | None
    timezone: str | None


class Classroom(Synced):
    name: str | None
    period: str | None
    subject: str | None
    grade: str | None
    section_number: str | None
    sis_id: str | None
    school_id: str | None
    teacher_ids: list[str]
    term_id: str | None
    course_id: str | None


class Term(Synced):
    name: str | None
    start_date: str | None
    end_date: str | None


class StaffPage(Model):
    staff: list[Staff]
    next: str | None = Field(description="pass as `after` for the next page; null on the last")


class SchoolPage(Model):
    schools: list[School]
    next: str | None


class ClassroomPage(Model):
    classrooms: list[Classroom]
    next: str | None


class TermPage(Model):
    terms: list[Term]
    next: str | None


class PeriodOut(Model):
    label: str
    # A Clever-sourced period may have a label only (a section's period, no times).
    start: str | None
    end: str | None


class BellSchedule(Model):
    school_id: str
    source: Literal["manual", "clever"] | None = Field(description="the schedule in force")
    periods: list[PeriodOut]
    has_manual: bool
    has_clever: bool


class ListedBellSchedule(BellSchedule):
    school_name: str | None


class BellSchedulePage(Model):
    bell_schedules: list[ListedBellSchedule]
    next: str | None


class DeletionQueued(Model):
    district_id: str
    status: Literal["deletion queued"]


class Receipt(Model):
    district_id: str
    requested_by: str | None
    counts: dict[str, int]
    completed_at: str


class Receipts(Model):
    receipts: list[Receipt]


class AuditEntry(Model):
    id: int
    at: str
    district_id: str | None
    actor: str
    action: str
    subject: str | None
    details: dict[str, Any] | None


class AuditPage(Model):
    audit: list[AuditEntry]
    next: str | None = Field(description="pass as `before` for the next (older) page")


class FailedMessage(Model):
    id: int
    queue: str
    actor: str
    district_id: str | None
    idempotency_key: str | None
    cause: str
    attempts: int
    first_failed_at: str | None
    last_failed_at: str | None
    status: Literal["waiting", "replayed", "dropped"]
    resolved_by: str | None
    resolved_at: str | None


class FailedMessagePage(Model):
    failed_messages: list[FailedMessage]
    next: str | None


class WebhookAccepted(Model):
    accepted: int = Field(description="events published")
    dropped: int = Field(description="student and contact events dropped here")


class SessionOpened(Model):
    role: Literal["district_admin", "operator"]
    tenant: str | None
    expires_at: int = Field(description="unix seconds")


class ConnectDistrict(Model):
    id: str
    name: str | None
    status: str


class ConnectRun(Model):
    id: str
    status: str
    counters: Counters
    error: str | None


class ConnectStatus(Model):
    state: Literal["waiting", "failed", "connected"]
    error: str | None
    district: ConnectDistrict | None
    run: ConnectRun | None


class LiveRun(Model):
    status: str
    pages_applied: int
    pages_published: int
    crawling: bool
    counters: Counters


class IntegrationStatus(Model):
    state: str
    state_words: str
    run: LiveRun | None


class OpenApiDocument(BaseModel):
    """This document (OpenAPI 3.1)."""

    model_config = ConfigDict(extra="allow")
    openapi: str
