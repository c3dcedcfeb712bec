"""The integration tests' database on either engine (see conftest.py): one new
PostgreSQL database per server in the PostgreSQL run, and a small
sqlite3-shaped connection so tests read SQLite and PostgreSQL alike."""
import atexit
import hashlib
import os
import sqlite3

TEST_DB = os.environ.get("MLFLOWD_TEST_DB", "sqlite")
PG_ADMIN_URI = os.environ.get("MLFLOWD_TEST_PG_URI",
                              "postgresql://postgres:mlflowd-test@127.0.0.1:25432/postgres")
assert TEST_DB in ("sqlite", "postgres"), f"MLFLOWD_TEST_DB={TEST_DB}: expected sqlite or postgres"


def _pg_admin(*statements):
    """Runs statements (CREATE/DROP DATABASE) on the admin connection, outside transactions."""
    import psycopg2  # Debian: python3-psycopg2 (scripts/install-deps.sh)
    conn = psycopg2.connect(PG_ADMIN_URI)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()


def _pg_database_uri(name):
    base, _, query = PG_ADMIN_URI.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + (("?" + query) if query else "")


_pg_created = set()


def pg_create_database(key):
    """A new PostgreSQL database named after `key` (the same key gives the same one, so a
    server restarted on its workdir finds its data). Returns its URI."""
    name = "mlflowd_t_" + hashlib.sha1(str(key).encode()).hexdigest()[:20]
    if name not in _pg_created:
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
        _pg_created.add(name)
    return _pg_database_uri(name)


def pg_drop_database(uri):
    name = uri.split("?")[0].rsplit("/", 1)[1]
    if name in _pg_created:
        _pg_created.discard(name)
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@atexit.register
def _pg_drop_leftovers():
    for name in list(_pg_created):
        try:
            pg_drop_database(_pg_database_uri(name))
        except Exception:  # the cluster may be gone already
            pass


class _PgRow(tuple):
    """sqlite3.Row's access by index or by column name."""

    def __new__(cls, values, names):
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key):
        return super().__getitem__(self._names.index(key) if isinstance(key, str) else key)

    def keys(self):
        return list(self._names)


class _PgCursor:
    def __init__(self, cur, row_factory=None):
        self._cur = cur
        self._named = row_factory is sqlite3.Row
        self.rowcount = cur.rowcount
        self.lastrowid = None
        self.description = cur.description

    def _row(self, row):
        values = tuple(int(v) if isinstance(v, bool) else v for v in row)
        return _PgRow(values, [d[0] for d in self.description]) if self._named else values

    def fetchone(self):
        row = self._cur.fetchone() if self._cur.description else None
        return None if row is None else self._row(row)

    def fetchall(self):
        return [self._row(r) for r in self._cur.fetchall()] if self._cur.description else []

    def __iter__(self):
        return iter(self.fetchall())


class PgConnection:
    """The part of sqlite3.Connection the tests use, on PostgreSQL: `?` placeholders, values
    sent as untyped literals (so 0/1 fit BOOLEAN columns), booleans read back as 0/1,
    autocommit, PRAGMAs ignored."""

    isolation_level = None
    row_factory = None

    def __init__(self, uri):
        import psycopg2
        self._conn = psycopg2.connect(uri)
        self._conn.autocommit = True

    @staticmethod
    def _sql(sql):
        out, quote = [], None
        for ch in sql:
            if quote:
                quote = None if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch == "?":
                out.append("%s")
                continue
            out.append("%%" if ch == "%" else ch)
        return "".join(out)

    def execute(self, sql, params=()):
        cur = self._conn.cursor()
        if not sql.strip().lower().startswith("pragma"):
            cur.execute(self._sql(sql), tuple(None if p is None else str(p) for p in params))
        return _PgCursor(cur, self.row_factory)

    def executemany(self, sql, rows):
        for params in rows:
            self.execute(sql, params)

    def executescript(self, sql):
        self._conn.cursor().execute(sql)

    def commit(self):
        pass

    def rollback(self):
        pass

    def close(self):
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_pg_by_sqlite_path = {}
_sqlite_connect = sqlite3.connect


def _connect_routed(database, *args, **kwargs):
    uri = _pg_by_sqlite_path.get(os.path.realpath(str(database)))
    return PgConnection(uri) if uri else _sqlite_connect(database, *args, **kwargs)


def route_sqlite_path(path, uri):
    """In the PostgreSQL run, sqlite3.connect(path) opens the PostgreSQL database uri."""
    _pg_by_sqlite_path[path] = uri


def unroute_sqlite_path(path):
    _pg_by_sqlite_path.pop(path, None)


if TEST_DB == "postgres":
    sqlite3.connect = _connect_routed


def db_connect(server):
    """A DB-API connection to the server's tracking database, on its engine."""
    return uri_connect(server.db_uri)


def uri_connect(uri):
    """A DB-API connection to the database of a `sqlite:///` or `postgresql://` URI."""
    if uri.startswith("postgres"):
        return PgConnection("postgresql://" + uri.split("://", 1)[1])
    return _sqlite_connect(uri[len("sqlite:///"):], timeout=30)


def db_query(server, sql, params=()):
    """Runs one statement (`?` placeholders) on the server's database; returns all rows."""
    return uri_query(server.db_uri, sql, params)


def uri_query(uri, sql, params=()):
    """db_query on the database of a URI."""
    conn = uri_connect(uri)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        if isinstance(conn, PgConnection):
            conn.close()
        else:
            conn.commit()
            conn.close()
