"""Upload validation: `inspect_image` accepts the five formats and refuses everything else."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFile, features

from rekindle.errors import InvalidImage, UnsupportedMediaType
from rekindle.imaging import ACCEPTED_FORMATS, ImageInfo, inspect_image

LIMIT = 60_000_000


@pytest.mark.parametrize(
    ("fmt", "mode", "params", "mime", "ext"),
    [
        ("JPEG", "RGB", {"quality": 90}, "image/jpeg", "jpg"),
        ("JPEG", "L", {}, "image/jpeg", "jpg"),
        ("PNG", "RGB", {}, "image/png", "png"),
        ("PNG", "RGBA", {}, "image/png", "png"),
        ("HEIF", "RGB", {"quality": 80}, "image/heic", "heic"),
        ("WEBP", "RGB", {"quality": 80}, "image/webp", "webp"),
        ("TIFF", "RGB", {}, "image/tiff", "tiff"),
        ("TIFF", "RGB", {"compression": "tiff_lzw"}, "image/tiff", "tiff"),
    ],
)
def test_accepts_each_format(images, write_file, fmt, mode, params, mime, ext):
    img = images.photo_like(96, 64).convert(mode)
    # The name says nothing: detection is from the bytes.
    path = write_file("upload.bin", images.encode(img, fmt, **params))
    info = inspect_image(path, max_pixels=LIMIT)
    assert info == ImageInfo(format=fmt, mime_type=mime, extension=ext, width=96, height=64)
    assert ACCEPTED_FORMATS[info.format] == (mime, ext)


def test_format_comes_from_bytes_not_the_name(images, write_file):
    path = write_file("holiday.jpg", images.encode(images.photo_like(40, 30), "PNG"))
    assert inspect_image(path, max_pixels=LIMIT).format == "PNG"


def test_multi_picture_jpeg_counts_as_jpeg(images, write_file):
    first, second = images.photo_like(80, 60), images.photo_like(40, 30, seed=1)
    data = images.encode(first, "MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    info = inspect_image(write_file("phone.jpg", data), max_pixels=LIMIT)
    assert (info.format, info.mime_type, info.extension) == ("JPEG", "image/jpeg", "jpg")
    assert (info.width, info.height) == (80, 60)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_dimensions_are_as_stored_before_exif_orientation(images, write_file, fmt):
    stored = images.with_marker((90, 40))
    if fmt == "TIFF":
        data = images.encode(stored, fmt, tiffinfo={274: 6})
    else:
        data = images.encode(stored, fmt, exif=images.exif_with_orientation(6))
    info = inspect_image(write_file("rotated", data), max_pixels=LIMIT)
    assert (info.width, info.height) == (90, 40)


# --- 415: not an image, or not an accepted format -------------------------------------------------


def test_rejects_text_renamed_jpg(write_file):
    path = write_file("photo.jpg", b"Dear grandma, here are the photos from the summer.\n" * 20)
    with pytest.raises(UnsupportedMediaType) as caught:
        inspect_image(path, max_pixels=LIMIT)
    assert caught.value.status == 415
    assert caught.value.code == "unsupported_media_type"
    assert "JPEG, PNG, HEIC/HEIF, WebP or TIFF" in caught.value.message


def test_rejects_zero_bytes(write_file):
    with pytest.raises(UnsupportedMediaType) as caught:
        inspect_image(write_file("empty.jpg", b""), max_pixels=LIMIT)
    assert "empty" in caught.value.message


@pytest.mark.parametrize(("fmt", "name"), [("GIF", "GIF"), ("BMP", "BMP"), ("PDF", "PDF")])
def test_rejects_other_image_formats_by_name(images, write_file, fmt, name):
    data = images.encode(images.photo_like(32, 32), fmt)
    with pytest.raises(UnsupportedMediaType) as caught:
        inspect_image(write_file("image.png", data), max_pixels=LIMIT)
    assert caught.value.message.startswith(f"{name} files are not accepted")


@pytest.mark.skipif(not features.check("avif"), reason="this Pillow cannot write AVIF")
def test_rejects_avif(images, write_file):
    data = images.encode(images.photo_like(32, 32), "AVIF")
    with pytest.raises(UnsupportedMediaType) as caught:
        inspect_image(write_file("image.heic", data), max_pixels=LIMIT)
    assert "AVIF" in caught.value.message


# --- 422: too many pixels ---------------------------------------------------------------------------


def test_rejects_decompression_bomb_beyond_pillows_own_guard(images, write_file):
    data = images.png_declaring(20_000, 20_000)  # 400 MP in a few hundred bytes
    assert len(data) < 2_000
    with pytest.raises(InvalidImage) as caught:
        inspect_image(write_file("bomb.png", data), max_pixels=LIMIT)
    assert caught.value.status == 422
    assert caught.value.code == "image_too_large"
    assert "60 megapixels" in caught.value.message


def test_pixel_limit_is_checked_before_decoding(images, write_file):
    # 72 MP: above our limit but below Pillow's own guard. The file holds one row of pixel data,
    # so had it been decoded the answer would be corrupt_image, not image_too_large.
    data = images.png_declaring(9_000, 8_000)
    with pytest.raises(InvalidImage) as caught:
        inspect_image(write_file("big.png", data), max_pixels=LIMIT)
    assert caught.value.code == "image_too_large"
    assert "9000×8000" in caught.value.message
    assert "72.0 megapixels" in caught.value.message


def test_pixel_limit_is_width_times_height(images, write_file):
    path = write_file("img.jpg", images.encode(images.photo_like(100, 50), "JPEG"))
    assert inspect_image(path, max_pixels=5_000).width == 100  # exactly at the limit
    with pytest.raises(InvalidImage) as caught:
        inspect_image(path, max_pixels=4_999)
    assert caught.value.code == "image_too_large"


# --- 422: truncated or corrupt ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "HEIF"])
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_rejects_truncated_files(images, write_file, fmt, keep):
    data = images.encode(images.photo_like(256, 192), fmt)
    truncated = data[: int(len(data) * keep)]
    with pytest.raises(InvalidImage) as caught:
        inspect_image(write_file("cut.bin", truncated), max_pixels=LIMIT)
    assert caught.value.code == "corrupt_image"
    assert caught.value.status == 422


def test_rejects_large_jpeg_missing_only_its_last_scans(images, write_file):
    # The fast path decodes JPEGs at 1/8 scale: it must still notice missing entropy data.
    data = images.encode(images.photo_like(1600, 1200), "JPEG", quality=90)
    with pytest.raises(InvalidImage) as caught:
        inspect_image(write_file("cut.jpg", data[:-2_000]), max_pixels=LIMIT)
    assert caught.value.code == "corrupt_image"
    assert "JPEG" in caught.value.message


def test_rejects_png_with_corrupt_pixel_data(images, write_file):
    data = bytearray(images.encode(images.photo_like(64, 64), "PNG"))
    start = data.index(b"IDAT") + 40
    data[start : start + 200] = bytes(200)
    with pytest.raises(InvalidImage) as caught:
        inspect_image(write_file("bad.png", bytes(data)), max_pixels=LIMIT)
    assert caught.value.code == "corrupt_image"


def test_truncated_images_stay_refused():
    # Validation relies on Pillow raising on truncated files; nothing may switch that off.
    import rekindle.imaging  # noqa: F401

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
