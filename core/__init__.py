"""Helpers every app may import (the bottom layer): the clock, the clinic's time zone, and the PHI access
log (``core.models.AccessLog``, written with ``core.access.access_log``).

``core`` imports nothing from ``clients``, ``messaging`` or ``bounces`` (an import-linter contract).
"""
