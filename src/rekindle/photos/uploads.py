"""Receive an uploaded file: stream it to a temporary file, hash it, bound its size."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rekindle.errors import BadRequest, PayloadTooLarge

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ReceivedFile:
    """An upload on local disk: its `path`, `size_bytes`, hex `sha256` and client `filename`."""

    path: Path
    size_bytes: int
    sha256: str
    filename: str | None


@contextmanager
def receive_upload(
    source: BinaryIO, filename: str | None, max_bytes: int
) -> Iterator[ReceivedFile]:
    """Copy `source` to a temporary file (deleted on exit), hashing as it goes.

    Raises PayloadTooLarge past `max_bytes` bytes and BadRequest (code `empty_file`) for no bytes.
    """
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(prefix="rekindle-upload-") as tmp:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                megabytes = max_bytes // (1024 * 1024)
                raise PayloadTooLarge(f"The file is larger than the {megabytes} MB upload limit.")
            digest.update(chunk)
            tmp.write(chunk)
        tmp.flush()
        if size == 0:
            raise BadRequest("The uploaded file is empty.", code="empty_file")
        safe_name = Path(filename).name[:255] if filename else None
        yield ReceivedFile(Path(tmp.name), size, digest.hexdigest(), safe_name)
