"""Events of the EHR data that other apps may act on, without ``clients`` knowing who listens.

``chart_warnings`` is sent when the chart is drawn, with ``client``; each receiver answers a list
of warnings to show on the Contacts tab (messaging answers the Do-Not-Send entries that block the
client's addresses).

``appointment_changed`` is sent after an appointment is booked, moved, cancelled or completed (inside
the saving transaction) with ``appointment`` (as saved) and ``before`` (a copy as it was, or None
for a new one). Messaging re-plans the appointment's automated messages on it.
"""

from __future__ import annotations

from django.dispatch import Signal

appointment_changed = Signal()
chart_warnings = Signal()
