"""The dispatcher: due deliveries are claimed from the database and sent by Celery workers.

The database is the schedule and the source of truth; Celery only carries small "send these
claimed ids" tasks, never a countdown or ETA.

1. **Sweep** (:func:`sweep_due`, on Celery beat and kicked after Send): restart unfinished jobs,
   then claim due ``queued`` rows per channel (``status='sending'``, a claim token and a lease)
   and enqueue them as send tasks — :mod:`messaging.dispatch.claim`.
2. **Send** (:func:`send_claimed`, the ``messaging.send_batch`` task) a batch of claimed rows
   still ours — :mod:`messaging.dispatch.send`: check each again (consent, the Do-Not-Send list,
   the address, the sending window — :mod:`~messaging.dispatch.checks`,
   :mod:`~messaging.dispatch.windows`; an address paused after repeated soft failures waits —
   :mod:`~messaging.dispatch.pauses`), start the attempts by compare-and-set
   (:mod:`~messaging.dispatch.attempts`), call the transport outside any transaction and write the
   results back in groups (:mod:`~messaging.dispatch.writeback`).
3. **Restart unfinished jobs** (:func:`restart_unfinished`): a row still ``sending`` after its
   lease expired belonged to a worker that died; it is settled, queued again or restarted
   according to the channel's setting — :mod:`messaging.dispatch.claim`.

Stop times: settings 270 (voice), 272 (SMS), 273 (fax) end the day and setting 274 starts it:
the window [start, stop) in the recipient's time zone, never past midnight; e-mail has no window.
Work outside the window is queued again for the next window's start — never dropped
(:mod:`messaging.dispatch.windows`).

The modules import one way (``checks`` uses ``windows``; ``attempts`` uses ``checks`` and
``claim``; ``pauses`` uses ``attempts`` and ``checks``; ``send`` uses them all; ``writeback`` only
the models), and none imports ``messaging.tasks`` or ``messaging.automation``: the tasks are found
by their registered names (:func:`~messaging.dispatch.claim.enqueue`), and the 42 CFR Part 2 gate
(:func:`hie_block_reason`) lives in :mod:`~messaging.dispatch.checks`.

Callers use ``from messaging import dispatch; dispatch.X`` (this module re-exports the names used
elsewhere); a test that replaces a function patches the module that looks it up (e.g.
``messaging.dispatch.send.enqueue``).
"""

from __future__ import annotations

from messaging.dispatch.attempts import MAX_ATTEMPTS, _take_for_run
from messaging.dispatch.checks import (
    Verdict,
    address_is_valid,
    blocked_for,
    check_before_send,
    hie_block_reason,
    resolve_address,
)
from messaging.dispatch.claim import (
    Claim,
    _restart_one,
    backlog_target,
    batch_size,
    claim_batch,
    claim_due,
    enqueue,
    kick_sweeper,
    lease,
    new_claim_token,
    restart_grace,
    restart_unfinished,
    sweep_due,
)
from messaging.dispatch.send import DRAIN_BATCH_FACTOR, SEND_PREFETCH, SEND_RELATED, send_claimed, send_one
from messaging.dispatch.windows import STOP_TIME_SETTINGS, next_window_start, recipient_zone, sending_window
from messaging.dispatch.writeback import _Accepted, _Results, _write_back

__all__ = [
    "DRAIN_BATCH_FACTOR",
    "MAX_ATTEMPTS",
    "SEND_PREFETCH",
    "SEND_RELATED",
    "STOP_TIME_SETTINGS",
    "Claim",
    "Verdict",
    "_Accepted",
    "_Results",
    "_restart_one",
    "_take_for_run",
    "_write_back",
    "address_is_valid",
    "backlog_target",
    "batch_size",
    "blocked_for",
    "check_before_send",
    "claim_batch",
    "claim_due",
    "enqueue",
    "hie_block_reason",
    "kick_sweeper",
    "lease",
    "new_claim_token",
    "next_window_start",
    "recipient_zone",
    "resolve_address",
    "restart_grace",
    "restart_unfinished",
    "send_claimed",
    "send_one",
    "sending_window",
    "sweep_due",
]
