"""The long-lived parts one process needs (database, store, queue, token verifier), built once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from celery import Celery
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from rekindle.auth.tokens import TokenVerifier
from rekindle.config import Settings
from rekindle.db import make_engine, make_sessionmaker
from rekindle.queue import create_celery
from rekindle.storage import ObjectStore, make_store

if TYPE_CHECKING:
    from rekindle.api.ratelimit import Limiter
    from rekindle.engines.budget import Budgets


@dataclass
class Runtime:
    """Lazily built process-wide resources for one `Settings`."""

    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.sqlalchemy_url, pool_size=self.settings.database_pool_size)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)

    @cached_property
    def store(self) -> ObjectStore:
        return make_store(self.settings)

    @cached_property
    def celery(self) -> Celery:
        return create_celery(self.settings)

    @cached_property
    def verifier(self) -> TokenVerifier:
        return TokenVerifier(self.settings)

    @cached_property
    def limiter(self) -> Limiter:
        """Request rate limits (Redis when configured, else this process's memory)."""
        from rekindle.api.ratelimit import make_limiter

        return make_limiter(self.settings)

    @cached_property
    def budgets(self) -> Budgets:
        """Provider budgets per engine (Redis when configured, else this process's memory)."""
        from rekindle.engines.budget import make_budgets

        return make_budgets(self.settings)

    def close(self) -> None:
        """Release what was built: Redis clients, the broker pool, the database pool. Parts never
        built are left alone; calling it twice is harmless."""
        built = self.__dict__
        if "limiter" in built:
            self.limiter.close()
        if "budgets" in built:
            self.budgets.close()
        if "celery" in built:
            self.celery.close()
        if "engine" in built:
            self.engine.dispose()
