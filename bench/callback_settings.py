"""Settings for ``bench_callbacks.py``'s web server: the product's own, plus a bench-only URL.

The server serves every product URL unchanged (the Twilio status callback included) and one more,
``/bench/bare/<token>/status``: the baseline, a bare view that checks the Twilio signature and
answers 200. Nothing in the product imports this module.
"""

from __future__ import annotations

from pimsy_messaging.settings import *  # noqa: F403

ROOT_URLCONF = "bench.callback_urls"
