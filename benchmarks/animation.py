"""Benchmark: the local animation engine (`rekindle.engines.animation.local`) on real old photos.

For each photo in ../shared/photos/real-old (or --photos DIR), render the 480p preview (5 s at
25 fps, the engine's defaults) `--runs` times in this process and report the median and minimum
wall time of `LocalAnimationEngine.animate`, split into decode, subject analysis and
render + encode (the engine's own timings), plus the output size and MP4 size. The target is at most
10 s per preview on a 2-core machine.

With --hd, each photo is also rendered once as the 1080p HD result. With --memory, the peak RSS
(VmHWM) of a fresh subprocess that renders one HD result of the largest photo is reported against
the RSS just before the call: frames are streamed into the encoder, so this stays far below the
size of the decoded clip (frames × width × height × 3 bytes), which is printed beside it.

Run:  uv run python benchmarks/animation.py [--runs 3] [--hd] [--memory] [--photos DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import av
from PIL import Image

from rekindle.engines.animation.local import LocalAnimationEngine
from rekindle.engines.base import AnimateRequest

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_OLD = REPO_ROOT.parent / "shared" / "photos" / "real-old"
TARGET_SECONDS = 10.0


def photos(folder: Path) -> list[Path]:
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not found:
        raise SystemExit(f"no photos in {folder}")
    return found


def render(engine: LocalAnimationEngine, data: bytes, hd: bool) -> tuple[float, dict]:
    started = time.perf_counter()
    result = engine.animate(AnimateRequest(image=data, hd=hd))
    elapsed = time.perf_counter() - started
    return elapsed, {
        "size": f"{result.width}×{result.height}",
        "frames": result.params["frames"],
        "kib": len(result.video) // 1024,
        "detector": result.params["detector"],
        "zoom": result.params["zoom"][1],
        **result.params["timings"],
    }


def peak_memory(path: Path) -> dict:
    """Render one HD result in a fresh interpreter; return its RSS before and at peak, MiB."""
    code = f"""
import json, resource
from pathlib import Path
from rekindle.engines.animation.local import LocalAnimationEngine
from rekindle.engines.base import AnimateRequest
data = Path({str(path)!r}).read_bytes()
engine = LocalAnimationEngine()
def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
before = status("VmRSS:")
result = engine.animate(AnimateRequest(image=data, hd=True))
print(json.dumps({{"before": before, "peak": status("VmHWM:"), "width": result.width,
    "height": result.height, "frames": result.params["frames"]}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="preview renders per photo")
    parser.add_argument("--hd", action="store_true", help="also render each photo once in HD")
    parser.add_argument("--memory", action="store_true", help="peak RSS of one HD render")
    parser.add_argument("--photos", type=Path, default=REAL_OLD)
    args = parser.parse_args()
    if not args.photos.is_dir():
        raise SystemExit(f"photo folder not found: {args.photos} (needs ../shared/photos)")

    engine = LocalAnimationEngine()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"PyAV {av.__version__}, libavcodec {'.'.join(map(str, av.library_versions['libavcodec']))}"
    )
    print(f"load average (1 min) before: {os.getloadavg()[0]:.2f}")
    print(f"preview runs per photo: {args.runs}\n")
    print(
        "| photo | source | preview | median s | min s | decode s | analyse s | render+encode s "
        "| MP4 KiB | detector | zoom |" + (" HD | HD s | HD KiB |" if args.hd else "")
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|---|" if args.hd else ""))
    medians: list[float] = []
    hd_times: list[float] = []
    render(engine, photos(args.photos)[0].read_bytes(), False)  # warm-up: imports, first calls
    for path in photos(args.photos):
        data = path.read_bytes()
        with Image.open(path) as img:
            source = f"{img.width}×{img.height}"
        runs = [render(engine, data, False) for _ in range(args.runs)]
        times = [t for t, _ in runs]
        best = min(runs, key=lambda r: r[0])[1]
        median = statistics.median(times)
        medians.append(median)
        row = (
            f"| {path.name} | {source} | {best['size']} | {median:.2f} | {min(times):.2f} "
            f"| {best['decode_seconds']:.3f} | {best['analyse_seconds']:.3f} "
            f"| {best['render_encode_seconds']:.2f} | {best['kib']} | {best['detector']} "
            f"| {best['zoom']} |"
        )
        if args.hd:
            hd_time, hd = render(engine, data, True)
            hd_times.append(hd_time)
            row += f" {hd['size']} | {hd_time:.2f} | {hd['kib']} |"
        print(row, flush=True)

    print(
        f"\npreview: median of medians {statistics.median(medians):.2f} s, "
        f"worst median {max(medians):.2f} s (target ≤ {TARGET_SECONDS:.0f} s): "
        + ("OK" if max(medians) <= TARGET_SECONDS else "OVER TARGET")
    )
    if hd_times:
        print(f"HD: median {statistics.median(hd_times):.2f} s, worst {max(hd_times):.2f} s")
    if args.memory:
        largest = max(photos(args.photos), key=lambda p: p.stat().st_size)
        mem = peak_memory(largest)
        clip = mem["frames"] * mem["width"] * mem["height"] * 3 / 2**20
        print(
            f"memory, one HD render of {largest.name} ({mem['width']}×{mem['height']}, "
            f"{mem['frames']} frames): RSS {mem['before']:.0f} MiB before, peak {mem['peak']:.0f} "
            f"MiB (+{mem['peak'] - mem['before']:.0f} MiB); the decoded clip would be {clip:.0f} MiB"
        )


if __name__ == "__main__":
    main()
