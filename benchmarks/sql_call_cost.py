"""The cost of a worker transaction's client side (issue 16): the claim's shape (a `SELECT ... FOR
UPDATE` of one row, a conditional `UPDATE ... RETURNING`, an `UPDATE` of a counter row) run
through an ORM `Session` (`db.session_scope`, as the worker does) with the statements built on
each call (the worker until the tenth pass) or built once with bound parameters (the worker
since), a SQLAlchemy `Connection` (`engine.begin()`, statements built on each call) and psycopg
directly (the same SQL as text), on one PostgreSQL connection of the project's pool
(`db.make_engine`).

The figure is this process's CPU ms per transaction (user + sys; PostgreSQL's own work is not
counted), in alternating rounds: the share of an attempt's CPU that is the database client's
Python, and what a leaner path could save.

    uv run python -m benchmarks.sql_call_cost [--transactions 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    bindparam,
    select,
    update,
)

from rekindle.db import make_engine, make_sessionmaker, session_scope
from tests.support.services import postgres_database

METADATA = MetaData()
ROWS = Table(
    "rows",
    METADATA,
    Column("id", Uuid, primary_key=True),
    Column("count", Integer, nullable=False),
    Column("status", String(16), nullable=False),
)


def _statements(run: Any, row: uuid.UUID, counter: uuid.UUID) -> None:
    """The claim's three statements, through a Session or a Connection."""
    c = ROWS.c
    run.execute(select(c.count, c.status).where(c.id == row).with_for_update()).one()
    run.execute(
        update(ROWS)
        .where(c.id == row, c.status == "pending")
        .values(count=c.count + 1)
        .returning(c.count)
    ).one()
    run.execute(update(ROWS).where(c.id == counter).values(count=c.count + 1))


_C = ROWS.c
_PREBUILT = (
    select(_C.count, _C.status).where(_C.id == bindparam("key")).with_for_update(),
    update(ROWS)
    .where(_C.id == bindparam("key"), _C.status == "pending")
    .values(count=_C.count + 1)
    .returning(_C.count),
    update(ROWS).where(_C.id == bindparam("key")).values(count=_C.count + 1),
)
"""The same three statements built once, with a bound parameter for the row."""


def _variants(engine: Engine, row: uuid.UUID, counter: uuid.UUID) -> dict[str, Callable[[], None]]:
    sessions = make_sessionmaker(engine)

    def orm_session() -> None:
        with session_scope(sessions) as session:
            _statements(session, row, counter)

    def orm_session_prebuilt() -> None:
        read, mark, count = _PREBUILT
        with session_scope(sessions) as session:
            session.execute(read, {"key": row}).one()
            session.execute(mark, {"key": row}).one()
            session.execute(count, {"key": counter})

    def core_connection() -> None:
        with engine.begin() as connection:
            _statements(connection, row, counter)

    def psycopg_text() -> None:
        dbapi = engine.raw_connection()
        try:
            cursor = dbapi.cursor()
            cursor.execute("SELECT count, status FROM rows WHERE id = %s FOR UPDATE", (row,))
            cursor.fetchone()
            cursor.execute(
                "UPDATE rows SET count = count + 1 WHERE id = %s AND status = 'pending'"
                " RETURNING count",
                (row,),
            )
            cursor.fetchone()
            cursor.execute("UPDATE rows SET count = count + 1 WHERE id = %s", (counter,))
            dbapi.commit()
        finally:
            dbapi.close()

    return {
        "ORM Session, statements built per call": orm_session,
        "ORM Session, statements built once": orm_session_prebuilt,
        "Core Connection": core_connection,
        "psycopg, SQL text": psycopg_text,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with postgres_database() as url:
        engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=2)
        try:
            METADATA.create_all(engine)
            row, counter = uuid.uuid4(), uuid.uuid4()
            with engine.begin() as connection:
                connection.execute(
                    ROWS.insert(),
                    [{"id": i, "count": 0, "status": "pending"} for i in (row, counter)],
                )
            variants = _variants(engine, row, counter)
            for run in variants.values():  # warm: statement caches, prepared statements
                for _ in range(50):
                    run()
            spent: dict[str, list[float]] = {name: [] for name in variants}
            for round_number in range(args.rounds):
                order = list(variants.items())
                for name, run in order if round_number % 2 == 0 else reversed(order):
                    started = time.process_time()
                    for _ in range(args.transactions):
                        run()
                    spent[name].append(1000 * (time.process_time() - started) / args.transactions)
        finally:
            engine.dispose()
    print("| client | CPU ms per transaction (rounds) | median |")
    print("| --- | --- | --- |")
    for name, values in spent.items():
        rounds = ", ".join(f"{value:.3f}" for value in values)
        print(f"| {name} | {rounds} | {statistics.median(values):.3f} |")


if __name__ == "__main__":
    main()
