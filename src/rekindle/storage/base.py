"""The object store interface shared by the S3 and local-folder stores."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol


class StorageError(Exception):
    """The store could not be reached or refused an operation."""


class ObjectNotFound(StorageError):
    """No object under that key."""


class ObjectStore(Protocol):
    """Bytes under string keys (`users/{owner}/...`, see `storage.keys`)."""

    reachable_by_providers: bool
    """Whether `provider_url` gives URLs a remote provider on the internet can fetch."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing any object there. Raises StorageError."""
        ...

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store the file at `path` under `key`, streaming it. Raises StorageError."""
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes. Raises ObjectNotFound or StorageError."""
        ...

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete objects in batches; missing keys are not an error. Raises StorageError."""
        ...

    def list_keys(self, prefix: str) -> list[str]:
        """Every key that starts with `prefix`. Raises StorageError."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        ...

    def download_url(self, key: str, *, base_url: str, filename: str | None = None) -> str:
        """A URL a browser can GET the object from, valid for the configured TTL (seconds).

        `base_url` is this API's public origin (used by the local store, whose files the API serves).
        `filename`, when given, makes the response an attachment with that name.
        """
        ...

    def provider_url(self, key: str) -> str | None:
        """A URL a remote provider on the internet can fetch, or None when the store is local."""
        ...

    def check(self) -> None:
        """Raise StorageError unless the store is reachable and writable (readiness probe)."""
        ...


def discard(store: ObjectStore, keys: list[str]) -> list[str]:
    """Best-effort removal of objects written for an operation that did not complete.

    Returns the keys that could not be removed (the store is down); the error is logged, never
    raised, so a cleanup cannot hide the failure that made it necessary. Callers use
    `storage.orphans.discard_or_remember`, which records those keys for the sweep."""
    if not keys:
        return []
    try:
        store.delete_many(keys)
    except StorageError:
        logging.getLogger(__name__).exception("could not remove objects %s", keys)
        return list(keys)
    return []
