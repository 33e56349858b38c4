"""The one-process runner starts all three simulators and stops cleanly on a signal."""

from __future__ import annotations

import queue
import signal
import smtplib
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from messaging.simulators.__main__ import parse_args, start_all, stop_all
from messaging.simulators.smtp_sim import free_port

REPO_ROOT = Path(__file__).resolve().parents[3]


def _line_reader(process: subprocess.Popen) -> queue.Queue[str]:
    """Stdout lines of ``process``, read on a daemon thread."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line.rstrip("\n")) for line in iter(process.stdout.readline, "")],
        daemon=True,
    ).start()
    return lines


def _next_lines(lines: queue.Queue[str], count: int, timeout: float = 20.0) -> list[str]:
    """The next ``count`` lines, failing (not hanging) after ``timeout`` seconds."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while len(seen) < count:
        try:
            seen.append(lines.get(timeout=max(0.01, deadline - time.monotonic())))
        except queue.Empty:
            raise AssertionError(f"expected {count} lines from the runner, got {seen!r}") from None
    return seen


def test_runner_process_serves_all_three_and_stops_on_sigterm():
    ports = {name: free_port() for name in ("twilio", "fax", "smtp", "control")}
    command = [
        sys.executable,
        "-m",
        "messaging.simulators",
        *("--twilio-port", str(ports["twilio"]), "--fax-port", str(ports["fax"])),
        *("--smtp-port", str(ports["smtp"]), "--smtp-control-port", str(ports["control"])),
        "--log-level",
        "WARNING",
    ]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        output = _line_reader(process)
        lines = _next_lines(output, 3)
        assert lines[0] == f"twilio-sim listening on http://127.0.0.1:{ports['twilio']}"
        assert lines[1] == f"fax-sim listening on http://127.0.0.1:{ports['fax']}"
        assert lines[2].startswith(f"smtp-sim listening on smtp://127.0.0.1:{ports['smtp']}")
        for port in (ports["twilio"], ports["fax"], ports["control"]):
            assert requests.get(f"http://127.0.0.1:{port}/_sim/received", timeout=5).json() == []
        with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=5) as client:
            assert client.noop()[0] == 250
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert _next_lines(output, 1, timeout=5) == ["simulators stopped"]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        process.stdout.close()
        process.stderr.close()


def test_start_all_in_process_on_ephemeral_ports():
    args = parse_args(["--twilio-port", "0", "--fax-port", "0", "--smtp-port", "0", "--smtp-control-port", "0"])
    handles = start_all(args)
    try:
        assert [h.name for h in handles] == ["twilio", "fax", "smtp"]
        for handle in handles:
            assert requests.get(f"{handle.url}/_sim/health", timeout=5).json() == {"ok": True}
    finally:
        stop_all(handles)
