"""The schema mlflowd creates is MLflow's, statement for statement: every table
and index of schema.md Appendix A (tracking) and B (auth), compared from
sqlite_master, so MLflow can open our database and we can open MLflow's. The
tracking database also gets mlflowd's four search indexes (named mlflowd_*),
which MLflow ignores. An existing database is checked at start (on the run's
engine): experiment 0 is made again when missing, a revision mlflowd does not
serve is refused saying what made it, and one lacking tables is refused."""
import os
import re
import sqlite3
import subprocess

import pytest

from conftest import BIN, TEST_DB, Server, free_port, start_together
from testdb import pg_create_database, pg_drop_database, uri_query

HERE = os.path.dirname(__file__)
SPEC = os.path.join(HERE, "../../../shared/spec/schema.md")
COPY = os.path.join(HERE, "../../src/store/schema_tracking.sql")


def appendix_ddl(letter):
    """DDL statements of the spec's appendix (falls back to our embedded copy
    when the spec folder is not beside the checkout)."""
    if os.path.exists(SPEC):
        text = open(SPEC).read()
        section = text.split(f"## Appendix {letter}")[1]
        sql = section.split("```sql")[1].split("```")[0]
    else:
        sql = open(COPY if letter == "A" else COPY.replace("tracking", "auth")).read()
    sql = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    return normalise(s for s in sql.split(";\n") if s.strip())


def normalise(statements):
    out = set()
    for s in statements:
        s = re.sub(r"\s+", " ", s.strip().rstrip(";"))
        out.add(s)
    return out


# mlflowd's own indexes (src/store/schema.c), beside MLflow's
SEARCH_INDEXES = normalise([
    "CREATE INDEX mlflowd_latest_metrics_key_value ON latest_metrics (key, value, run_uuid, "
    "is_nan)",
    "CREATE INDEX mlflowd_params_key_value ON params (key, value, run_uuid)",
    "CREATE INDEX mlflowd_tags_key_value ON tags (key, value, run_uuid)",
    "CREATE INDEX mlflowd_model_version_tags_version ON model_version_tags (name, version)",
    "CREATE INDEX mlflowd_runs_experiment ON runs (experiment_id)",
])


def created_ddl(path):
    db = sqlite3.connect(path)
    rows = db.execute("select sql from sqlite_master where sql is not null").fetchall()
    return normalise(r[0] for r in rows)


def test_tracking_schema_equals_mlflow(tmp_path):
    path = tmp_path / "t.db"
    out = subprocess.run([BIN, "db", "upgrade", f"sqlite:///{path}"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    expected = appendix_ddl("A")
    got = created_ddl(path)
    assert len(expected) > 40
    assert got - SEARCH_INDEXES == expected, (sorted(expected - got)[:3],
                                              sorted(got - expected)[:3])
    assert SEARCH_INDEXES <= got
    db = sqlite3.connect(path)
    assert db.execute("pragma integrity_check").fetchone() == ("ok",)
    assert db.execute("pragma foreign_key_check").fetchall() == []


def test_existing_mlflow_database_served_as_is(make_server, tmp_path):
    """A database laid down by MLflow's DDL (not by us) at head is served unchanged."""
    path = tmp_path / "mlflow.db"
    db = sqlite3.connect(path)
    sql = "\n".join(l for l in open(COPY).read().splitlines() if not l.startswith("--"))
    db.executescript(sql)
    db.execute("insert into alembic_version values ('bf29a5ff90ea')")
    db.execute("insert into experiments (experiment_id, name, artifact_location, lifecycle_stage,"
               " creation_time, last_update_time) values (0, 'Default', 'mlflow-artifacts:/0',"
               " 'active', 1, 1)")
    db.commit()
    before = created_ddl(path)
    s = make_server(args=[f"--backend-store-uri=sqlite:///{path}"], workdir=tmp_path)
    assert s.get("/health").status_code == 200
    assert created_ddl(path) == before
    # mlflowd's search indexes are not added behind the admin's back: the log says how
    assert "lacks 5 of mlflowd's search indexes" in s.log()
    assert "mlflowd db upgrade" in s.log()


def lay_down_mlflow_database(path):
    """A tracking database as MLflow's own DDL leaves it, at head."""
    db = sqlite3.connect(path)
    db.executescript("\n".join(l for l in open(COPY).read().splitlines()
                               if not l.startswith("--")))
    db.execute("insert into alembic_version values ('bf29a5ff90ea')")
    db.commit()
    db.close()


SEARCHES = [("params.p = 'v1'", None), ("params.p LIKE 'v%'", "metrics.m DESC"),
            ("tags.t = 'x'", "params.p ASC"), ("metrics.m > 1", "metrics.m ASC"),
            ("metrics.m <= 2 and params.p != 'v0'", None), ("tags.t ILIKE '%X%'", None),
            ("metrics.m = 3", None), (None, "metrics.m DESC")]


def search_all(s, exp):
    out = []
    for flt, order in SEARCHES:
        body = {"experiment_ids": [exp], "max_results": 50}
        if flt:
            body["filter"] = flt
        if order:
            body["order_by"] = [order]
        runs = s.api("POST", "runs/search", body).get("runs", [])
        out.append([r["info"]["run_id"] for r in runs])
    return out


def test_search_indexes_added_by_db_upgrade(make_server, tmp_path):
    """`db upgrade` adds mlflowd's three search indexes to a database MLflow made and
    nothing else; searches answer the same with them, and use them."""
    path = tmp_path / "mlflow.db"
    lay_down_mlflow_database(path)
    before = created_ddl(path)
    uri = f"sqlite:///{path}"
    s = make_server(args=[f"--backend-store-uri={uri}"], workdir=tmp_path)
    exp = s.api("POST", "experiments/create", {"name": "e"})["experiment_id"]
    long_value = "é" * 5000
    for i in range(12):
        run = s.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
        s.api("POST", "runs/log-batch", {
            "run_id": run,
            "params": [{"key": "p", "value": long_value if i == 11 else f"v{i % 3}"}],
            "tags": [{"key": "t", "value": "x" if i % 2 else "y"}],
            "metrics": [{"key": "m", "value": i % 5 if i != 7 else "NaN", "timestamp": 1}]})
    found = search_all(s, exp)
    assert found[0] and found[2] and found[3]
    s.stop()
    out = subprocess.run([BIN, "db", "upgrade", uri], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "creating 5 of mlflowd's search indexes" in out.stderr
    assert created_ddl(path) == before | SEARCH_INDEXES
    out = subprocess.run([BIN, "db", "upgrade", uri], capture_output=True, text=True)
    assert out.returncode == 0 and "search indexes" not in out.stderr
    plan = sqlite3.connect(path).execute(
        "EXPLAIN QUERY PLAN SELECT run_uuid FROM params WHERE key = 'p' AND value = 'v1'"
    ).fetchall()
    assert "mlflowd_params_key_value" in str(plan)
    (tmp_path / "again").mkdir()
    s = make_server(args=[f"--backend-store-uri={uri}"], workdir=tmp_path / "again")
    assert "search indexes" not in s.log()
    assert search_all(s, exp) == found
    body = {"experiment_ids": [exp], "filter": f"params.p = '{long_value}'"}
    assert len(s.api("POST", "runs/search", body)["runs"]) == 1


# --- an existing database, on the run's engine (SQLite, or PostgreSQL in the PostgreSQL run) ---

@pytest.fixture
def tracking_db(tmp_path):
    """URI of a new tracking database made by `mlflowd db upgrade` (no Default experiment yet)
    on the run's engine; dropped after the test."""
    uri = (pg_create_database(f"{tmp_path}/tracking") if TEST_DB == "postgres"
           else f"sqlite:///{tmp_path}/tracking.db")
    out = subprocess.run([BIN, "db", "upgrade", uri], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    yield uri
    if TEST_DB == "postgres":
        pg_drop_database(uri)


def start_fails(uri, tmp_path):
    """`mlflowd server` on the database, expected to stop at start: its stderr."""
    out = subprocess.run(
        [BIN, "server", "--port", str(free_port()), "--backend-store-uri", uri,
         "--artifacts-destination", str(tmp_path / "art")],
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"))
    assert out.returncode == 1, out.stderr
    assert not re.search(r"(AddressSanitizer|LeakSanitizer|runtime error:)", out.stderr), out.stderr
    return out.stderr


def db_upgrade_fails(uri):
    out = subprocess.run([BIN, "db", "upgrade", uri], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr
    return out.stderr


def test_the_default_experiment_is_made_again_when_missing(tracking_db, tmp_path):
    """schema.md §1.3: experiment 0 is inserted whenever it is missing, not only in a database
    without experiments (which left one that lost it without it). Replicas starting together
    all start and make it once; on PostgreSQL the explicit id leaves the sequence alone. An
    experiment that took the name 'Default' meanwhile keeps it: the start goes on, and says
    why there is no experiment 0."""
    uri_query(tracking_db, "INSERT INTO experiments (name, artifact_location, lifecycle_stage, "
                           "creation_time, last_update_time) VALUES ('kept', '/k', 'active', 1, 1)")
    [(kept,)] = uri_query(tracking_db, "SELECT experiment_id FROM experiments")
    servers = [Server(tmp_path / f"r{i}", args=[f"--backend-store-uri={tracking_db}"])
               for i in range(3)]
    errors = start_together(servers)
    try:
        assert not errors, errors
        rows = uri_query(tracking_db, "SELECT experiment_id, name, artifact_location, "
                                      "lifecycle_stage FROM experiments ORDER BY experiment_id")
        assert rows == [(0, "Default", "mlflow-artifacts:/0", "active"), (kept, "kept", "/k",
                                                                          "active")]
        new = servers[0].api("POST", "experiments/create", {"name": "new"})["experiment_id"]
        assert int(new) == kept + 1
    finally:
        for s in servers:
            s.stop()
    uri_query(tracking_db, "DELETE FROM experiments WHERE experiment_id = 0")
    uri_query(tracking_db, "UPDATE experiments SET name = 'Default' WHERE name = 'kept'")
    s = Server(tmp_path / "taken", args=[f"--backend-store-uri={tracking_db}"]).start()
    try:
        got = s.api("POST", "experiments/search", {"max_results": 10})["experiments"]
        assert sorted(e["name"] for e in got) == ["Default", "new"]
        assert "another experiment is named 'Default'" in s.log()
    finally:
        s.stop()


@pytest.mark.parametrize("revision,says", [
    ("0584bdc529eb", "Detected out-of-date database schema (found version 0584bdc529eb"),
    ("1b5f0d9ad7c1", "which the opendatahub fork of MLflow adds after MLflow 3.6's"),
    ("ffffffffffff", "neither MLflow 3.6's (bf29a5ff90ea) nor an older MLflow's"),
], ids=["older-mlflow", "opendatahub-fork", "unknown"])
def test_another_revision_is_refused_saying_what_made_it(tracking_db, tmp_path, revision, says):
    """Only a revision of an older MLflow is told to run `mlflow db upgrade` with MLflow 3.6
    (which would fail on the others): the fork's workspaces revision and any other are named
    for what they are. The server and `db upgrade` say the same, and exit 1."""
    uri_query(tracking_db, "UPDATE alembic_version SET version_num = ?", (revision,))
    for err in (start_fails(tracking_db, tmp_path), db_upgrade_fails(tracking_db)):
        assert says in err and revision in err, err
        assert ("mlflow db upgrade" in err) == (revision == "0584bdc529eb"), err
        assert "mlflowd serves" in err and "MLflow 3.6" in err, err


def test_a_database_lacking_tables_of_the_schema_is_refused(tracking_db, tmp_path):
    """schema.md §1.5 and appendix A: a database stamped at head must have every table of the
    schema. With model_versions dropped, the server started, /ready answered 200 and every
    registry call failed with 500 "no such table"; now the start stops, naming the tables,
    and so does `db upgrade`."""
    cascade = " CASCADE" if tracking_db.startswith("postgres") else ""
    uri_query(tracking_db, "DROP TABLE webhook_events" + cascade)
    uri_query(tracking_db, "DROP TABLE model_versions" + cascade)
    for err in (start_fails(tracking_db, tmp_path), db_upgrade_fails(tracking_db)):
        assert "lacks the tables model_versions, webhook_events" in err, err
        assert "restore them" in err, err
