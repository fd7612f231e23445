"""Seed 001 preprocessing: every accepted input becomes an upright sRGB RGB JPEG within the bound."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps
from PIL.JpegImagePlugin import JpegImageFile

from rekindle.errors import InvalidImage, UnsupportedMediaType
from rekindle.imaging import PreprocessResult, preprocess
from rekindle.imaging.decode import fit_within

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def output_of(images, result: PreprocessResult) -> Image.Image:
    img = images.decode(result.image_bytes)
    assert img.format == "JPEG"
    assert img.mode == "RGB"
    assert img.size == result.submitted_dimensions
    return img


def assert_gray(img: Image.Image) -> None:
    arr = np.asarray(img.convert("RGB")).astype(int)
    assert np.array_equal(arr[..., 0], arr[..., 1])
    assert np.array_equal(arr[..., 1], arr[..., 2])


def marker_centre(img: Image.Image) -> tuple[float, float]:
    """Centre (x, y) of the red pixels of an image."""
    arr = np.asarray(img.convert("RGB")).astype(int)
    ys, xs = np.nonzero((arr[..., 0] > 128) & (arr[..., 2] < 128))
    assert xs.size > 0
    return float(xs.mean()), float(ys.mean())


# --- formats ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "params"),
    [
        ("HEIF", {"quality": 90}),
        ("WEBP", {"quality": 90}),
        ("TIFF", {}),
        ("PNG", {}),
    ],
)
def test_converts_other_formats_to_jpeg_keeping_colours(images, fmt, params):
    source = images.with_marker((120, 80), marker=RED, marker_size=40)
    result = preprocess(images.encode(source, fmt, **params))
    out = output_of(images, result)
    assert result.record() == {
        "resized": False,
        "original_dimensions": [120, 80],
        "submitted_dimensions": [120, 80],
        "format_converted": True,
        "original_format": fmt,
    }
    assert images.close_to(images.channels(out, (10, 10)), RED, 12)
    assert images.close_to(images.channels(out, (100, 60)), BLUE, 12)


def test_baseline_rgb_jpeg_is_not_format_converted(images):
    result = preprocess(images.encode(images.photo_like(64, 48), "JPEG", quality=90))
    assert result.format_converted is False
    assert result.original_format == "JPEG"
    assert result.resized is False


def test_plain_baseline_jpeg_within_the_bound_is_sent_unchanged(images):
    """Re-encoding it would only add a generation of JPEG loss (and was the worker's costliest
    step of a remote restoration)."""
    data = images.encode(images.photo_like(64, 48), "JPEG", quality=90)
    result = preprocess(data)
    assert result.image_bytes == data
    assert result.record()["submitted_dimensions"] == [64, 48]


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[271], exif[305] = "Camera maker", "Editor"  # Make, Software
    return exif


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("exif", {"exif": _exif()}),
        (
            "icc_profile",
            {"icc_profile": ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()},
        ),
        ("comment", {"comment": b"scanned by a scanner"}),
    ],
)
def test_a_jpeg_with_metadata_is_reencoded_without_it(images, name, extra):
    """EXIF (camera, GPS: never sent on to a provider), an ICC profile or a comment: the JPEG is
    decoded and encoded again, and the output carries none of them."""
    data = images.encode(images.photo_like(64, 48), "JPEG", quality=90, **extra)
    assert images.decode(data).info.get(name)
    result = preprocess(data)
    assert result.image_bytes != data
    out = output_of(images, result)
    assert not out.info.get("exif") and not out.info.get("comment")
    assert [marker for marker, _ in out.applist] == ["APP0"]


def test_a_plain_jpeg_over_the_bound_is_resized(images):
    data = images.encode(images.photo_like(64, 48), "JPEG", quality=90)
    result = preprocess(data, max_side=32)
    assert result.image_bytes != data
    assert output_of(images, result).size == (32, 24)


def test_gray_jpeg_is_not_format_converted_but_comes_out_rgb(images):
    result = preprocess(images.encode(images.photo_like(64, 48).convert("L"), "JPEG"))
    assert result.format_converted is False
    assert_gray(output_of(images, result))


def test_progressive_jpeg_is_format_converted(images):
    data = images.encode(images.photo_like(64, 48), "JPEG", progressive=True)
    assert preprocess(data).format_converted is True


def test_sixteen_bit_png_is_scaled_not_clipped(images):
    arr = np.zeros((40, 80), dtype=np.uint16)
    arr[:, :40] = 257 * 60  # 60/255 of full scale
    arr[:, 40:] = 65535
    source = Image.fromarray(arr)
    assert source.mode == "I;16"
    data = images.encode(source, "PNG")
    assert images.decode(data).mode.startswith("I")
    out = output_of(images, preprocess(data))
    assert images.close_to(images.channels(out, (20, 20)), (60, 60, 60), 2)
    assert images.close_to(images.channels(out, (60, 20)), (255, 255, 255), 2)
    assert_gray(out)


def test_cmyk_jpeg_colours(images):
    # Pillow writes (and reads back) Adobe-style inverted CMYK: a reader that forgets the
    # inversion turns red into cyan and white into black.
    quadrants = {
        (0, 0): ((0, 255, 255, 0), RED),
        (1, 0): ((255, 255, 0, 0), BLUE),
        (0, 1): ((0, 0, 0, 0), WHITE),
        (1, 1): ((0, 0, 0, 255), (0, 0, 0)),
    }
    source = Image.new("CMYK", (128, 128))
    for (qx, qy), (cmyk, _) in quadrants.items():
        source.paste(cmyk, (qx * 64, qy * 64, qx * 64 + 64, qy * 64 + 64))
    data = images.encode(source, "JPEG", quality=95)
    assert images.decode(data).info.get("adobe") is not None
    result = preprocess(data)
    out = output_of(images, result)
    assert result.format_converted is True
    for (qx, qy), (_, rgb) in quadrants.items():
        assert images.close_to(images.channels(out, (qx * 64 + 32, qy * 64 + 32)), rgb, 16)


def test_rgba_png_alpha_is_flattened_on_white(images):
    source = Image.new("RGBA", (60, 20), (0, 0, 0, 0))  # transparent black
    source.paste((255, 0, 0, 255), (20, 0, 40, 20))  # opaque red
    source.paste((0, 0, 255, 128), (40, 0, 60, 20))  # half-transparent blue
    out = output_of(images, preprocess(images.encode(source, "PNG")))
    assert images.close_to(images.channels(out, (10, 10)), WHITE, 3)
    assert images.close_to(images.channels(out, (30, 10)), RED, 8)
    assert images.close_to(images.channels(out, (50, 10)), (127, 127, 255), 8)


def test_palette_png_with_transparency(images):
    source = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    source.paste((0, 0, 255, 255), (20, 0, 40, 20))
    palette = source.convert("P")
    palette.info["transparency"] = palette.getpixel((0, 0))
    data = images.encode(palette, "PNG", transparency=palette.getpixel((0, 0)))
    assert images.decode(data).mode == "P"
    out = output_of(images, preprocess(data))
    assert images.close_to(images.channels(out, (5, 10)), WHITE, 3)
    assert images.close_to(images.channels(out, (30, 10)), BLUE, 10)


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("L", "JPEG"), ("L", "PNG"), ("LA", "PNG"), ("1", "PNG"), ("L", "HEIF"), ("L", "WEBP")],
)
def test_gray_stays_gray(images, mode, fmt):
    source = images.photo_like(90, 60).convert(mode)
    assert_gray(output_of(images, preprocess(images.encode(source, fmt))))


def test_gray_palette_stays_gray(images):
    source = images.photo_like(90, 60).convert("L").convert("P")
    assert_gray(output_of(images, preprocess(images.encode(source, "PNG"))))


def test_embedded_icc_profile_is_converted_to_srgb(images):
    icc = images.swapped_primaries_icc()
    source = Image.new("RGB", (32, 32), RED)  # "red" in a profile whose red colorant is blue
    for fmt in ("PNG", "JPEG", "TIFF", "WEBP"):
        out = output_of(images, preprocess(images.encode(source, fmt, icc_profile=icc)))
        r, g, b = images.channels(out, (16, 16))
        assert b > 240 and r < 20 and g < 20, fmt


def test_unusable_icc_profile_is_ignored(images):
    source = Image.new("RGB", (32, 32), RED)
    out = output_of(
        images, preprocess(images.encode(source, "PNG", icc_profile=b"not a profile" * 20))
    )
    assert images.close_to(images.channels(out, (16, 16)), RED, 8)


# --- orientation ----------------------------------------------------------------------------------


def test_exif_orientation_6_rotates_and_swaps_dimensions(images):
    # Orientation 6: the stored picture must be turned 90° clockwise to be upright, so its
    # top-left corner ends up top-right.
    stored = images.with_marker((90, 40), marker=RED, marker_size=12)
    data = images.encode(stored, "JPEG", quality=95, exif=images.exif_with_orientation(6))
    result = preprocess(data)
    out = output_of(images, result)
    assert result.original_dimensions == (40, 90)
    assert result.submitted_dimensions == (40, 90)
    assert images.close_to(images.channels(out, (40 - 5, 5)), RED, 20)
    assert images.close_to(images.channels(out, (5, 5)), BLUE, 20)
    assert images.close_to(images.channels(out, (5, 90 - 5)), BLUE, 20)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(images, orientation):
    stored = images.with_marker((48, 30), marker=RED, marker_size=10)
    data = images.encode(stored, "PNG", exif=images.exif_with_orientation(orientation))
    expected = ImageOps.exif_transpose(images.decode(data))
    out = output_of(images, preprocess(data))
    assert out.size == expected.size
    assert marker_centre(out) == pytest.approx(marker_centre(expected), abs=1.0)


def test_tiff_orientation_tag_is_applied(images):
    stored = images.with_marker((90, 40), marker=RED, marker_size=12)
    result = preprocess(images.encode(stored, "TIFF", tiffinfo={274: 6}))
    out = output_of(images, result)
    assert result.original_dimensions == (40, 90)
    assert images.close_to(images.channels(out, (35, 5)), RED, 20)


def test_rotated_image_is_bounded_on_its_oriented_longest_side(images):
    stored = images.photo_like(1000, 400)
    data = images.encode(stored, "JPEG", exif=images.exif_with_orientation(8))
    result = preprocess(data, max_side=500)
    assert result.original_dimensions == (400, 1000)
    assert result.submitted_dimensions == (200, 500)
    assert result.resized is True


# --- the size bound --------------------------------------------------------------------------------


def test_large_image_is_bounded_to_max_side(images):
    source = images.photo_like(400, 300).resize((4000, 3000))
    data = images.encode(source, "JPEG", quality=85)
    result = preprocess(data)
    assert result.record() == {
        "resized": True,
        "original_dimensions": [4000, 3000],
        "submitted_dimensions": [3584, 2688],
        "format_converted": False,
        "original_format": "JPEG",
    }
    output_of(images, result)


@pytest.mark.parametrize(
    ("size", "fmt"),
    [((5000, 1200), "JPEG"), ((1200, 5000), "TIFF"), ((3585, 3585), "JPEG"), ((3700, 17), "PNG")],
)
def test_bound_keeps_aspect_ratio_and_matches_seed_dimensions(images, size, fmt):
    source = Image.new("RGB", size, (90, 120, 150))
    source.paste((200, 30, 30), (0, 0, size[0] // 2, size[1] // 2))
    result = preprocess(images.encode(source, fmt))
    seed = source.copy()
    seed.thumbnail((3584, 3584), Image.Resampling.LANCZOS)
    assert result.submitted_dimensions == seed.size
    assert max(result.submitted_dimensions) == 3584
    w, h = result.submitted_dimensions
    assert abs(w / h - size[0] / size[1]) <= max(1 / h, 1 / w) * size[0] / size[1]
    assert result.resized is True
    assert result.original_dimensions == size


@pytest.mark.parametrize("size", [(800, 600), (3584, 2000), (3584, 3584)])
def test_images_within_the_bound_keep_their_size(images, size):
    data = images.encode(Image.new("RGB", size, (90, 120, 150)), "JPEG", quality=85)
    result = preprocess(data)
    assert result.resized is False
    assert result.original_dimensions == result.submitted_dimensions == size


def test_fast_jpeg_path_matches_a_plain_lanczos_resample(images, monkeypatch):
    # 8× reduction: libjpeg decodes at 1/2 scale, then LANCZOS. It must look like a plain
    # full-resolution LANCZOS resample of the same file.
    scales = []
    original_draft = JpegImageFile.draft

    def recording_draft(self, mode, size):
        result = original_draft(self, mode, size)
        scales.append(self.decoderconfig[0] if result else 1)
        return result

    monkeypatch.setattr(JpegImageFile, "draft", recording_draft)
    data = images.encode(images.photo_like(2048, 1536, seed=3), "JPEG", quality=92)
    result = preprocess(data, max_side=256)
    assert scales == [2]
    assert result.submitted_dimensions == (256, 192)
    assert result.original_dimensions == (2048, 1536)
    reference = images.decode(data).resize((256, 192), Image.Resampling.LANCZOS)
    assert images.psnr(output_of(images, result), reference) > 36


def test_large_reduction_of_png_matches_a_plain_lanczos_resample(images):
    source = images.photo_like(1200, 800, seed=4)
    result = preprocess(images.encode(source, "PNG"), max_side=150)
    assert result.submitted_dimensions == (150, 100)
    reference = source.resize(result.submitted_dimensions, Image.Resampling.LANCZOS)
    assert images.psnr(output_of(images, result), reference) > 36


def test_output_is_quality_95_jpeg(images):
    source = images.photo_like(256, 256)
    result = preprocess(images.encode(source, "PNG"))
    reference = images.decode(images.encode(source, "JPEG", quality=95))
    assert output_of(images, result).quantization == reference.quantization


def test_fit_within_matches_pillow_thumbnail_rounding():
    rng = np.random.default_rng(7)
    for _ in range(300):
        size = (int(rng.integers(1, 2500)), int(rng.integers(1, 2500)))
        bound = int(rng.integers(1, 1200))
        img = Image.new("1", size)
        img.thumbnail((bound, bound))
        expected = None if img.size == size else img.size
        assert fit_within(size, bound) == expected, (size, bound)


# --- failures ----------------------------------------------------------------------------------------


def test_undecodable_input_raises_invalid_image(images):
    data = images.encode(images.photo_like(300, 200), "JPEG")
    with pytest.raises(InvalidImage) as caught:
        preprocess(data[: len(data) // 2])
    assert caught.value.code == "corrupt_image"


def test_non_image_raises_unsupported(images):
    with pytest.raises(UnsupportedMediaType):
        preprocess(b"just some text")
    with pytest.raises(UnsupportedMediaType):
        preprocess(images.encode(images.photo_like(16, 16), "GIF"))


def test_bomb_raises_invalid_image(images):
    with pytest.raises(InvalidImage) as caught:
        preprocess(images.png_declaring(20_000, 20_000))
    assert caught.value.code == "image_too_large"
