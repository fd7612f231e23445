"""Every bad upload gets a 4xx with a stable code and leaves no row and no object behind."""

from __future__ import annotations

import io
import os
import struct
import zlib

import httpx
import pytest
from PIL import Image

from tests.support.stack import Stack


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width × height pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    rows = zlib.compress(b"\x00" * (width + 1) * 4, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def _jpeg(size: tuple[int, int] = (640, 480)) -> bytes:
    rng = __import__("numpy").random.default_rng(1)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype="uint8")
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A valid 880×438 JPEG whose frame header claims `width` × `height` (its data ends early)."""
    data = bytearray(_jpeg((880, 438)))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (32, 32)).save(out, "GIF")
    return out.getvalue()


CASES = {
    "decompression bomb": ("bomb.png", _png_declaring(20000, 20000), 422, "image_too_large"),
    "truncated jpeg": ("cut.jpg", _jpeg()[: len(_jpeg()) // 2], 422, "corrupt_image"),
    "jpeg header lies": ("lie.jpg", _jpeg_declaring(7000, 8500), 422, "corrupt_image"),
    "renamed text file": (
        "notes.jpg",
        b"just some text, not a photo\n" * 40,
        415,
        "unsupported_media_type",
    ),
    "gif": ("anim.gif", _gif(), 415, "unsupported_media_type"),
    "empty file": ("empty.jpg", b"", 400, "empty_file"),
}


def _nothing_left(stack: Stack, user: str) -> None:
    listing = stack.client.get("/api/v1/photos", headers=stack.auth(user)).json()
    assert listing["items"] == []
    assert not [key for key in stack.object_keys() if key.startswith(f"users/{user}/")]


@pytest.mark.parametrize("case", list(CASES))
def test_rejected_upload_leaves_nothing(stack: Stack, case: str) -> None:
    filename, data, status, code = CASES[case]
    user = f"rejects-{case.replace(' ', '-')}"
    response = stack.client.post(
        "/api/v1/photos", headers=stack.auth(user), files={"file": (filename, data, "image/jpeg")}
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert len(error["message"]) > 10
    _nothing_left(stack, user)


def test_51_mb_upload_is_refused(stack: Stack) -> None:
    user = "rejects-huge"
    big = os.urandom(51 * 1024 * 1024)
    response = stack.client.post(
        "/api/v1/photos", headers=stack.auth(user), files={"file": ("huge.jpg", big, "image/jpeg")}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert "50 MB" in response.json()["error"]["message"]
    _nothing_left(stack, user)


def test_streamed_upload_without_length_is_cut_off(stack: Stack) -> None:
    """A chunked body (no Content-Length) is counted as it arrives and refused at the limit."""
    user = "rejects-stream"
    boundary = "rekindleboundary"
    sent = 0

    def body():  # type: ignore[no-untyped-def]
        nonlocal sent
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        chunk = b"\xff" * (1024 * 1024)
        for _ in range(80):
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    try:
        response = stack.client.post(
            "/api/v1/photos",
            headers={
                **stack.auth(user),
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
            content=body(),
        )
        assert response.status_code == 413
    except httpx.HTTPError:
        pass  # the server may close the connection while we are still sending; also a refusal
    assert sent < 80 * 1024 * 1024  # the server stopped reading before the whole body arrived
    _nothing_left(stack, user)
