"""One engine per process, one session per unit of work, and schema upgrades via alembic.

`session_scope` is the CLI's unit of work (and a task's): it commits once, at the end.
The web app's is a request dependency (newsletter/web/app.py); a batch's is the campaign's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import lru_cache

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, create_engine

from newsletter.settings import get_settings
from newsletter.shipped import migrations_dir


def get_engine(url: str | None = None, *, batch: bool = False) -> Engine:
    """The process's engine for `url` (default: the configured database). `batch=True`: the
    engine of delivery batches, whose PostgreSQL connections commit asynchronously."""
    return _engine(url or get_settings().database_url, batch)


# A batch writes each outcome as its message goes out, so on PostgreSQL each of its
# statements (a claim, an outcome) commits on its own: one round trip, where a transaction
# costs three (BEGIN, the statement, COMMIT). And a commit does not wait for the WAL flush:
# that loses nothing when a worker is killed (the statement has returned); a PostgreSQL crash
# may lose the last ~0.6 s of commits (3 x wal_writer_delay), whose deliveries are claimable
# again after their lease and sent again, with the same Message-ID.
_BATCH: dict[str, object] = {
    "isolation_level": "AUTOCOMMIT",
    "connect_args": {"options": "-c synchronous_commit=off"},
}


# Set in a session's `info` when each of its statements commits as it runs (see _BATCH): a
# commit of the session then has nothing to make durable.
AUTOCOMMIT = "autocommit"


def json_text(value: object) -> str:
    # Each sent digest writes its picks as JSON, and each batch reads its readers' topics:
    # orjson does both ~10x faster than json.
    return orjson.dumps(value).decode()


def json_value(text: str | bytes) -> object:
    # json reads what orjson refuses and an older release may have stored (NaN, a lone
    # surrogate's escape).
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


@lru_cache(maxsize=8)
def _engine(url: str, batch: bool) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, json_serializer=json_text, json_deserializer=json_value,
                               connect_args={"timeout": 30})  # fmt: skip
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, json_serializer=json_text, json_deserializer=json_value,
                               pool_pre_ping=True,
                               **(_BATCH if batch else {}))  # fmt: skip
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # Foreign keys are off by default in SQLite; we want the same integrity as PostgreSQL.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@contextmanager
def session_scope(url: str | None = None, *, batch: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error.

    `batch=True` is for a delivery batch, which commits once per message: the session holds
    one connection of the batch engine throughout, so a commit costs no pool checkout (and
    no liveness ping) and does not wait for the disk."""
    with ExitStack() as stack:
        engine = get_engine(url, batch=batch)
        bind: Engine | Connection = stack.enter_context(engine.connect()) if batch else engine
        session = stack.enter_context(Session(bind, expire_on_commit=False))
        session.info[AUTOCOMMIT] = batch and engine.dialect.name != "sqlite"
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
