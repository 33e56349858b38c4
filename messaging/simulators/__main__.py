"""Run the Twilio, fax and SMTP simulators in one process (used by ``make demo``).

    python -m messaging.simulators --twilio-port 8025 --fax-port 8026 \\
        --smtp-port 8027 --smtp-control-port 8028 --latency-ms 0

Credentials come from the environment, with the demo defaults of ``pimsy_messaging.settings``:
TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, FAX_PROJECT_ID, FAX_KEY_ID, FAX_KEY_SECRET,
FAX_CALLBACK_USER, FAX_CALLBACK_PASSWORD. Prints one line per listening simulator and stops
cleanly on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from messaging.simulators.base import LOOPBACK, SimHandle
from messaging.simulators.fax_sim import start_fax_sim
from messaging.simulators.smtp_sim import start_smtp_sim
from messaging.simulators.twilio_sim import start_twilio_sim

DEMO_ENV = {
    "TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000",
    "TWILIO_AUTH_TOKEN": "demo-auth-token",
    "FAX_PROJECT_ID": "demo-project",
    "FAX_KEY_ID": "demo-key",
    "FAX_KEY_SECRET": "demo-secret",
    "FAX_CALLBACK_USER": "fax",
    "FAX_CALLBACK_PASSWORD": "demo-fax-callback",
}


def env(name: str) -> str:
    return os.environ.get(name) or DEMO_ENV[name]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m messaging.simulators", description=__doc__)
    parser.add_argument("--host", default=LOOPBACK, help="address to bind (loopback by default)")
    parser.add_argument("--twilio-port", type=int, default=8025)
    parser.add_argument("--fax-port", type=int, default=8026)
    parser.add_argument("--smtp-port", type=int, default=8027)
    parser.add_argument("--smtp-control-port", type=int, default=8028)
    parser.add_argument("--latency-ms", type=int, default=0, help="added to each API create")
    parser.add_argument("--callback-delay-ms", type=int, default=200, help="between webhooks")
    parser.add_argument("--max-concurrent", type=int, default=None, help="Twilio: 429/20429 past this many creates")
    parser.add_argument(
        "--no-strict",
        dest="strict",
        action="store_false",
        help="Twilio: log OpenAPI violations instead of answering 400",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def start_all(args: argparse.Namespace) -> list[SimHandle]:
    """Start the three simulators; on a failure stop the ones already started."""
    handles: list[SimHandle] = []
    starters = [
        lambda: start_twilio_sim(
            account_sid=env("TWILIO_ACCOUNT_SID"),
            auth_token=env("TWILIO_AUTH_TOKEN"),
            latency_ms=args.latency_ms,
            strict=args.strict,
            max_concurrent=args.max_concurrent,
            callback_delay_ms=args.callback_delay_ms,
            host=args.host,
            port=args.twilio_port,
        ),
        lambda: start_fax_sim(
            project_id=env("FAX_PROJECT_ID"),
            key_id=env("FAX_KEY_ID"),
            key_secret=env("FAX_KEY_SECRET"),
            callback_user=env("FAX_CALLBACK_USER"),
            callback_password=env("FAX_CALLBACK_PASSWORD"),
            callback_delay_ms=args.callback_delay_ms,
            latency_ms=args.latency_ms,
            host=args.host,
            port=args.fax_port,
        ),
        lambda: start_smtp_sim(host=args.host, port=args.smtp_port, control_port=args.smtp_control_port),
    ]
    try:
        for start in starters:
            handles.append(start())
    except BaseException:
        stop_all(handles)
        raise
    return handles


def stop_all(handles: Sequence[SimHandle]) -> None:
    for handle in reversed(handles):
        try:
            handle.stop()
        except Exception:
            logging.getLogger("messaging.simulators").exception("stopping %s failed", handle.name)


def describe(handle: SimHandle) -> str:
    if handle.name == "smtp":
        return f"smtp-sim listening on smtp://{handle.host}:{handle.port} (control {handle.url})"
    return f"{handle.name}-sim listening on {handle.url}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("mail.log").setLevel(max(logging.WARNING, logging.getLogger().level))  # aiosmtpd
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    handles = start_all(args)
    for handle in handles:
        print(describe(handle), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        stop_all(handles)
        print("simulators stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
