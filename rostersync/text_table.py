"""Plain-text tables for operators' terminals: fixed columns, the last one wrapped to the width."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence

DEFAULT_WIDTH = 80
GAP = "  "


def terminal_width() -> int:
    """The terminal's width, at most 120 (tables stay readable) and 80 when there is no terminal."""
    return min(shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns, 120)


def render(headers: Sequence[str], rows: Sequence[Sequence[str]], *, width: int = DEFAULT_WIDTH) -> list[str]:
    """Lines no longer than `width`: every column as wide as its widest cell, except the last,
    which takes the rest and wraps onto continuation lines under itself."""
    fixed = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers[:-1])]
    indent = sum(fixed) + len(GAP) * len(fixed)
    room = max(width - indent, 20)
    lines = [_line(headers, fixed, room)[0].rstrip()]
    for row in rows:
        lines.extend(line.rstrip() for line in _line(row, fixed, room))
    return lines


def _line(cells: Sequence[str], fixed: Sequence[int], room: int) -> list[str]:
    head = "".join(cell.ljust(size) + GAP for cell, size in zip(cells, fixed, strict=False))
    last = textwrap.wrap(cells[-1], room, break_long_words=True, break_on_hyphens=False) or [""]
    pad = " " * len(head)
    return [head + last[0], *(pad + more for more in last[1:])]
