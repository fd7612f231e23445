"""Secrets the embedded mode keeps in its data folder (the local token issuer, URL signing)."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path


def local_secret(data_dir: Path, name: str) -> bytes:
    """The secret `name` (64 hex characters) under `data_dir/secrets/`, created on first use.

    Created mode 0600 in a temporary file and hard-linked into place, so that two processes starting
    at once agree on one secret and never read a half-written one.
    """
    path = data_dir / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent)
        try:
            os.write(fd, secrets.token_hex(32).encode())
            os.close(fd)
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race; use its secret
        finally:
            os.unlink(tmp)
    return path.read_bytes().strip()
