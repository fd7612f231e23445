"""Benchmark: memory a small hostile upload can take, in the API and in the worker (issue 12).

Inputs (made here, a few hundred KB each):
- `float-tiff`: 7000×8500 float ("F") TIFF, deflate, every pixel 0.5 (the issue's reproduction);
- `png16`: 7000×8500 16-bit gray PNG;
- `rgb-png-largest`: 7000×8500 RGB PNG, the largest decode `MAX_DECODE_BYTES` lets through
  (59.5 MP × 4 bytes = 238 MB of Pillow RGB).

API: for each input, a fresh `rekindle serve --no-worker` (embedded stack, rate limits off) gets
one upload, then three at once. Its peak RSS (VmHWM, reset through /proc/PID/clear_refs after a
warm-up upload) minus its RSS just before is the growth reported. RSS, not tracemalloc: Pillow
and zlib allocate outside Python's allocator.

Worker: a fresh process per input imports the worker's code and runs what a restoration runs
before its engine (`preprocess` under the decode slot, as `restoration.runner` does), once and
three at once in threads, with the same RSS measurement.

`--src DIR` runs the subprocesses against another checkout's `src` (for example the code before
this change, `git archive <rev> src | tar -x -C DIR`), to put the figures side by side.

Run:  uv run python benchmarks/decode_memory.py [--src DIR] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import httpx
from PIL import Image

SIZE = (7000, 8500)
TARGET_ONE_MB = 300
TARGET_THREE_MB = 600


def make_inputs(folder: Path) -> dict[str, Path]:
    inputs = {
        "float-tiff": (Image.new("F", SIZE, 0.5), "TIFF", {"compression": "tiff_adobe_deflate"}),
        "png16": (Image.new("I;16", SIZE, 1000), "PNG", {}),
        "rgb-png-largest": (Image.new("RGB", SIZE, (90, 120, 150)), "PNG", {}),
    }
    paths = {}
    for name, (img, fmt, params) in inputs.items():
        path = folder / f"{name}.{fmt.lower()}"
        img.save(path, format=fmt, **params)
        img.close()
        paths[name] = path
    return paths


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def reset_peak(pid: int) -> int:
    """Reset the process's peak RSS to its current RSS; return that RSS in bytes."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _status(pid, "VmRSS")


def peak(pid: int) -> int:
    return _status(pid, "VmHWM")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(data_dir: Path, src: Path | None) -> dict[str, str]:
    env = {
        **os.environ,
        "REKINDLE_DATA_DIR": str(data_dir),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "S3_BUCKET": "",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def _upload(url: str, token: str, path: Path) -> int:
    with path.open("rb") as f:
        response = httpx.post(
            url + "/api/v1/photos",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": (path.name, f)},
            timeout=600,
        )
    return response.status_code


def measure_api(path: Path, warmup: Path, src: Path | None) -> dict[str, object]:
    result: dict[str, object] = {}
    for count in (1, 3):
        with tempfile.TemporaryDirectory() as tmp:
            env = _env(Path(tmp) / "data", src)
            port = _free_port()
            server = subprocess.Popen(
                [sys.executable, "-m", "rekindle", "serve", "--no-worker", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                url = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 600
                while True:
                    try:
                        if httpx.get(url + "/healthz").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError("API did not start")
                    time.sleep(0.2)
                token = subprocess.run(
                    [sys.executable, "-m", "rekindle", "token", "create", "--user", "bench"],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.strip()
                assert _upload(url, token, warmup) == 201
                before = reset_peak(server.pid)
                statuses: list[int] = []

                def one(url: str = url, token: str = token, statuses: list[int] = statuses) -> None:
                    statuses.append(_upload(url, token, path))

                threads = [threading.Thread(target=one) for _ in range(count)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                growth = peak(server.pid) - before
            finally:
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
        result[f"api_{count}"] = {"statuses": sorted(statuses), "peak_growth_mb": growth / 1e6}
    return result


_WORKER_SCRIPT = textwrap.dedent(
    """
    import json, sys, threading
    from pathlib import Path
    from rekindle.config import Settings
    from rekindle.imaging import preprocess, register_heif
    register_heif()
    try:
        from rekindle.imaging.decode import decode_slot
    except ImportError:  # the code before issue 12: no slot, no byte bound
        import contextlib
        decode_slot = lambda n: contextlib.nullcontext()
    try:  # what `rekindle worker` does at start
        from rekindle.heap import return_large_frees_to_os
        return_large_frees_to_os()
    except ImportError:
        pass
    settings = Settings()
    data = Path(sys.argv[1]).read_bytes()
    count = int(sys.argv[2])
    kwargs = {"max_side": settings.max_side_pixels}
    if hasattr(settings, "max_decode_bytes"):
        kwargs["max_decode_bytes"] = settings.max_decode_bytes
    outcomes = []
    def run():
        try:
            with decode_slot(getattr(settings, "decode_max_parallel", 1)):
                preprocess(data, **kwargs)
            outcomes.append("ok")
        except Exception as exc:
            outcomes.append(getattr(exc, "code", type(exc).__name__))
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.readline()
    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads: t.start()
    for t in threads: t.join()
    sys.stdout.write(json.dumps(sorted(outcomes)) + "\\n"); sys.stdout.flush()
    sys.stdin.readline()
    """
)


def measure_worker(path: Path, src: Path | None) -> dict[str, object]:
    result: dict[str, object] = {}
    for count in (1, 3):
        with tempfile.TemporaryDirectory() as tmp:
            process = subprocess.Popen(
                [sys.executable, "-c", _WORKER_SCRIPT, str(path), str(count)],
                env=_env(Path(tmp) / "data", src),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert process.stdin is not None and process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            before = reset_peak(process.pid)
            process.stdin.write("go\n")
            process.stdin.flush()
            outcomes = json.loads(process.stdout.readline())
            growth = peak(process.pid) - before
            process.stdin.write("done\n")
            process.stdin.flush()
            process.wait(timeout=30)
        result[f"worker_{count}"] = {"outcomes": outcomes, "peak_growth_mb": growth / 1e6}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=None, help="run another checkout's src")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--only", default=None, help="comma-separated input names")
    args = parser.parse_args()
    results: dict[str, object] = {
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "src": str(args.src or "this checkout"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        inputs = make_inputs(Path(tmp))
        warmup = Path(tmp) / "warmup.jpg"
        Image.new("RGB", (64, 48), (1, 2, 3)).save(warmup, "JPEG")
        names = args.only.split(",") if args.only else list(inputs)
        for name in names:
            path = inputs[name]
            row: dict[str, object] = {"file_kb": round(path.stat().st_size / 1024)}
            row.update(measure_api(path, warmup, args.src))
            row.update(measure_worker(path, args.src))
            results[name] = row
            print(name, json.dumps(row), flush=True)
    print()
    print("| input (7000×8500) | file | API 1 | API 3 at once | worker 1 | worker 3 at once |")
    print("|---|---|---|---|---|---|")
    for name in names:
        row = results[name]  # type: ignore[assignment]
        cells = [f"{row['file_kb']} KB"]  # type: ignore[index]
        for key in ("api_1", "api_3", "worker_1", "worker_3"):
            cell = row[key]  # type: ignore[index]
            outcome = cell.get("statuses") or cell.get("outcomes")
            cells.append(f"{cell['peak_growth_mb']:.0f} MB ({', '.join(map(str, outcome))})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\nTargets: one upload ≤ {TARGET_ONE_MB} MB, three at once ≤ {TARGET_THREE_MB} MB.")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
