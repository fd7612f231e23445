"""Benchmark: `rekindle.imaging.preprocess` against seed 001's straightforward `preprocess_image`.

Inputs: a 12-megapixel (4000×3000) photo-like JPEG (quality 90) and HEIC, made from a real clean
reference photo (../shared/photos/clean-reference, cropped to 4:3, LANCZOS-upscaled, plus sensor-
like noise); a synthetic picture stands in when the shared photos are absent. A 640×480 JPEG
(not resized) shows the fixed per-call overhead.

Measured in one run, for each input and implementation:
- wall time: median (and min) of `--runs` calls in this process, the two implementations
  interleaved so that drift in machine load hits both;
- peak memory: peak RSS (VmHWM) of a fresh subprocess per implementation and input that runs
  the call once; reported as the increase over the RSS just before the call (the working
  memory of one preprocessing) and as the process total. RSS, not tracemalloc, because Pillow,
  libjpeg and libheif allocate outside Python's allocator;
- output: dimensions (must be equal) and the PSNR between the two outputs.

Run:  uv run python benchmarks/preprocess.py [--runs 11] [--markdown]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from rekindle.imaging import preprocess, register_heif

REPO_ROOT = Path(__file__).resolve().parents[1]
CLEAN_REFERENCE = REPO_ROOT.parent / "shared" / "photos" / "clean-reference"
SOURCE_PHOTO = "set5-baby.png"  # 512×512, the largest clean reference
SIZE = (4000, 3000)


# --- seed 001, copied verbatim (research.md, "2. Image Preprocessing") ----------------------------


def preprocess_image(image_bytes: bytes) -> bytes:
    """Resize and convert image for SiliconFlow API"""
    img = Image.open(io.BytesIO(image_bytes))

    # Convert to RGB (handles RGBA, grayscale, etc.)
    if img.mode != "RGB":
        img = img.convert("RGB")

    # Resize if exceeds max dimensions (3584x3584 per API docs)
    max_dim = 3584
    if img.width > max_dim or img.height > max_dim:
        img.thumbnail((max_dim, max_dim), Image.Resampling.LANCZOS)

    # Output as JPEG
    output = io.BytesIO()
    img.save(output, format="JPEG", quality=95)
    return output.getvalue()


# --- ours --------------------------------------------------------------------------------------------


def rekindle_preprocess(image_bytes: bytes) -> bytes:
    return preprocess(image_bytes).image_bytes


IMPLEMENTATIONS: dict[str, Callable[[bytes], bytes]] = {
    "seed": preprocess_image,
    "rekindle": rekindle_preprocess,
}


# --- inputs --------------------------------------------------------------------------------------------


def source_picture() -> tuple[Image.Image, str]:
    path = CLEAN_REFERENCE / SOURCE_PHOTO
    if path.is_file():
        img = Image.open(path).convert("RGB")
        w, h = img.size
        crop_h = w * SIZE[1] // SIZE[0]
        top = (h - crop_h) // 2
        return img.crop((0, top, w, top + crop_h)), f"shared/photos/clean-reference/{SOURCE_PHOTO}"
    y, x = np.mgrid[0:384, 0:512].astype(np.float32)
    arr = np.stack(
        [128 + 100 * np.sin(x / 40), 128 + 90 * np.cos(y / 30), 128 + 80 * np.sin((x + y) / 50)],
        axis=-1,
    )
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8)), "synthetic gradients"


def make_inputs(folder: Path) -> tuple[dict[str, Path], str]:
    """Write the 12 MP JPEG and HEIC into `folder`; return their paths and the source's name."""
    register_heif()
    picture, source = source_picture()
    big = picture.resize(SIZE, Image.Resampling.LANCZOS)
    rng = np.random.default_rng(0)
    arr = np.asarray(big, dtype=np.float32)
    arr += rng.normal(0.0, 4.0, arr.shape).astype(np.float32)
    big = Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")
    paths = {
        "JPEG q90": folder / "12mp.jpg",
        "HEIC": folder / "12mp.heic",
        "small JPEG q90": folder / "small.jpg",
    }
    big.save(paths["JPEG q90"], format="JPEG", quality=90)
    # Below the bound nothing is resized: this row shows our fixed per-call overhead.
    big.resize((640, 480), Image.Resampling.LANCZOS).save(paths["small JPEG q90"], quality=90)
    # x265's "ultrafast" preset keeps this step to seconds; quality 75 gives a phone-like size.
    big.save(paths["HEIC"], format="HEIF", quality=75, enc_params={"preset": "ultrafast"})
    return paths, source


# --- measurements --------------------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def peak_rss_child(implementation: str, path: str) -> None:
    """Subprocess body: run one implementation once and print RSS figures (KiB) as JSON.

    Uses /proc/self/status (VmRSS, VmHWM), with the high-water mark reset just before the call
    through /proc/self/clear_refs (Linux). `getrusage().ru_maxrss` would not do: Linux carries it
    over from the parent across fork and exec, so a child of a big parent reports the parent's.
    """
    register_heif()  # the seed's service registered pillow-heif at start-up too
    data = Path(path).read_bytes()
    fn = IMPLEMENTATIONS[implementation]
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _status_kib("VmRSS")
    out = fn(data)
    peak = _status_kib("VmHWM")
    print(json.dumps({"before_kib": before, "peak_kib": peak, "out_bytes": len(out)}))


def measure_peak(implementation: str, path: Path) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", implementation, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def psnr(a: bytes, b: bytes) -> float:
    x = np.asarray(Image.open(io.BytesIO(a)).convert("RGB"), dtype=np.float64)
    y = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), dtype=np.float64)
    mse = float(np.mean((x - y) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def bench(runs: int) -> list[dict[str, object]]:
    register_heif()
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="rekindle-bench-") as tmp:
        paths, source = make_inputs(Path(tmp))
        print(f"inputs made from {source}", file=sys.stderr)
        for label, path in paths.items():
            data = path.read_bytes()
            outputs = {name: fn(data) for name, fn in IMPLEMENTATIONS.items()}  # warm-up
            times: dict[str, list[float]] = {name: [] for name in IMPLEMENTATIONS}
            for _ in range(runs):
                for name, fn in IMPLEMENTATIONS.items():
                    start = time.perf_counter()
                    fn(data)
                    times[name].append(time.perf_counter() - start)
            sizes = {name: Image.open(io.BytesIO(out)).size for name, out in outputs.items()}
            peaks = {name: measure_peak(name, path) for name in IMPLEMENTATIONS}
            rows.append(
                {
                    "input": label,
                    "input_bytes": len(data),
                    "input_size": Image.open(path).size,
                    "median_s": {n: statistics.median(t) for n, t in times.items()},
                    "min_s": {n: min(t) for n, t in times.items()},
                    "peak_delta_mib": {
                        n: (p["peak_kib"] - p["before_kib"]) / 1024 for n, p in peaks.items()
                    },
                    "peak_total_mib": {n: p["peak_kib"] / 1024 for n, p in peaks.items()},
                    "output_size": sizes,
                    "same_dimensions": len(set(sizes.values())) == 1,
                    "psnr_db": psnr(outputs["rekindle"], outputs["seed"]),
                    "source": source,
                }
            )
    return rows


def report(rows: list[dict[str, object]], runs: int, markdown: bool) -> str:
    lines = []
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    lines.append(
        f"Runs: {runs} timed calls each (median; min in brackets), after one warm-up; "
        f"Python {platform.python_version()}, Pillow {Image.__version__}; {machine}."
    )
    lines.append("")
    lines.append(
        "| input | seed time | ours time | ours/seed time | seed peak (Δ RSS / total) "
        "| ours peak (Δ RSS / total) | ours/seed Δ peak | output (seed = ours) | PSNR ours vs seed |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        med, mn = row["median_s"], row["min_s"]
        delta, total = row["peak_delta_mib"], row["peak_total_mib"]
        assert isinstance(med, dict) and isinstance(mn, dict)
        assert isinstance(delta, dict) and isinstance(total, dict)
        sizes = row["output_size"]
        assert isinstance(sizes, dict)
        w, h = row["input_size"]  # type: ignore[misc]
        same = "yes" if row["same_dimensions"] else "NO"
        lines.append(
            f"| {row['input']} {w}×{h}, {row['input_bytes'] / 1e6:.1f} MB "
            f"| {med['seed'] * 1000:.1f} ms ({mn['seed'] * 1000:.1f}) "
            f"| {med['rekindle'] * 1000:.1f} ms ({mn['rekindle'] * 1000:.1f}) "
            f"| {med['rekindle'] / med['seed']:.2f} "
            f"| {delta['seed']:.0f} / {total['seed']:.0f} MiB "
            f"| {delta['rekindle']:.0f} / {total['rekindle']:.0f} MiB "
            f"| {delta['rekindle'] / max(delta['seed'], 0.001):.2f} "
            f"| {sizes['rekindle'][0]}×{sizes['rekindle'][1]} ({same}) "
            f"| {row['psnr_db']:.1f} dB |"
        )
    text = "\n".join(lines)
    return text if markdown else text.replace("| ", "").replace(" |", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument(
        "--child", nargs=2, metavar=("IMPLEMENTATION", "PATH"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        peak_rss_child(*args.child)
        return
    rows = bench(args.runs)
    print(report(rows, args.runs, args.markdown))
    if not all(row["same_dimensions"] for row in rows):
        sys.exit("output dimensions differ")


if __name__ == "__main__":
    main()
