"""Container health probe for every Rekindle role (the image's HEALTHCHECK runs it).

The probe finds the container's Rekindle process in /proc and checks what that role serves:

- `rekindle serve [--port N]`: GET http://127.0.0.1:N/healthz must answer 200 within 4 s. The port
  comes from the process's own command line (default 8000, click's default in rekindle.cli), so
  `serve --port 18080` is probed on 18080 with no extra setting.
- `rekindle worker`: the worker must answer a Celery ping (remote control over the broker,
  https://docs.celeryq.dev/en/stable/userguide/workers.html#ping) addressed to its own node name,
  `celery@<hostname>`, within 5 s. With the embedded SQLite queue there is no broadcast channel,
  so a running process is enough.
- anything else (`migrate`, `token`, one-shot commands): healthy while it runs.

Exit status 0 = healthy, 1 = unhealthy (Docker's HEALTHCHECK convention).
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.request

DEFAULT_PORT = 8000


def rekindle_command() -> list[str]:
    """argv of the lowest-numbered process running `rekindle serve` or `rekindle worker`, else []."""
    pids = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = [a.decode(errors="replace") for a in handle.read().split(b"\0") if a]
        except OSError:
            continue
        for index, arg in enumerate(argv):
            if os.path.basename(arg) == "rekindle" or arg == "rekindle.cli":
                rest = argv[index + 1 :]
                if rest and rest[0] in ("serve", "worker"):
                    return rest
    return []


def serve_port(args: list[str]) -> int:
    """The value of `--port N` / `--port=N` in `args`, else the CLI default."""
    for index, arg in enumerate(args):
        if arg == "--port" and index + 1 < len(args):
            return int(args[index + 1])
        if arg.startswith("--port="):
            return int(arg.split("=", 1)[1])
    return DEFAULT_PORT


def probe_serve(args: list[str]) -> bool:
    url = f"http://127.0.0.1:{serve_port(args)}/healthz"
    with urllib.request.urlopen(url, timeout=4) as response:
        return bool(response.status == 200)


def probe_worker() -> bool:
    from rekindle.config import get_settings
    from rekindle.queue import create_celery

    settings = get_settings()
    if settings.is_embedded_queue:
        return True
    app = create_celery(settings)
    node = f"celery@{socket.gethostname()}"
    replies = app.control.ping(destination=[node], timeout=5.0)
    return any(node in reply for reply in replies)


def main() -> int:
    args = rekindle_command()
    try:
        if args and args[0] == "serve":
            healthy = probe_serve(args)
        elif args and args[0] == "worker":
            healthy = probe_worker()
        else:
            healthy = True
    except Exception as exc:  # any failure to answer is "unhealthy", with the reason in the log
        print(f"unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
