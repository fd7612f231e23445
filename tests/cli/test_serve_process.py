"""`rekindle serve` as a real process: SIGTERM (what Docker, systemd and Kubernetes send) stops the
API and the embedded worker and beat it started, like SIGINT; its data folder and files are
private to the owner (0700 folders, 0600 files)."""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from rekindle.cli import SERVE_WORKER_STOP_SECONDS
from tests.support.stack import free_port


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (from /proc)."""
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "REKINDLE_DATA_DIR": str(data_dir),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "S3_BUCKET": "",
        "LOG_LEVEL": "WARNING",
    }


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_serve_its_worker_and_beat(tmp_path: Path, signum: int) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = _env(data_dir)
    with open(tmp_path / "serve.log", "wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "rekindle", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 90
            started: set[int] = set()
            while time.monotonic() < deadline:
                started = descendants(serve.pid)
                try:
                    healthy = httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
                except httpx.HTTPError:
                    healthy = False
                if healthy and len(started) >= 2:  # the worker and its beat process
                    break
                assert serve.poll() is None, (tmp_path / "serve.log").read_text()
                time.sleep(0.5)
            assert len(started) >= 2, "worker and beat did not start"
            if signum == signal.SIGTERM:
                _check_private_files(data_dir, port, env)
            serve.send_signal(signum)
            serve.wait(timeout=SERVE_WORKER_STOP_SECONDS + 20)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(alive(pid) for pid in started):
                time.sleep(0.2)
            assert not [pid for pid in started if alive(pid)], "processes left running"
        finally:
            for pid in [serve.pid, *descendants(serve.pid)]:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
            serve.wait(timeout=10)


def _check_private_files(data_dir: Path, port: int, env: dict[str, str]) -> None:
    token = subprocess.run(
        [sys.executable, "-m", "rekindle", "token", "create", "--user", "perms"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    jpeg = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 100, 50)).save(jpeg, "JPEG")
    response = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/photos",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": ("p.jpg", jpeg.getvalue())},
    )
    assert response.status_code == 201, response.text
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    databases = list(data_dir.glob("*.sqlite3"))
    assert {p.name for p in databases} >= {"rekindle.sqlite3", "queue.sqlite3"}
    loose = []
    for path in [data_dir, *data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            loose.append(f"{path.relative_to(data_dir)}: {oct(mode)}")
    assert not loose, loose
