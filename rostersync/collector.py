"""The cyclic garbage collector, set for a long-running process once it has loaded.

Everything loaded at start-up (modules, actors, engine, broker) lives as long as the process:
`gc.freeze()` moves it out of the collector's sight, so a full collection walks only what the
work itself allocated.

The young generation is collected after 50,000 new container objects instead of 700. A page of
10,000 sections parses into some 40,000 of them, and at 700 the collector made about sixty young
passes a page and, every few pages, a full pass over the pages still held. Reading the
sections and staff of the bench's 1,000-school district in one process took 2.7 s with the
defaults and 1.7 s with these. Garbage in reference cycles waits longer for its pass, so what
holds much memory must not sit in one (see the Clever client's responses).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
MIDDLE_THRESHOLD = 20  # young passes before a middle one
OLD_THRESHOLD = 20  # middle passes before a full one is considered


def settle() -> None:
    """Freeze what is loaded and collect less often; call once, after start-up."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
