"""Fixtures of the integration tests (defined in ``support``)."""

from __future__ import annotations

from tests.integration.support import clock_file, services, twilio

__all__ = ["clock_file", "services", "twilio"]
