"""The export ZIP is streamed: objects are read one at a time as the archive reaches them, and
memory stays flat however many photos it holds."""

from __future__ import annotations

import io
import json
import tracemalloc
import uuid
import zipfile
from pathlib import Path

from rekindle.albums.export import _Entry, stream_zip
from rekindle.storage.local import LocalStore


class CountingStore(LocalStore):
    """The real local store, counting reads (instrumentation, not a stand-in)."""

    reads = 0

    def get(self, key: str) -> bytes:
        self.reads += 1
        return super().get(key)


def test_zip_reads_lazily_and_memory_stays_flat(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "objects", b"k" * 32, 60)
    size, count = 2 * 1024 * 1024, 24
    entries = []
    for index in range(count):
        key = f"users/u/restored/{uuid.uuid4()}/{uuid.uuid4()}.jpg"
        store.put(key, bytes([index]) * size, "image/jpeg")
        entries.append(_Entry(f"photo-{index}-restored.jpg", key, uuid.uuid4(), "restored"))
    records = [{"photo_id": str(entry.photo_id), "files": []} for entry in entries]
    stream = stream_zip(store, entries, records)
    assert store.reads == 0  # nothing is read before the client asks
    tracemalloc.start()
    written = 0
    for chunk in stream:  # the client reads and drops each chunk
        written += len(chunk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert store.reads == count
    assert written > count * size
    assert peak < 4 * size, f"peak {peak / 1e6:.1f} MB for a {written / 1e6:.0f} MB archive"
    archive = zipfile.ZipFile(_rebuild(store, entries, records))
    manifest = json.loads(archive.read("manifest.json"))
    assert len(manifest["photos"]) == count and manifest["missing"] == []


def _rebuild(store: LocalStore, entries: list[_Entry], records: list[dict]) -> io.BytesIO:
    return io.BytesIO(b"".join(stream_zip(store, entries, records)))
