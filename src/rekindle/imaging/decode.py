"""Decoding shared by validation, thumbnails and preprocessing.

Everything here works on Pillow images opened from bytes or a path, restricted to the formats
Rekindle accepts (JPEG, PNG, HEIC/HEIF via pillow-heif, WebP, TIFF): the format is always detected
from the bytes (Pillow's magic-number sniffing), never from a file name or a client's MIME type.

The pipeline that `preprocess` and `make_thumbnail` share (`render`) works in this order, chosen so
that the expensive steps touch as few pixels as possible:

1. open (header only);
2. for JPEG, `Image.draft` lets libjpeg decode at 1/2, 1/4 or 1/8 scale when the target is at least
   `reducing_gap` times smaller (DCT-domain downscaling, as `Image.thumbnail` does);
3. exotic modes (palette, 1-bit, 16-bit and float gray, YCbCr, LAB, ...) become L/LA/RGB/RGBA/CMYK;
4. LANCZOS resample to the target size (`Image.resize(reducing_gap=...)`: an integer `reduce()`
   first when the reduction is large enough, then a true LANCZOS step of at least that gap);
5. alpha flattened on white, embedded ICC profile converted to sRGB (LittleCMS via ImageCms), then
   RGB; grayscale inputs stay exactly gray (R = G = B);
6. the EXIF orientation (read after loading: Pillow's TIFF plugin applies it itself) applied as
   a lossless transpose of the small result.

EXIF orientation is always one of the eight 90°-rotations/mirrors, so the longest side is the same
before and after step 6, and bounding the stored image bounds the oriented one.
"""

from __future__ import annotations

import io
import logging
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError

from rekindle.errors import InvalidImage, UnsupportedMediaType

logger = logging.getLogger(__name__)

ACCEPTED_FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "HEIF": ("image/heic", "heic"),
    "WEBP": ("image/webp", "webp"),
    "TIFF": ("image/tiff", "tiff"),
}
"""Pillow format name -> (MIME type, file extension) for every format an upload may have.

pillow-heif reports HEIC and HEIF files alike as "HEIF". AVIF, GIF, BMP, PDF, ... are refused.
"""

FORMAT_ALIASES: dict[str, str] = {"MPO": "JPEG"}
"""Pillow format names folded into an accepted one. Phones and cameras write multi-picture JPEGs
(MPO: a JPEG followed by depth maps or previews); Pillow names them "MPO", but they are JPEG files
that every JPEG reader shows, so they count as JPEG."""

ACCEPTED_FORMATS_TEXT = "JPEG, PNG, HEIC/HEIF, WebP or TIFF"

# Plugins Image.open may try: nothing else in Pillow gets to parse an upload. (Pillow's JPEG
# plugin itself returns an "MPO" image for multi-picture files.)
_OPEN_FORMATS: tuple[str, ...] = tuple(ACCEPTED_FORMATS)

# What the sniffing below recognises, only to word a helpful 415 message.
_OTHER_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"BM", 0, "BMP"),
    (b"%PDF", 0, "PDF"),
    (b"ftypavif", 4, "AVIF"),
    (b"ftypavis", 4, "AVIF"),
    (b"8BPS", 0, "PSD"),
    (b"\x00\x00\x01\x00", 0, "ICO"),
    (b"\xff\x0a", 0, "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", 0, "JPEG XL"),
    (b"<svg", 0, "SVG"),
    (b"<?xml", 0, "SVG/XML"),
)

_heif_lock = threading.Lock()
_heif_registered = False


def register_heif() -> None:
    """Register pillow-heif's HEIC/HEIF opener with Pillow (idempotent and thread-safe).

    Afterwards `Image.open` reads HEIC/HEIF files and reports their format as "HEIF".
    """
    global _heif_registered
    if _heif_registered:
        return
    with _heif_lock:
        if not _heif_registered:
            import pillow_heif

            pillow_heif.register_heif_opener()
            _heif_registered = True


def sniff_other_format(head: bytes) -> str | None:
    """Name a common non-accepted format from the first bytes of a file, or None."""
    for signature, offset, name in _OTHER_SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return name
    return None


def unsupported(head: bytes) -> UnsupportedMediaType:
    """The 415 error for a file whose first bytes `head` are not an accepted image."""
    if not head:
        return UnsupportedMediaType(f"The file is empty. Upload a {ACCEPTED_FORMATS_TEXT} image.")
    other = sniff_other_format(head)
    if other:
        return UnsupportedMediaType(
            f"{other} files are not accepted. Upload a {ACCEPTED_FORMATS_TEXT} image."
        )
    return UnsupportedMediaType(
        f"The file is not an image in an accepted format: upload a {ACCEPTED_FORMATS_TEXT} image."
    )


def too_large(
    width: int | None = None, height: int | None = None, *, max_pixels: int | None = None
) -> InvalidImage:
    """The 422 `image_too_large` error, naming the size and the limit in megapixels when known."""
    limit = (
        f" The limit is {max_pixels / 1_000_000:g} megapixels." if max_pixels is not None else ""
    )
    if width and height:
        size = f"{width}×{height} pixels ({width * height / 1_000_000:.1f} megapixels)"
        return InvalidImage(f"The image is too large: {size}.{limit}", code="image_too_large")
    return InvalidImage(f"The image has too many pixels.{limit}", code="image_too_large")


def too_costly(width: int, height: int, cost: int, *, max_bytes: int) -> InvalidImage:
    """The 422 `image_too_large` error for an image whose decoding would take over `max_bytes`."""
    return InvalidImage(
        f"The image is too large to process: {width}×{height} pixels of this kind need "
        f"{cost / 1_000_000:.0f} MB of memory to decode; the limit is "
        f"{max_bytes / 1_000_000:.0f} MB. Save it as an 8-bit JPEG or PNG, or make it smaller.",
        code="image_too_large",
    )


def corrupt(fmt: str | None, exc: BaseException | None = None) -> InvalidImage:
    """The 422 `corrupt_image` error for a file that starts like an image but does not decode."""
    what = f"{fmt} image" if fmt else "image"
    detail = f" ({exc})" if exc is not None and str(exc) else ""
    return InvalidImage(
        f"The {what} is damaged or incomplete and could not be decoded{detail}. "
        "Try exporting or uploading it again.",
        code="corrupt_image",
    )


def normalized_format(img: Image.Image) -> str:
    """The accepted format name of an opened image ("MPO" counts as "JPEG")."""
    fmt = img.format or ""
    return FORMAT_ALIASES.get(fmt, fmt)


def open_image(source: bytes | Path | IO[bytes]) -> Image.Image:
    """Open an image (headers only) from bytes, a path or a binary file object.

    Only accepted formats are tried. Raises `UnsupportedMediaType` (415) for anything else (empty
    files included) and `InvalidImage` (`image_too_large`) when Pillow's own decompression-bomb
    guard trips while reading the header. Pixels are decoded later, by `Image.load()`.
    """
    register_heif()
    if isinstance(source, bytes | bytearray | memoryview):
        fp: IO[bytes] | Path = io.BytesIO(source)
        head = bytes(source[:32])
    else:
        fp = source
        head = _read_head(source)
    if not head:
        raise unsupported(head)
    try:
        img = Image.open(fp, formats=_OPEN_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow refuses > 2 × Image.MAX_IMAGE_PIXELS outright; the warning only becomes an
        # exception under `-W error`, and either way it is the same answer.
        raise too_large() from exc
    except UnidentifiedImageError as exc:
        raise unsupported(head) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # A known signature followed by a broken header.
        raise corrupt(None, exc) from exc
    if normalized_format(img) not in ACCEPTED_FORMATS:  # pragma: no cover - defensive
        img.close()
        raise unsupported(head)
    return img


def _read_head(source: Path | IO[bytes]) -> bytes:
    if isinstance(source, Path | str):
        with open(source, "rb") as f:
            return f.read(32)
    pos = source.tell()
    head = source.read(32)
    source.seek(pos)
    return head


def load_pixels(img: Image.Image) -> None:
    """Decode the pixels of an opened image, mapping decoder failures to `InvalidImage`.

    Truncated files fail here because `ImageFile.LOAD_TRUNCATED_IMAGES` is left False.
    """
    try:
        img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise too_large(*img.size) from exc
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise corrupt(normalized_format(img), exc) from exc
    except Exception as exc:  # struct.error, zlib.error, plugin-specific failures
        raise corrupt(normalized_format(img), exc) from exc


# --- memory bounds ------------------------------------------------------------------------------


def bytes_per_pixel(mode: str) -> int:
    """Bytes one pixel of `mode` takes in Pillow's memory (not in the file).

    Pillow stores every multi-band mode (RGB, RGBA, LA, CMYK, YCbCr, ...) in 4 bytes per pixel,
    "I;16*" in 2, "I" and "F" in 4, and "1", "L", "P" in 1 (Pillow's `Storage.c`, `ImagingNew`).
    """
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


_CONVERTED_MODE: dict[str, str] = {
    "La": "LA",
    "RGBa": "RGBA",
    "RGBX": "RGB",
    "1": "L",
    "I": "L",
    "F": "L",
    "P": "RGBA",
    "PA": "RGBA",
}


def decode_cost(mode: str, size: tuple[int, int]) -> int:
    """Peak bytes of decoding an image of `mode` and `size` (width, height) and making it
    resizable (`to_resizable`): the decoded pixels plus, for modes converted at full size, the
    converted copy (high-bit-depth and float gray are converted in strips, so their copy is the
    8-bit result). Palette images are counted as becoming RGBA, the larger of their outcomes."""
    width, height = size
    per_pixel = bytes_per_pixel(mode)
    if mode not in ("L", "LA", "RGB", "RGBA", "CMYK"):
        converted = _CONVERTED_MODE.get(mode, "L" if mode.startswith("I;16") else "RGB")
        per_pixel += bytes_per_pixel(converted)
    return width * height * per_pixel


def check_decode_cost(img: Image.Image, max_bytes: int | None) -> None:
    """Raise `InvalidImage` (`image_too_large`) when decoding the opened `img` would take more
    than `max_bytes` bytes (`decode_cost`); None disables the check. Reads the header only."""
    if max_bytes is None:
        return
    cost = decode_cost(img.mode, img.size)
    if cost > max_bytes:
        raise too_costly(*img.size, cost, max_bytes=max_bytes)


_decode_slots: dict[int, threading.BoundedSemaphore] = {}
_decode_slots_lock = threading.Lock()


@contextmanager
def decode_slot(max_parallel: int) -> Iterator[None]:
    """Hold one of `max_parallel` per-process slots for a full decode (blocks until one is free).

    Decoding a large image takes up to the byte bound (`MAX_DECODE_BYTES`) of memory for a moment;
    this bounds how many such moments overlap in one process (`DECODE_MAX_PARALLEL`), whatever
    the number of request or worker threads.
    """
    with _decode_slots_lock:
        slot = _decode_slots.setdefault(max_parallel, threading.BoundedSemaphore(max_parallel))
    with slot:
        yield


def check_jpeg_data(data: bytes, size: tuple[int, int]) -> None:
    """Decode the entropy-coded data of a JPEG of stored `size` in full, at reduced scale, and
    raise `InvalidImage` (`corrupt_image`) when it ends early or is corrupt.

    libjpeg only *warns* when the data ends before the frame its header declares (it fills the
    rest with gray), and Pillow ignores those warnings; libjpeg-turbo through simplejpeg with
    `strict=True` turns them into errors. The scaled decode (1/8) still reads every byte.
    """
    import simplejpeg

    width, height = size
    try:
        colorspace = simplejpeg.decode_jpeg_header(data)[2]
        simplejpeg.decode_jpeg(
            data,
            colorspace="CMYK" if colorspace in ("CMYK", "YCCK") else "GRAY",
            min_width=max(1, width // 8),
            min_height=max(1, height // 8),
            strict=True,
        )
    except ValueError as exc:
        raise corrupt("JPEG", exc) from exc


def truncated_images_refused() -> bool:
    """True while Pillow refuses truncated files (the setting validation relies on)."""
    return not ImageFile.LOAD_TRUNCATED_IMAGES


# --- orientation ---------------------------------------------------------------------------------

_ORIENTATION_TAG = 0x0112
_TRANSPOSE_FOR_ORIENTATION: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def exif_orientation(img: Image.Image) -> int:
    """The EXIF orientation (1-8) of an opened image; 1 when absent or unreadable.

    pillow-heif applies HEIF's own rotation when decoding and neutralises the EXIF tag, so HEIF
    images report 1 here and come out upright, as in `ImageOps.exif_transpose`.
    """
    try:
        value = img.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # malformed EXIF must not make a photo unreadable
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSE_FOR_ORIENTATION else 1


def apply_orientation(img: Image.Image, orientation: int) -> Image.Image:
    """`img` transposed as EXIF `orientation` prescribes (unchanged for 1 or unknown values)."""
    method = _TRANSPOSE_FOR_ORIENTATION.get(orientation)
    return img.transpose(method) if method is not None else img


def oriented_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """(width, height) after applying `orientation` to an image of stored `size`."""
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


# --- sizes ---------------------------------------------------------------------------------------


def fit_within(size: tuple[int, int], max_side: int) -> tuple[int, int] | None:
    """The size whose longest side is `max_side`, keeping the aspect ratio; None if `size` fits.

    Uses exactly `Image.thumbnail`'s rounding (the closest aspect ratio among floor/ceil), so
    results match the seed's `img.thumbnail((max_dim, max_dim))` pixel for pixel.
    """
    width, height = size
    if width <= max_side and height <= max_side:
        return None
    aspect = width / height
    x = y = max_side
    if x / y >= aspect:
        x = _round_aspect(y * aspect, key=lambda n: abs(aspect - n / y))
    else:
        y = _round_aspect(x / aspect, key=lambda n: 0 if n == 0 else abs(aspect - x / n))
    return x, y


def _round_aspect(number: float, key) -> int:
    return max(min(math.floor(number), math.ceil(number), key=key), 1)


# --- modes and colour ---------------------------------------------------------------------------

_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "F"})
_SRGB_PROFILE: ImageCms.ImageCmsProfile | None = None


def _srgb() -> ImageCms.ImageCmsProfile:
    global _SRGB_PROFILE
    if _SRGB_PROFILE is None:
        _SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return _SRGB_PROFILE


def is_gray(img: Image.Image) -> bool:
    """True for single-channel gray modes and palette images whose palette is all gray."""
    if img.mode in _GRAY_MODES or img.mode.startswith("I;16"):
        return True
    if img.mode in ("P", "PA") and img.palette is not None:
        palette = img.getpalette("RGB") or []
        return all(
            palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette), 3)
        )
    return False


def to_resizable(img: Image.Image) -> Image.Image:
    """Convert any decoded mode to one of L, LA, RGB, RGBA, CMYK (which resize well).

    16-bit gray ("I;16*", "I") is scaled from 0-65535 to 0-255 (value / 257, rounded), not
    clipped; float gray ("F") is taken as 0-1 when its maximum is at most 1, else 0-255.
    Palette images keep transparency as alpha. Gray palettes become L.
    """
    mode = img.mode
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return img
    if mode == "La":
        return img.convert("LA")
    if mode in ("RGBa", "RGBX"):
        return img.convert("RGBA" if mode == "RGBa" else "RGB")
    if mode == "1":
        return img.convert("L")
    if mode.startswith("I;16") or mode == "I":
        return _gray_to_l(img, lambda strip: strip / 257.0)
    if mode == "F":
        scale = 255.0 if _finite_max(img) <= 1.0 else 1.0
        return _gray_to_l(img, lambda strip: np.nan_to_num(strip, posinf=1e9, neginf=-1e9) * scale)
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in img.info
        gray = is_gray(img)
        if has_alpha:
            return img.convert("LA" if gray else "RGBA")
        return img.convert("L" if gray else "RGB")
    # YCbCr, LAB, HSV and anything Pillow can turn into RGB.
    try:
        return img.convert("RGB")
    except ValueError as exc:
        raise InvalidImage(
            f"Images in colour mode {mode} are not supported.", code="unsupported_image_mode"
        ) from exc


# Rows converted at a time: a few MB of float64 however large the image (a 7000-pixel row of
# float64 is 56 KB), instead of several full-size copies.
_STRIP_BYTES = 4 * 1024 * 1024


def _strips(img: Image.Image) -> Iterator[tuple[int, np.ndarray]]:
    """(top row, float64 array of rows) for horizontal strips of a single-band image."""
    width, height = img.size
    rows = max(1, _STRIP_BYTES // (8 * max(1, width)))
    for top in range(0, height, rows):
        with img.crop((0, top, width, min(height, top + rows))) as strip:
            yield top, np.asarray(strip, dtype=np.float64)


def _finite_max(img: Image.Image) -> float:
    """The largest finite value of a float image (0 when it has none), scanned in strips."""
    best = -np.inf
    for _, arr in _strips(img):
        finite = arr[np.isfinite(arr)]
        if finite.size:
            best = max(best, float(finite.max()))
    return 0.0 if best == -np.inf else best


def _gray_to_l(img: Image.Image, to_0_255) -> Image.Image:
    """Map a wide gray image ("I;16*", "I", "F") to 8-bit L strip by strip: `to_0_255` takes a
    float64 strip to the 0-255 scale; the result is rounded and clipped. Peak memory is the 8-bit
    output plus one strip, never a full-size float64 copy."""
    width, height = img.size
    out = np.empty((height, width), dtype=np.uint8)
    for top, arr in _strips(img):
        out[top : top + arr.shape[0]] = np.clip(np.rint(to_0_255(arr)), 0, 255)
    return Image.fromarray(out, "L")


_RESIZE_STRIP_ROWS = 128
"""Output rows resampled at a time by `resize_lanczos` for large images."""


def resize_lanczos(
    img: Image.Image,
    size: tuple[int, int],
    *,
    box: tuple[float, float, float, float] | None = None,
    reducing_gap: float | None = None,
) -> Image.Image:
    """`img.resize(size, LANCZOS, box=box, reducing_gap=reducing_gap)`, computed in horizontal
    strips of the output when the image is large.

    Pillow resamples in two passes, and its intermediate image (target width × the source
    rows) can take 40% of the decoded image again (100 MB for a 60 MP RGB photo bound to 3584
    pixels). Resampling strips of output rows with the matching source `box` gives the same
    pixels (Pillow's filter reads beyond a box, within the image; Pillow's `ImagingResample`)
    with an intermediate of a few MB.
    """
    box = box or (0.0, 0.0, float(img.width), float(img.height))
    width, height = size
    if img.width * img.height <= 4_000_000 or height <= _RESIZE_STRIP_ROWS:
        return img.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=reducing_gap)
    out = Image.new(img.mode, size)
    left, top, right, bottom = box
    scale = (bottom - top) / height
    for y0 in range(0, height, _RESIZE_STRIP_ROWS):
        y1 = min(height, y0 + _RESIZE_STRIP_ROWS)
        strip_box = (left, top + y0 * scale, right, min(bottom, top + y1 * scale))
        with img.resize(
            (width, y1 - y0), Image.Resampling.LANCZOS, box=strip_box, reducing_gap=reducing_gap
        ) as strip:
            out.paste(strip, (0, y0))
    return out


def to_rgb(img: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Flatten alpha on white, convert an embedded ICC profile to sRGB, and return mode RGB.

    `img` must be L, LA, RGB, RGBA or CMYK (see `to_resizable`). A gray image comes out with
    R = G = B exactly. A profile that LittleCMS cannot use is ignored (logged), never fatal.
    """
    gray = img.mode in ("L", "LA")
    if img.mode in ("LA", "RGBA"):
        base = img.mode[:-1]
        background = Image.new(base, img.size, 255 if base == "L" else (255, 255, 255))
        background.paste(img.convert(base), mask=img.getchannel("A"))
        img = background
    if icc_profile and not _is_srgb_profile(icc_profile):
        img = _icc_to_srgb(img, icc_profile)
    if gray:
        return img.convert("L").convert("RGB")
    return img.convert("RGB") if img.mode != "RGB" else img


def _is_srgb_profile(icc_profile: bytes) -> bool:
    # The common sRGB profiles (HP/IEC, Apple's, Google's "sRGB IEC61966-2.1", LittleCMS's
    # "sRGB built-in") all say so in their description: converting them to sRGB is identity.
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        description = ImageCms.getProfileDescription(profile).strip().lower()
    except Exception:
        return False
    return description.startswith("srgb")


def _icc_to_srgb(img: Image.Image, icc_profile: bytes) -> Image.Image:
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        converted = ImageCms.profileToProfile(
            img,
            source,
            _srgb(),
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            outputMode="RGB",
        )
    except Exception as exc:  # PyCMSError, a profile for another colour space, ...
        logger.info("ignoring an unusable ICC profile (%s)", exc)
        return img
    assert converted is not None
    return converted


# --- the shared pipeline ------------------------------------------------------------------------


def render(
    img: Image.Image,
    *,
    max_side: int | None,
    reducing_gap: float,
    max_bytes: int | None = None,
) -> tuple[Image.Image, tuple[int, int], bool]:
    """Decode an opened image into an upright sRGB RGB image whose longest side is <= max_side.

    Returns (image, original oriented (width, height), resized?). `max_side=None` keeps the size.
    Raises `InvalidImage` when the pixels do not decode, or (`image_too_large`) when decoding
    would take more than `max_bytes` bytes (`decode_cost`; None: no bound). The decoded
    full-size pixels are released as soon as the smaller result exists.
    """
    check_decode_cost(img, max_bytes)
    stored_size = img.size
    icc_profile = img.info.get("icc_profile") or None

    target: tuple[int, int] | None = None
    box: tuple[float, float, float, float] | None = None
    drafted = False
    if max_side is not None and normalized_format(img) == "JPEG":
        target = fit_within(stored_size, max_side)
        if target is not None:
            wanted = (
                max(1, math.ceil(target[0] * reducing_gap)),
                max(1, math.ceil(target[1] * reducing_gap)),
            )
            draft = img.draft(None, wanted)
            if draft is not None:
                box, drafted = draft[1], True

    load_pixels(img)
    # Read after loading: Pillow's TIFF plugin reports the upright size from the start and
    # applies the orientation itself while loading, dropping the tag.
    orientation = exif_orientation(img)
    full_size = stored_size if drafted else img.size
    if max_side is not None and not drafted:
        target = fit_within(full_size, max_side)

    fmt = normalized_format(img)
    out = to_resizable(img)
    if out is not img:
        img.close()  # frees the decoded pixels; only the converted copy is needed now
    if target is not None:
        try:
            resized = resize_lanczos(out, target, box=box, reducing_gap=reducing_gap)
        except (OSError, ValueError, MemoryError) as exc:
            raise corrupt(fmt, exc) from exc
        out.close()
        out = resized
    out = to_rgb(out, icc_profile)
    out = apply_orientation(out, orientation)
    return out, oriented_size(full_size, orientation), target is not None
