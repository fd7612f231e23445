"""Routes whose request transaction ends when the endpoint function returns.

FastAPI validates and serializes a sync endpoint's response on a thread of its pool *before* it
exits the endpoint's dependencies, so a transaction committed by the session dependency would stay
open across that hop. On SQLite (one writer at a time) that deadlocks under load: every pool thread
waits for the write lock while the request holding it waits for a thread. `TransactionalRoute`
commits the request's session in the endpoint's own thread, right after the endpoint returns; the
session dependency still owns the transaction (it rolls back on error and closes the session).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from sqlalchemy.orm import Session


def _commit_on_return(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        for value in kwargs.values():
            if isinstance(value, Session):
                value.commit()
        return result

    # FastAPI reads the signature of the wrapper; give it the endpoint's, annotations resolved in
    # the endpoint's module (they are strings under `from __future__ import annotations`).
    wrapper.__signature__ = inspect.signature(endpoint, eval_str=True)  # type: ignore[attr-defined]
    return wrapper


class TransactionalRoute(APIRoute):
    """An APIRoute whose sync endpoint commits its request session before returning."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _commit_on_return(endpoint)
        super().__init__(path, endpoint, **kwargs)
