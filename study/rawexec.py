"""The hot paths' Core statements run straight on the DB-API cursor.

SQLAlchemy's per-execution machinery (execution context, events, parameter and result setup)
cost about 0.3 ms of the 0.46 ms a click save took on SQLite, against 10-30 µs for each
statement in SQLite itself. For the few statements registered with `fast(...)` (the click
save, the play report, the media fetch, the trial state and the final save: `study.hotpath`,
`study.hotmedia`), `FastConnection` compiles each once per dialect with SQLAlchemy's own
compiler and runs it on the cursor of the *same* DB-API connection, inside the same
transaction. Parameters and results go through the column types' own processors for that
dialect (`TypeEngine.dialect_impl(...).bind_processor / result_processor`), so the rows stored
and read are those SQLAlchemy would store and read; tests/study/test_study_rawexec.py checks
that statement by statement on SQLite and PostgreSQL. Anything else (an unregistered statement,
one with Python-side defaults, RETURNING, expanding IN lists or columns taken from the
parameters, such as a bare `insert()`) goes to SQLAlchemy unchanged.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import weakref
from typing import Iterator

from sqlalchemy.engine import Connection, Engine

_FAST: dict = {}     # statement -> {dialect name: Prepared | None}; statements kept alive here


def fast(stmt):
    """Register a Core statement for the DB-API path; returns it (use at module level)."""
    _FAST.setdefault(stmt, {})
    return stmt


class Prepared:
    """One statement compiled for one dialect: its SQL, how to build its parameters from the
    caller's dict, and (for a SELECT) how to turn a DB-API row into a named row."""

    def __init__(self, stmt, dialect):
        c = stmt.compile(dialect=dialect)
        if c.insert_prefetch or c.update_prefetch or getattr(stmt, "_returning", None):
            raise ValueError("Python-side defaults or RETURNING: left to SQLAlchemy")
        if stmt.is_dml and stmt.compile(dialect=dialect, column_keys=[]).string != c.string:
            raise ValueError("columns taken from each call's parameters: left to SQLAlchemy")
        self.sql = c.string
        self.named = dialect.paramstyle in ("named", "pyformat")
        # one slot per parameter the driver takes, in its order: (key, fixed value, required);
        # as in SQLAlchemy, a caller's value wins, and a required one must be given
        self.names = list(dict.fromkeys(c.bind_names.values())) if self.named else list(c.positiontup or ())
        self.slots, self.procs = [], []       # procs: (slot, bind processor) where the type has one
        for i, name in enumerate(self.names):
            bp = c.binds[name]
            if bp.expanding:
                raise ValueError("expanding IN parameters: left to SQLAlchemy")
            self.slots.append((bp.key, bp.effective_value, bp.required))
            proc = bp.type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                self.procs.append((i, proc))
        self.row, self.results, self.dialect = None, None, dialect
        if stmt.is_select:
            self.columns = list(stmt.selected_columns)
            self.row = collections.namedtuple("Row", [col.name for col in self.columns], rename=True)

    def _result_processors(self, description) -> list:
        """(index, processor) of the columns whose values need one; built at the first execution,
        since some depend on the type the driver reports (PostgreSQL numerics)."""
        if len(description) != len(self.columns):
            raise RuntimeError(f"{self.sql!r}: {len(description)} result columns, expected {len(self.columns)}")
        d = self.dialect
        procs = (col.type.dialect_impl(d).result_processor(d, desc[1]) for col, desc in zip(self.columns, description))
        return [(i, p) for i, p in enumerate(procs) if p is not None]

    def bind(self, given: dict):
        out = [given[key] if required or key in given else fixed for key, fixed, required in self.slots]
        for i, proc in self.procs:
            out[i] = proc(out[i])
        return dict(zip(self.names, out)) if self.named else out

    def run(self, cursor, params) -> "Result":
        if isinstance(params, (list, tuple)):
            if len(params) == 1:
                cursor.execute(self.sql, self.bind(params[0]))
            else:
                cursor.executemany(self.sql, [self.bind(p) for p in params])
        else:
            cursor.execute(self.sql, self.bind(params or {}))
        if self.row is None:
            return Result([], cursor.rowcount)
        rows = cursor.fetchall()
        if self.results is None:
            self.results = self._result_processors(cursor.description)
        if self.results:
            rows = [list(r) for r in rows]
            for r in rows:
                for i, proc in self.results:
                    r[i] = proc(r[i])
        return Result([self.row(*r) for r in rows], len(rows))


class Result:
    """What the hot paths use of a CursorResult: first, scalar, all, iteration, scalars, rowcount."""

    __slots__ = ("rows", "rowcount")

    def __init__(self, rows: list, rowcount: int):
        self.rows, self.rowcount = rows, rowcount

    def first(self):
        return self.rows[0] if self.rows else None

    def scalar(self):
        return self.rows[0][0] if self.rows else None

    def all(self) -> list:
        return self.rows

    def __iter__(self):
        return iter(self.rows)

    def scalars(self) -> "Result":
        return Result([r[0] for r in self.rows], self.rowcount)


class FastConnection:
    """Registered statements run on a DB-API cursor: of a Core Connection in a transaction
    (`conn`; other statements go to it), or of a bare pooled DB-API connection (`transaction`;
    other statements are refused)."""

    def __init__(self, conn: Connection | None, engine: Engine | None = None, dbapi=None):
        self.conn = conn
        self.engine = conn.engine if conn is not None else engine
        self.dialect = self.engine.dialect
        self._dbapi = dbapi if conn is None else conn.connection.dbapi_connection
        self._cursor = None

    def execute(self, stmt, params=None):
        per = _FAST.get(stmt)
        name = self.dialect.name
        if per is not None and name not in per:
            try:
                per[name] = Prepared(stmt, self.dialect)
            except ValueError:
                per[name] = None
        prepared = None if per is None else per[name]
        if prepared is None:
            if self.conn is None:
                raise TypeError("this statement is not registered for the DB-API path (rawexec.fast)")
            return self.conn.execute(stmt, params)
        if self._cursor is None:
            self._cursor = self._dbapi.cursor()
        return prepared.run(self._cursor, params)


@contextlib.contextmanager
def transaction(engine: Engine) -> Iterator[FastConnection]:
    """A write transaction on a pooled DB-API connection, committed on exit (rolled back on an
    error), for hot paths whose statements are all registered: no Core Connection at all (its
    begin, commit and pool bookkeeping cost about 0.15 ms). On SQLite it begins with
    BEGIN IMMEDIATE (the write lock up front, as `db.write_connection`); PostgreSQL's driver
    begins the transaction at the first statement."""
    own = _thread_connection(engine)
    raw = None if own is not None else engine.raw_connection()
    try:
        dbapi = own if own is not None else raw.dbapi_connection
        if engine.dialect.name == "sqlite":
            dbapi.execute("BEGIN IMMEDIATE")
        try:
            yield FastConnection(None, engine, dbapi)
            dbapi.commit()
        except BaseException:
            dbapi.rollback()      # also after a failed commit: a thread's connection is reused
            raise
    finally:
        if raw is not None:
            raw.close()      # back to the pool


_LOCAL = threading.local()


def _thread_connection(engine: Engine):
    """This thread's own DB-API connection to a SQLite *file*, taken from the pool once and
    detached from it (configured by the engine's connect events like any other): a pool
    checkout and check-in cost about 0.08 ms a transaction. None for other databases (the
    pool's pre-ping replaces connections a PostgreSQL restart broke) and in-memory SQLite
    (each connection would be another database)."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    conns = getattr(_LOCAL, "conns", None)
    if conns is None:
        conns = _LOCAL.conns = weakref.WeakKeyDictionary()
    dbapi = conns.get(engine)
    if dbapi is None:
        fairy = engine.raw_connection()
        fairy.detach()
        dbapi = conns[engine] = fairy.dbapi_connection
    return dbapi
