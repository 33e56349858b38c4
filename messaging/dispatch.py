"""The dispatcher (being written; see issue 4). Public entry used by the New tab's Send."""

from __future__ import annotations


def kick_sweeper() -> None:
    """Ask a worker to look for due deliveries now (called with transaction.on_commit)."""
