"""Time per megapixel and peak memory of `classic`, each measured in a fresh subprocess.

Peak memory is the child's ru_maxrss (resident set high-water mark, includes OpenCV's native
allocations, which tracemalloc cannot see), minus nothing: it is the whole process.

Wall time on the shared 2-core machine swings 2-6x with other jobs' load (the same run took 8.6 s
and 53 s), so the child also reports its CPU time (user + system, all threads), which hardly
depends on the load; a process that never waits takes at most that long on an idle machine. The
target is still judged on wall time; the 1-minute load average is printed with each figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.quality.photos import REPO_ROOT

_CHILD = r"""
import json, resource, sys, time
import cv2, numpy as np
from benchmarks.quality.degrade import aged, noisy, scratched
from benchmarks.quality.photos import CLEAN, REAL_OLD, listing, load_rgb
from rekindle.engines.classic import restore_array
mode = sys.argv[1]
if mode == "make":
    # A 24-MP "scan": a clean photo upscaled to 6000×4000, aged, scratched and grainy (seeded),
    # so that every step runs. Made in its own process: making it costs more memory than restoring.
    # "sepia": the same scan as a sepia print, so that the monochrome path (hairline cracks) runs.
    rng = np.random.default_rng(7)
    big = cv2.resize(load_rgb(CLEAN / "mcmaster-18.tif"), (6000, 4000), interpolation=cv2.INTER_CUBIC)
    big = noisy(scratched(aged(big, rng), rng), rng, (8, 8))
    if len(sys.argv) > 3 and sys.argv[3] == "sepia":
        g = cv2.cvtColor(big, cv2.COLOR_RGB2GRAY)
        big = np.dstack([g, (g * 0.88).astype(np.uint8), (g * 0.7).astype(np.uint8)])
    np.save(sys.argv[2], big)
elif mode == "scan":
    big = np.load(sys.argv[2])
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    c = time.process_time(); t = time.perf_counter(); out, rep = restore_array(big)
    dt, cpu = time.perf_counter() - t, time.process_time() - c
    mp = big.shape[0] * big.shape[1] / 1e6
    print(json.dumps({"mp": mp, "seconds": dt, "cpu_seconds": cpu, "input_rss_mb": base / 1024,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "timings": rep["timings_s"], "noise_sigma": rep["steps"]["analysis"]["noise_sigma"],
                      "defect_fraction": rep["steps"]["defects"]["pixel_fraction"]}))
else:
    total_s = total_cpu = total_mp = 0.0
    for p in listing(REAL_OLD):
        img = load_rgb(p)
        c = time.process_time(); t = time.perf_counter(); restore_array(img)
        total_s += time.perf_counter() - t; total_cpu += time.process_time() - c
        total_mp += img.shape[0] * img.shape[1] / 1e6
    print(json.dumps({"mp": total_mp, "seconds": total_s, "cpu_seconds": total_cpu,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

MAX_S_PER_MP = 1.0
MAX_PEAK_MB = 1536


def _load() -> str:
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def _child(*args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    load = _load()
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, *args],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    lines = out.stdout.strip().splitlines()
    result: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    result["load"] = f"{load} -> {_load()}"
    return result


def run_perf() -> dict[str, Any]:
    """Measure the 24-MP scan and the real-old set; say whether the issue's targets are met."""
    scans = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("colour", "sepia"):
            scan_file = str(Path(tmp) / f"scan-{kind}.npy")
            _child("make", scan_file, kind)
            scans[kind] = _child("scan", scan_file)
            Path(scan_file).unlink()
    real = _child("real")
    for r in (*scans.values(), real):
        r["s_per_mp"] = r["seconds"] / r["mp"]
        r["cpu_s_per_mp"] = r["cpu_seconds"] / r["mp"]
    met = all(r["s_per_mp"] <= MAX_S_PER_MP for r in (*scans.values(), real))
    met = met and all(r["peak_rss_mb"] <= MAX_PEAK_MB for r in scans.values())
    return {
        "scan": scans["colour"],
        "scan_sepia": scans["sepia"],
        "real_old": real,
        "cpus": os.cpu_count(),
        "targets_met": met,
    }


def describe(r: dict[str, Any]) -> str:
    o = r["real_old"]
    scans = "".join(
        f"24-MP {name}: {s['mp']:.1f} MP in {s['seconds']:.2f} s = {s['s_per_mp']:.3f} s/MP "
        f"(CPU {s['cpu_seconds']:.2f} s = {s['cpu_s_per_mp']:.3f} s/MP; load {s['load']}), "
        f"peak RSS {s['peak_rss_mb']:.0f} MB (input loaded: {s['input_rss_mb']:.0f} MB), "
        f"noise sigma {s['noise_sigma']}, defects {s['defect_fraction']}; steps {s['timings']}\n"
        for name, s in (("scan", r["scan"]), ("sepia scan", r["scan_sepia"]))
    )
    return (
        f"cpus: {r['cpus']}\n"
        f"{scans}"
        f"real-old set: {o['mp']:.2f} MP in {o['seconds']:.2f} s = {o['s_per_mp']:.3f} s/MP "
        f"(CPU {o['cpu_seconds']:.2f} s = {o['cpu_s_per_mp']:.3f} s/MP; load {o['load']}), "
        f"peak RSS {o['peak_rss_mb']:.0f} MB\n"
        f"perf targets (<= {MAX_S_PER_MP} s/MP, <= {MAX_PEAK_MB} MB): {'met' if r['targets_met'] else 'FAILED'}"
    )
