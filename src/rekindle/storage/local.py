"""A local-folder object store whose files the API serves through expiring HMAC-signed URLs."""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, urlencode

from rekindle.storage.base import ObjectNotFound, StorageError

FILES_ROUTE = "/api/v1/files/"


class LocalStore:
    """Objects as files under `root`; keys map to relative paths.

    Download URLs look like `{base}/api/v1/files/{key}?expires={unix seconds}&sig={hex}` where
    `sig = HMAC-SHA256(secret, f"{key}\\n{expires}\\n{filename}")`. The API serves them after
    `verify_signature`; the signature is the credential, as with S3 presigned URLs.
    """

    reachable_by_providers = False

    def __init__(self, root: Path, secret: bytes, ttl_seconds: int):
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._secret = secret
        self._ttl = ttl_seconds

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise StorageError(f"key escapes the store: {key!r}")
        return path

    def _write(self, key: str, write: object) -> None:
        """Raises StorageError when the file system refuses (disk full, a file in the way)."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write to a temporary file and rename: a reader never sees half an object.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        except OSError as exc:
            raise StorageError(f"local put {key}: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)  # type: ignore[operator]
            os.replace(tmp, path)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise StorageError(f"local put {key}: {exc}") from exc
            raise

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._write(key, lambda out: out.write(data))

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        with path.open("rb") as source:
            self._write(key, lambda out: shutil.copyfileobj(source, out, 1 << 20))

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    def path_of(self, key: str) -> Path:
        """The file holding `key` (for the API's file route). Raises ObjectNotFound."""
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        return path

    def delete_many(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def list_keys(self, prefix: str) -> list[str]:
        folder = self._path(prefix.rsplit("/", 1)[0]) if "/" in prefix else self.root
        if not folder.is_dir():
            return []
        found = (
            str(path.relative_to(self.root))
            for path in folder.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        )
        return sorted(key for key in found if key.startswith(prefix))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def sign(self, key: str, expires: int, filename: str = "") -> str:
        message = f"{key}\n{expires}\n{filename}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def verify_signature(self, key: str, expires: int, sig: str, filename: str = "") -> bool:
        """True when `sig` is ours for these values and `expires` (unix seconds) is in the future."""
        if expires < time.time():
            return False
        # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a "no").
        return hmac.compare_digest(self.sign(key, expires, filename).encode(), sig.encode())

    def download_url(self, key: str, *, base_url: str, filename: str | None = None) -> str:
        expires = int(time.time()) + self._ttl
        query = {"expires": expires, "sig": self.sign(key, expires, filename or "")}
        if filename:
            query["filename"] = filename
        return f"{base_url.rstrip('/')}{FILES_ROUTE}{quote(key)}?{urlencode(query)}"

    def provider_url(self, key: str) -> str | None:
        return None

    def check(self) -> None:
        probe = self.root / ".readyz"
        try:
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise StorageError(f"storage folder not writable: {exc}") from exc
