"""Every series the processes record, in one place, so the dashboard and alert rules have one
catalogue to name from.

Labels stay bounded: route templates, queue kinds, actor names, entity types, outcomes and
status codes; never a raw path, a message id or (here) a district id. Gauges say how they add
up across a worker's processes (`multiprocess_mode`), which matters only in the multiprocess
mode `rostersync worker` runs in (see `exposition`).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

NAMESPACE = "rostersync"

# Seconds. The low end for HTTP and Clever requests, the high end for crawl slices and batches.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
MESSAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1200.0)
# Event lag: seconds to hours; the alert threshold (ten minutes) is a bucket bound.
LAG_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0, 24 * 3600.0)

# The gateway.
HTTP_REQUESTS = Counter(
    "rostersync_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "rostersync_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)

# Publishing to RabbitMQ (every process: the gateway, the scheduler, the workers' hand-ons).
PUBLISHES = Counter(
    "rostersync_messages_published_total",
    "Messages the broker confirmed, by queue kind and actor.",
    ["queue", "actor"],
)
PUBLISH_FAILURES = Counter(
    "rostersync_publish_failures_total",
    "Publishes the broker refused or could not take (down, blocked, nacked), by queue kind and actor.",
    ["queue", "actor"],
)

# Dramatiq workers.
MESSAGES_PROCESSED = Counter(
    "rostersync_messages_processed_total",
    "Messages a worker finished processing (successfully or not), by queue kind and actor.",
    ["queue", "actor"],
)
MESSAGES_FAILED = Counter(
    "rostersync_messages_failed_total",
    "Processing attempts that raised an error, by queue kind and actor.",
    ["queue", "actor"],
)
MESSAGES_RETRIED = Counter(
    "rostersync_messages_retried_total",
    "Failed attempts that will be retried later, by queue kind and actor.",
    ["queue", "actor"],
)
MESSAGES_GIVEN_UP = Counter(
    "rostersync_messages_given_up_total",
    "Messages that gave up for good (recorded as failed messages, dead-lettered).",
    ["queue", "actor"],
)
MESSAGE_DURATION = Histogram(
    "rostersync_message_duration_seconds",
    "Time a worker spent processing a message, by queue kind and actor.",
    ["queue", "actor"],
    buckets=MESSAGE_BUCKETS,
)

# What the work did.
RUNS_FINISHED = Counter(
    "rostersync_runs_finished_total",
    "Sync runs that ended, by kind (full, reconcile, reconnect) and outcome "
    "(succeeded, held, failed, discarded).",
    ["kind", "outcome"],
)
ENTITIES = Counter(
    "rostersync_entities_total",
    "Entities a full sync's pages wrote or found unchanged, by entity type and outcome.",
    ["entity_type", "outcome"],
)
EVENTS = Counter(
    "rostersync_events_total",
    "Clever events handled, by source (webhook, poll) and outcome (applied, duplicate, noise, ...).",
    ["source", "outcome"],
)
EVENT_LAG = Histogram(
    "rostersync_event_lag_seconds",
    "Now minus the time in an event's id, when the event is applied, by source.",
    ["source"],
    buckets=LAG_BUCKETS,
)

# Clever.
CLEVER_REQUESTS = Counter(
    "rostersync_clever_requests_total",
    "Requests to Clever, by HTTP status (or 'error' when no response came).",
    ["status"],
)
CLEVER_DURATION = Histogram(
    "rostersync_clever_request_duration_seconds",
    "Time until Clever's response headers arrived.",
    buckets=LATENCY_BUCKETS,
)
CLEVER_RATE_LIMIT_REMAINING = Gauge(
    "rostersync_clever_rate_limit_remaining",
    "Requests left in the rate-limit window of the token used last (X-RateLimit-Remaining; "
    "0 after a 429): the latest any of a worker's processes saw.",
    multiprocess_mode="livemostrecent",
)

# The database pool (per process; a worker's processes add up).
DB_POOL_CHECKED_OUT = Gauge(
    "rostersync_db_pool_checked_out",
    "Database connections in use.",
    multiprocess_mode="livesum",
)
DB_POOL_OPEN = Gauge(
    "rostersync_db_pool_connections",
    "Database connections open (in use or idle in the pool).",
    multiprocess_mode="livesum",
)
DB_POOL_CAPACITY = Gauge(
    "rostersync_db_pool_capacity",
    "Most connections the pools may open (pool size plus overflow).",
    multiprocess_mode="livesum",
)

# The scheduler.
SCHEDULER_TICKS = Counter(
    "rostersync_scheduler_ticks_total",
    "Scheduler passes, by outcome (ok, failed).",
    ["outcome"],
)
SCHEDULER_ENQUEUED = Counter(
    "rostersync_scheduler_enqueued_total",
    "Work the scheduler enqueued, by what (reconcile, poll, outbox).",
    ["what"],
)
