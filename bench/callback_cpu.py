"""The status callback view's own CPU, without gunicorn or a load generator: ``bench_callbacks.py``'s
callbacks handed to Django's ``WSGIHandler`` in this process, the bare baseline view then the
product's, on a database of their own. Prints CPU per callback of each and their ratio; checks the
final states as ``bench_callbacks.py`` does.

    createdb -h 127.0.0.1 -U postgres pimsy_bench_cb2
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pimsy_bench_cb2 .venv/bin/python bench/callback_cpu.py [deliveries]

To compare two versions of the code, run this file from each checkout in turn (the same database).
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_callbacks as bc  # noqa: E402


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    database = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pimsy_bench_cb2")
    bc.ensure_database(database)
    os.environ.update(bc.server_env(database, "redis://127.0.0.1:6379/5"))
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from twilio.request_validator import RequestValidator

    call_command("migrate", verbosity=0)
    rows = bc.prepare(count)
    callbacks, _ = bc.schedule(rows, 16)
    validator, app = RequestValidator(bc.AUTH_TOKEN), WSGIHandler()

    def environ(callback: bc.Callback, path: str) -> dict:
        target = path.format(token=callback.token)
        body = urlencode(callback.params).encode()
        return {
            "REQUEST_METHOD": "POST", "PATH_INFO": target, "QUERY_STRING": "", "SERVER_NAME": bc.HOST,
            "SERVER_PORT": "443", "HTTP_HOST": bc.HOST, "HTTP_X_FORWARDED_PROTO": "https",
            "HTTP_X_FORWARDED_FOR": "54.172.60.1", "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8", "CONTENT_LENGTH": str(len(body)),
            "HTTP_X_TWILIO_SIGNATURE": validator.compute_signature(bc.PUBLIC_BASE_URL + target, callback.params),
            "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "SERVER_PROTOCOL": "HTTP/1.1",
        }  # fmt: skip

    def cpu_per_call(environs: list[dict]) -> float:
        started = time.process_time()
        for env in environs:
            status: list[str] = []
            body = app(env, lambda s, _h, status=status: status.append(s))
            b"".join(body)
            body.close()
            if not status[0].startswith("200"):
                raise RuntimeError(f"{env['PATH_INFO']} answered {status[0]}")
        return (time.process_time() - started) / len(environs)

    cpu_per_call([environ(c, bc.BARE_PATH) for c in callbacks[:50]])  # warm-up
    bare = cpu_per_call([environ(c, bc.BARE_PATH) for c in callbacks])
    product = cpu_per_call([environ(c, bc.PRODUCT_PATH) for c in callbacks])
    print(
        f"{len(callbacks):,} callbacks: bare view {bare * 1000:.2f} ms CPU each, product view "
        f"{product * 1000:.2f} ms, ratio {product / bare:.2f}"
    )
    problems = bc.check(rows, callbacks)
    print("final: " + ("exactly right" if not problems else "WRONG: " + "; ".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
