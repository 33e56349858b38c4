"""Helpers every app may import (the bottom layer): the clock and the clinic's time zone.

``core`` imports nothing from ``clients``, ``messaging`` or ``bounces`` (an import-linter contract).
"""
