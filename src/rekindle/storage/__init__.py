"""Object storage: S3 (or any S3-compatible store) and a local folder, behind one interface."""

from rekindle.storage.base import ObjectStore, StorageError, discard
from rekindle.storage.factory import make_store

__all__ = ["ObjectStore", "StorageError", "discard", "make_store"]
