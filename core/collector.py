"""Pausing Python's cyclic garbage collector while a request builds many objects that all stay alive.

Refresh and Send build a recipient and its targets per person (100,000 at a time). The collector runs
whenever allocations outnumber deallocations by its threshold, and each run walks every young object
again although none of them is garbage: 0.14-0.19 s of the 0.74 s ``recipients_for`` took over
100,000 clients (bench/README.md). Reference counting still frees everything as usual meanwhile; only
reference cycles wait, and the collector looks for them when the last pause ends.

The collector is one switch per process, and the web server may run requests in threads: the pause is
counted, so it ends only when the last thread in a paused section leaves it, and it never switches
on a collector that was off before. In production each gunicorn worker serves one request at a time
(``docker-compose.yml``: sync workers); with threads, sections that kept overlapping would keep the
collector off for as long as they overlap, which only Refresh and Send (about a second each, started
by staff) could do, while reference counting frees everything but cycles.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Within the block, no automatic collection (see the module's docstring)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
