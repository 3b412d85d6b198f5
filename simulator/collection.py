"""One resource kind of one district: ids in ascending order plus pre-serialised JSON per object.

Pages are built by joining stored bytes, so serving 10,000 users never re-encodes an object.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Page:
    ids: list[str]
    more_after: bool
    more_before: bool


def paginate(ids: list[str], limit: int, starting_after: str | None, ending_before: str | None) -> Page:
    """Clever range pagination over an ascending id list; ``ending_before="last"`` means the newest ids."""
    if ending_before is not None:
        end = len(ids) if ending_before == "last" else bisect_left(ids, ending_before)
        start = max(0, end - limit)
    else:
        start = bisect_right(ids, starting_after) if starting_after else 0
        end = min(len(ids), start + limit)
    return Page(ids[start:end], more_after=end < len(ids), more_before=start > 0)


class Collection:
    """Objects of one kind; ``roles`` index (users only) keeps a sorted id list per role."""

    def __init__(self, kind: str, role_index: bool = False) -> None:
        self.kind = kind
        self.ids: list[str] = []
        self.blobs: dict[str, bytes] = {}
        self.role_ids: dict[str, list[str]] | None = {} if role_index else None
        self._roles_of: dict[str, tuple[str, ...]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, obj_id: object) -> bool:
        return obj_id in self.blobs

    def load(self, objects: list[JSON]) -> None:
        """Bulk load (objects need not be sorted)."""
        for obj in objects:
            self.blobs[obj["id"]] = dumps(obj)
            if self.role_ids is not None:
                self._roles_of[obj["id"]] = tuple(obj.get("roles", {}))
        self.ids = sorted(self.blobs)
        if self.role_ids is not None:
            for obj_id in self.ids:
                for role in self._roles_of[obj_id]:
                    self.role_ids.setdefault(role, []).append(obj_id)

    def get(self, obj_id: str) -> JSON | None:
        blob = self.blobs.get(obj_id)
        return None if blob is None else json.loads(blob)

    def put(self, obj: JSON) -> None:
        obj_id = obj["id"]
        if obj_id not in self.blobs:
            insort(self.ids, obj_id)
        self.blobs[obj_id] = dumps(obj)
        if self.role_ids is not None:
            self._unindex(obj_id)
            roles = tuple(obj.get("roles", {}))
            self._roles_of[obj_id] = roles
            for role in roles:
                insort(self.role_ids.setdefault(role, []), obj_id)

    def remove(self, obj_id: str) -> None:
        if obj_id not in self.blobs:
            return
        del self.blobs[obj_id]
        del self.ids[bisect_left(self.ids, obj_id)]
        if self.role_ids is not None:
            self._unindex(obj_id)
            self._roles_of.pop(obj_id, None)

    def _unindex(self, obj_id: str) -> None:
        assert self.role_ids is not None
        for role in self._roles_of.get(obj_id, ()):
            lst = self.role_ids.get(role, [])
            i = bisect_left(lst, obj_id)
            if i < len(lst) and lst[i] == obj_id:
                del lst[i]

    def roles_of(self, obj_id: str) -> tuple[str, ...]:
        return self._roles_of.get(obj_id, ())

    def id_list(self, role: str | None = None) -> list[str]:
        if role is None or self.role_ids is None:
            return self.ids
        return self.role_ids.get(role, [])

    def json_array(self, ids: list[str] | None = None) -> bytes:
        """``[obj,obj,...]`` for ``ids`` (default: all) straight from the stored bytes."""
        blobs = self.blobs
        return b"[" + b",".join(blobs[i] for i in (self.ids if ids is None else ids)) + b"]"
