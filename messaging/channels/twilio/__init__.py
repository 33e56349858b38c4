"""Twilio, shared by the SMS and voice channels: the client (``client``), its errors (``errors``)
and webhook signature checks (``webhooks``)."""

from __future__ import annotations
