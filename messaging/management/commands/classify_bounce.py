"""``manage.py classify_bounce [--json] FILE...``: classify bounce e-mails saved as files.

Prints one line per failed recipient. With ``--json`` each line is
``{"file": ..., "recipient": ..., "category": ..., "hard": true|false}``. A file that cannot be
read or is not a bounce is reported on stderr and makes the command exit non-zero once all
files have been processed.
"""

from __future__ import annotations

import email
import json
import logging
from argparse import ArgumentParser
from email.message import Message
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from messaging.channels.email.dsn import DsnFailure, parse_dsn


def _read_message(path: Path) -> Message:
    with path.open("rb") as handle:
        return email.message_from_binary_file(handle)


class Command(BaseCommand):
    help = "Classify bounce messages (RFC 3464 DSNs and common free-text bounces)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="bounce message (.eml)")
        parser.add_argument("--json", action="store_true", help="one JSON object per failed recipient")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verbosity"] < 2:  # flufl.bounce logs every detector it runs at INFO
            logging.getLogger("flufl.bounce").setLevel(logging.WARNING)
        rows: list[tuple[str, DsnFailure]] = []
        failed_files = 0
        for name in options["files"]:
            failures = self._failures(name)
            if not failures:
                failed_files += 1
                continue
            if options["json"]:
                for failure in failures:
                    self.stdout.write(self._json_line(name, failure))
            else:
                rows.extend((name, failure) for failure in failures)
        self._write_table(rows)
        if failed_files:
            raise CommandError(f"{failed_files} file(s) could not be classified", returncode=1)

    def _failures(self, name: str) -> list[DsnFailure]:
        try:
            failures = parse_dsn(_read_message(Path(name)))
        except OSError as error:
            self.stderr.write(f"{name}: cannot read: {error.strerror or error}")
            return []
        if not failures:
            self.stderr.write(f"{name}: not a parseable bounce message")
        return failures

    @staticmethod
    def _json_line(name: str, failure: DsnFailure) -> str:
        return json.dumps(
            {
                "file": name,
                "recipient": failure.recipient,
                "category": str(failure.category),
                "hard": failure.hard,
            }
        )

    def _write_table(self, rows: list[tuple[str, DsnFailure]]) -> None:
        if not rows:
            return
        file_width = max(len(name) for name, _ in rows)
        recipient_width = max(len(failure.recipient) for _, failure in rows)
        category_width = max(len(str(failure.category)) for _, failure in rows)
        for name, failure in rows:
            kind = "hard" if failure.hard else "soft"
            line = (
                f"{name:<{file_width}}  {failure.recipient:<{recipient_width}}  "
                f"{failure.category!s:<{category_width}}  {kind}  {failure.status or '-':<6}  "
                f"{failure.diagnostic[:80]}"
            )
            self.stdout.write(line.rstrip())
