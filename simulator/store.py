"""In-memory state of one district: its objects, its event feed, and mutations that record events."""

from __future__ import annotations

import json
import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from simulator.collection import Collection, dumps
from simulator.diffs import deep_merge, previous_attributes, unset_paths
from simulator.district import ROLES, District
from simulator.ids import LiveIds, machine_part

JSON = dict[str, Any]
RESOURCES: tuple[str, ...] = ("schools", "users", "sections", "terms", "courses")
RECORD_TYPES: tuple[str, ...] = ("districts", *RESOURCES)


class MutationError(ValueError):
    """Bad mutation request (unknown resource/id, malformed object)."""


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    record_type: str
    blob: bytes  # the event object as served inside the list item's "data"
    schools: frozenset[str]
    roles: frozenset[str] = frozenset()  # a users.* event's roles, so scopes can hide it


def now_iso(clock: Callable[[], float]) -> str:
    ts = clock()
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def _schools_of(record_type: str, obj: JSON) -> frozenset[str]:
    """Schools an event concerns, for the ``school`` filter of ``/events``."""
    if record_type == "schools":
        return frozenset({obj["id"]})
    if record_type == "sections":
        return frozenset({obj.get("school", "")})
    if record_type == "users":
        out: set[str] = set()
        for role in obj.get("roles", {}).values():
            if isinstance(role, dict):
                out.update(role.get("schools") or [])
                if role.get("school"):
                    out.add(role["school"])
        return frozenset(out)
    return frozenset()


class DistrictStore:
    """Objects per resource in ascending id order + the district's events feed (oldest first)."""

    def __init__(
        self, data: District, clock: Callable[[], float] = time.time, initial_event: bool = True
    ) -> None:
        self.clock = clock
        self.id = data.id
        self.seed, self.index = data.seed, data.index
        self.district: JSON = data.district
        self.collections: dict[str, Collection] = {
            r: Collection(r, role_index=(r == "users")) for r in RESOURCES
        }
        for name in RESOURCES:
            self.collections[name].load(getattr(data, name))
        self.ids = LiveIds(machine_part("live", data.seed, data.index), clock)
        for coll in self.collections.values():
            if coll.ids:
                self.ids.bump_floor(coll.ids[-1])
        self.events: list[Event] = []
        self.event_ids: list[str] = []
        self.events_enabled = True
        self.listeners: list[Callable[[DistrictStore, Event], None]] = []
        self.lock = threading.RLock()
        if initial_event:
            # Clever's nightly SIS sync produces a districts.updated event; start with one so the feed
            # has a newest id from the first request on.
            self.update("districts", self.id, {"last_sync": now_iso(clock)})

    # ----------------------------------------------------------------- reads
    def get(self, resource: str, obj_id: str) -> JSON | None:
        if resource == "districts":
            return json.loads(dumps(self.district)) if obj_id == self.id else None
        return self.collections[resource].get(obj_id)

    def counts(self) -> dict[str, int]:
        users = self.collections["users"]
        out = {name: len(coll) for name, coll in self.collections.items()}
        out.update({f"users_{role}": len(users.id_list(role)) for role in ROLES})
        out["events"] = len(self.events)
        return out

    def latest_event_id(self) -> str | None:
        return self.event_ids[-1] if self.event_ids else None

    def snapshot_json(self) -> bytes:
        """All current objects as one JSON document, assembled from the stored bytes."""
        users = self.collections["users"]
        by_role = (
            b"{"
            + b",".join(dumps(role) + b":" + users.json_array(users.id_list(role)) for role in ROLES)
            + b"}"
        )
        parts = [b'"district":' + dumps(self.district), b'"users_by_role":' + by_role]
        parts += [dumps(name) + b":" + coll.json_array() for name, coll in self.collections.items()]
        return b"{" + b",".join(parts) + b"}"

    def event_page(
        self,
        limit: int,
        starting_after: str | None,
        ending_before: str | None,
        record_types: set[str] | None,
        school: str | None,
        hidden_roles: frozenset[str] = frozenset(),
    ) -> tuple[list[Event], bool, bool]:
        """Matching events, ascending; plus whether matching events exist after / before the page.

        Events of users whose every role is in ``hidden_roles`` are left out (a token's scopes)."""

        def ok(ev: Event) -> bool:
            return (
                (not record_types or ev.record_type in record_types)
                and (not school or school in ev.schools)
                and not (hidden_roles and ev.roles and ev.roles <= hidden_roles)
            )

        events = self.events
        if ending_before is not None:
            end = len(events) if ending_before == "last" else bisect_left(self.event_ids, ending_before)
            picked: list[Event] = []
            i = end - 1
            while i >= 0 and len(picked) < limit:
                if ok(events[i]):
                    picked.append(events[i])
                i -= 1
            picked.reverse()
            more_before = any(ok(e) for e in events[: i + 1])
            more_after = any(ok(e) for e in events[end:])
            return picked, more_after, more_before
        start = bisect_right(self.event_ids, starting_after) if starting_after else 0
        picked = []
        i = start
        while i < len(events) and len(picked) < limit:
            if ok(events[i]):
                picked.append(events[i])
            i += 1
        return picked, any(ok(e) for e in events[i:]), any(ok(e) for e in events[:start])

    def has_event(self, event_id: str) -> bool:
        i = bisect_left(self.event_ids, event_id)
        return i < len(self.event_ids) and self.event_ids[i] == event_id

    def get_event(self, event_id: str) -> Event | None:
        i = bisect_left(self.event_ids, event_id)
        return self.events[i] if i < len(self.event_ids) and self.event_ids[i] == event_id else None

    # ------------------------------------------------------------- mutations
    def _record(self, kind: str, record_type: str, obj: JSON, prev: JSON | None) -> Event:
        payload: JSON = {"object": obj}
        if prev is not None:
            # Recorded wire format (not the spec): previous_attributes sits next to "object" inside "data".
            payload["previous_attributes"] = prev
        event_id = self.ids.next()
        event_type = f"{record_type}.{kind}"
        body = {
            "id": event_id,
            "type": event_type,
            "created": now_iso(self.clock),
            "data": payload,
        }
        roles = frozenset(obj.get("roles") or ()) if record_type == "users" else frozenset()
        event = Event(event_id, event_type, record_type, dumps(body), _schools_of(record_type, obj), roles)
        self.events.append(event)
        self.event_ids.append(event_id)
        for listener in list(self.listeners):
            listener(self, event)
        return event

    def _check(self, resource: str) -> None:
        if resource not in RESOURCES and resource != "districts":
            raise MutationError(f"unknown resource {resource!r}")

    def create(self, resource: str, data: JSON) -> tuple[JSON, Event]:
        """Add (or re-share, when ``data["id"]`` names a removed object) an object; records ``.created``."""
        self._check(resource)
        if resource == "districts":
            raise MutationError("districts cannot be created through a district")
        with self.lock:
            coll = self.collections[resource]
            obj = dict(data)
            obj_id = str(obj.get("id") or self.ids.next())
            if len(obj_id) != 24 or any(c not in "0123456789abcdef" for c in obj_id):
                raise MutationError("id must be 24 lowercase hex characters")
            if obj_id in coll:
                raise MutationError(f"{resource} {obj_id} already exists")
            if resource == "users" and not isinstance(obj.get("roles"), dict):
                raise MutationError("users need a 'roles' object")
            stamp = now_iso(self.clock)
            obj.update(id=obj_id, district=self.id)
            if resource in ("schools", "users", "sections"):
                obj.setdefault("created", stamp)
                obj["last_modified"] = stamp
            if resource == "sections" and obj.get("teacher") and "teachers" not in obj:
                obj["teachers"] = [obj["teacher"]]
            coll.put(obj)
            return obj, self._record("created", resource, obj, None)

    def update(
        self, resource: str, obj_id: str, changes: JSON, unset: list[str] | None = None
    ) -> tuple[JSON, Event | None]:
        """Deep-merge ``changes``, drop ``unset`` dotted paths; records ``.updated`` if anything changed."""
        self._check(resource)
        with self.lock:
            old = self.get(resource, obj_id)
            if old is None:
                raise KeyError(obj_id)
            new = deep_merge(old, {k: v for k, v in changes.items() if k not in ("id", "district")})
            unset_paths(new, unset or [])
            prev = previous_attributes(old, new)
            if not prev:
                return old, None
            if "last_modified" in old or resource in ("schools", "users", "sections"):
                new["last_modified"] = now_iso(self.clock)
            if resource == "districts":
                self.district = new
            else:
                self.collections[resource].put(new)
            return new, self._record("updated", resource, new, prev)

    def delete(self, resource: str, obj_id: str) -> tuple[JSON, Event]:
        """Remove (delete or unshare) an object; records ``.deleted`` carrying the last object."""
        self._check(resource)
        if resource == "districts":
            raise MutationError("the district itself cannot be deleted; revoke its token instead")
        with self.lock:
            old = self.collections[resource].get(obj_id)
            if old is None:
                raise KeyError(obj_id)
            self.collections[resource].remove(obj_id)
            return old, self._record("deleted", resource, old, None)

    def expire_events(
        self,
        *,
        all_events: bool = False,
        count: int | None = None,
        keep_last: int | None = None,
        before_id: str | None = None,
    ) -> int:
        """Drop the oldest events, as Clever does after 30 days. Returns how many were removed."""
        with self.lock:
            n = len(self.events)
            if all_events:
                cut = n
            elif count is not None:
                cut = min(n, max(0, count))
            elif keep_last is not None:
                cut = max(0, n - max(0, keep_last))
            elif before_id is not None:
                cut = bisect_right(self.event_ids, before_id)
            else:
                cut = 0
            del self.events[:cut]
            del self.event_ids[:cut]
            return cut
