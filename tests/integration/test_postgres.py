"""mlflowd on PostgreSQL: the schema it creates is MLflow's PostgreSQL schema (same
columns in the same order as the SQLite appendix, with PostgreSQL's types), experiment
ids count up from 1 after the Default experiment 0, a database MLflow laid down is served
in place, replicas starting together on one new database serialise on an advisory lock,
lost connections are re-opened, passwords never reach the log, and the db.h driver keeps
its contract (tests/unit/test_db_conformance run against the cluster). Runs only in the
PostgreSQL run (make integration-pg)."""
import os
import re
import subprocess
import threading
import uuid

import pytest
import requests

from conftest import BIN, Server, assert_error, db_query, free_port, start_together
from testdb import PG_ADMIN_URI, PgConnection, pg_create_database, pg_drop_database

pytestmark = pytest.mark.requires_postgres

HERE = os.path.dirname(__file__)
SQLITE_DDL = os.path.join(HERE, "../../src/store/schema_tracking.sql")
PG_DDL = os.path.join(HERE, "../../src/store/schema_tracking_pg.sql")
PG_AUTH_DDL = os.path.join(HERE, "../../src/store/schema_auth_pg.sql")
HEAD = "bf29a5ff90ea"
PASSWORD = PG_ADMIN_URI.split("://", 1)[1].split("@")[0].split(":", 1)[1]

# SQLite type names of the appendix -> PostgreSQL's information_schema data_type.
PG_TYPE = {"INTEGER": "integer", "BIGINT": "bigint", "TEXT": "text", "BOOLEAN": "boolean",
           "FLOAT": "double precision", "JSON": "json"}


@pytest.fixture
def fresh_db(tmp_path):
    """URI of a new, empty PostgreSQL database; dropped after the test."""
    uri = pg_create_database(f"{tmp_path}/fresh-{uuid.uuid4().hex}")
    yield uri
    pg_drop_database(uri)


def query(uri, sql, params=()):
    conn = PgConnection(uri)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def appendix_columns():
    """{table: [(column, (data_type, max_length))]} in column order, from the SQLite DDL."""
    out = {}
    for stmt in open(SQLITE_DDL).read().split(";\n"):
        m = re.match(r'\s*CREATE TABLE "?(\w+)"? \((.*)\)\s*$', stmt, re.S)
        if not m:
            continue
        cols = []
        for line in m.group(2).splitlines():
            if re.match(r"\s*(CONSTRAINT|PRIMARY|FOREIGN|UNIQUE|CHECK)\b", line):
                continue
            for name, typ in re.findall(r'"?(\w+)"? (VARCHAR\(\d+\)|INTEGER|BIGINT|TEXT|FLOAT|'
                                        r"BOOLEAN|JSON)(?=[ ,]|$)", line):
                v = re.match(r"VARCHAR\((\d+)\)", typ)
                cols.append((name, ("character varying", int(v.group(1))) if v
                             else (PG_TYPE[typ], None)))
        out[m.group(1)] = cols
    return out


def schema_snapshot(uri):
    """Everything a migration would change: columns, constraints, indexes, sequences (of
    MLflow's tables: mlflowd's log of changed runs is left out, and checked on its own)."""
    return (query(uri, "SELECT table_name, column_name, ordinal_position, data_type, "
                       "character_maximum_length, is_nullable, column_default, is_generated "
                       "FROM information_schema.columns WHERE table_schema = current_schema() "
                       "AND table_name <> 'mlflowd_run_changes' ORDER BY 1, 3"),
            query(uri, "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                       "FROM pg_constraint WHERE connamespace = current_schema()::regnamespace "
                       "AND conrelid::regclass::text <> 'mlflowd_run_changes' ORDER BY 1, 2"),
            query(uri, "SELECT indexname, indexdef FROM pg_indexes "
                       "WHERE schemaname = current_schema() AND tablename <> "
                       "'mlflowd_run_changes' ORDER BY 1"))


def db_upgrade(uri):
    return subprocess.run([BIN, "db", "upgrade", uri], capture_output=True, text=True, timeout=120)


def test_db_upgrade_creates_mlflow_postgres_schema(fresh_db):
    out = db_upgrade(fresh_db)
    assert out.returncode == 0, out.stderr
    expected = appendix_columns()
    assert len(expected) == 34
    rows = query(fresh_db, "SELECT table_name, column_name, data_type, character_maximum_length "
                           "FROM information_schema.columns WHERE table_schema = current_schema() "
                           "ORDER BY table_name, ordinal_position")
    got = {}
    for table, column, data_type, length in rows:
        got.setdefault(table, []).append((column, (data_type, length)))
    # beside MLflow's tables, mlflowd's log of changed runs (the run-search cache's)
    assert got.pop("mlflowd_run_changes") == [
        ("id", ("bigint", None)), ("xid", ("xid8", None)), ("experiment_id", ("integer", None)),
        ("run_uuid", ("character varying", 32))]
    assert got == expected
    defaults = dict(((t, c), d) for t, c, d in query(
        fresh_db, "SELECT table_name, column_name, column_default FROM information_schema.columns "
                  "WHERE table_schema = current_schema() AND column_default IS NOT NULL"))
    assert defaults[("experiments", "experiment_id")] == \
        "nextval('experiments_experiment_id_seq'::regclass)"
    assert defaults[("metrics", "is_nan")] == "false"
    assert defaults[("metrics", "step")].startswith("'0'")
    assert query(fresh_db, "SELECT is_generated, generation_expression FROM "
                           "information_schema.columns WHERE table_name = 'spans' AND "
                           "column_name = 'duration_ns'") == \
        [("ALWAYS", "(end_time_unix_nano - start_time_unix_nano)")]
    # Every index of the appendix, and PostgreSQL's names for the unnamed constraints.
    indexes = {r[0] for r in query(fresh_db, "SELECT indexname FROM pg_indexes "
                                             "WHERE schemaname = current_schema()")}
    assert set(re.findall(r"CREATE (?:UNIQUE )?INDEX (\w+)", open(SQLITE_DDL).read())) <= indexes
    constraints = {r[0] for r in query(fresh_db, "SELECT conname FROM pg_constraint")}
    assert {"experiments_name_key", "runs_status_check", "runs_experiment_id_fkey",
            "metrics_run_uuid_fkey", "model_versions_name_fkey",
            "registered_model_alias_name_fkey"} <= constraints
    # Booleans are native: no CHECK (is_nan IN (0, 1)) as on SQLite.
    assert not [c for c in constraints if "is_nan" in c]
    assert query(fresh_db, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    # no Default experiment: the server's first start makes it, with its own artifact root
    assert query(fresh_db, "SELECT experiment_id FROM experiments") == []
    # Idempotent: a second upgrade finds the head and changes nothing.
    before = schema_snapshot(fresh_db)
    assert db_upgrade(fresh_db).returncode == 0
    assert schema_snapshot(fresh_db) == before


def test_experiment_ids_count_up_from_one_after_default(make_server, fresh_db):
    s = make_server(args=[f"--backend-store-uri={fresh_db}"])
    ids = [s.api("POST", "experiments/create", {"name": f"e{i}"})["experiment_id"]
           for i in range(3)]
    assert ids == ["1", "2", "3"]
    assert query(fresh_db, "SELECT last_value FROM experiments_experiment_id_seq") == [(3,)]
    assert s.api("GET", "experiments/get", params={"experiment_id": "0"})["experiment"]["name"] \
        == "Default"


def lay_down_mlflow_database(uri):
    """What `mlflow server` leaves in a new PostgreSQL database, plus some use of it."""
    conn = PgConnection(uri)
    conn.executescript(open(PG_DDL).read())
    conn.execute("INSERT INTO alembic_version VALUES (?)", (HEAD,))
    conn.execute("INSERT INTO experiments (experiment_id, name, artifact_location, "
                 "lifecycle_stage, creation_time, last_update_time) "
                 "VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active', 1, 1)")
    conn.execute("INSERT INTO experiments (name, artifact_location, lifecycle_stage, "
                 "creation_time, last_update_time) "
                 "VALUES ('from-mlflow', 'mlflow-artifacts:/1', 'active', 2, 2)")
    conn.execute("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
                 "user_id, status, start_time, source_version, lifecycle_stage, artifact_uri, "
                 "experiment_id) VALUES (?, 'r', 'LOCAL', '', '', 'u', 'FINISHED', 5, '', "
                 "'active', 'mlflow-artifacts:/1/r/artifacts', 1)", ("a" * 32,))
    conn.execute("INSERT INTO metrics VALUES ('loss', 0, 7, ?, 3, true)", ("a" * 32,))
    conn.execute("INSERT INTO latest_metrics VALUES ('loss', 0, 7, 3, true, ?)", ("a" * 32,))
    conn.execute("INSERT INTO params VALUES ('lr', '0.1', ?)", ("a" * 32,))
    conn.close()


def test_existing_mlflow_postgres_database_served_in_place(make_server, fresh_db):
    lay_down_mlflow_database(fresh_db)
    before = schema_snapshot(fresh_db)
    s = make_server(args=[f"--backend-store-uri={fresh_db}"])
    assert s.get("/ready").status_code == 200
    names = {e["name"] for e in s.api("POST", "experiments/search",
                                      {"max_results": 10})["experiments"]}
    assert names == {"Default", "from-mlflow"}
    run = s.api("GET", "runs/get", params={"run_id": "a" * 32})["run"]
    assert run["data"]["params"] == [{"key": "lr", "value": "0.1"}]
    [metric] = run["data"]["metrics"]
    assert metric["key"] == "loss" and metric["step"] == 3 and metric["value"] == "NaN"
    history = s.api("GET", "metrics/get-history", params={"run_id": "a" * 32,
                                                          "metric_key": "loss"})["metrics"]
    assert [m["value"] for m in history] == ["NaN"]
    assert s.api("POST", "experiments/create", {"name": "new"})["experiment_id"] == "2"
    assert schema_snapshot(fresh_db) == before
    # mlflowd's search indexes are not added behind the admin's back: the log says how
    assert "lacks 8 of mlflowd's search indexes" in s.log()
    assert "lacks mlflowd's log of changed runs" in s.log()
    assert "mlflowd db upgrade" in s.log()


def mlflowd_indexes(uri):
    """mlflowd's search indexes (not those of its log of changed runs)."""
    return dict(query(uri, "SELECT indexname, indexdef FROM pg_indexes WHERE "
                           "schemaname = current_schema() AND indexname LIKE 'mlflowd%' AND "
                           "tablename <> 'mlflowd_run_changes'"))


def run_change_triggers(uri):
    return query(uri, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE "
                      "'mlflowd\\_run\\_changes\\_%' AND tgenabled <> 'D'")[0][0]


def mlflowd_statistics(uri):
    return sorted(row[0] for row in query(uri, "SELECT stxname FROM pg_statistic_ext WHERE "
                                               "stxname LIKE 'mlflowd%'"))


def test_search_indexes_on_new_databases_and_by_db_upgrade(make_server, fresh_db):
    """A database mlflowd creates has its eight indexes (five over all experiments, three per
    experiment through mlflowd_run_experiment) and two statistics objects;
    `db upgrade` adds them to one MLflow created, leaving MLflow's schema as it was; values
    too long for a B-tree entry are still stored and found."""
    assert db_upgrade(fresh_db).returncode == 0
    made = mlflowd_indexes(fresh_db)
    assert set(made) == {"mlflowd_runs_experiment_start_time", "mlflowd_latest_metrics_key_value",
                         "mlflowd_params_key_short_value", "mlflowd_tags_key_short_value",
                         "mlflowd_latest_metrics_experiment_key_value",
                         "mlflowd_params_experiment_key_short_value",
                         "mlflowd_tags_experiment_key_short_value",
                         "mlflowd_model_version_tags_version"}
    assert "(experiment_id, start_time DESC NULLS LAST, run_uuid)" in \
        made["mlflowd_runs_experiment_start_time"]
    assert "INCLUDE (run_uuid, is_nan)" in made["mlflowd_latest_metrics_key_value"]
    assert "WHERE (length((value)::text) <= 300)" in made["mlflowd_params_key_short_value"]
    assert "(mlflowd_run_experiment(run_uuid), key, value) INCLUDE (run_uuid, is_nan)" in \
        made["mlflowd_latest_metrics_experiment_key_value"]
    assert mlflowd_statistics(fresh_db) == ["mlflowd_params_experiment_short",
                                           "mlflowd_tags_experiment_short"]
    body = query(fresh_db, "SELECT prosrc, provolatile FROM pg_proc WHERE proname = "
                           "'mlflowd_run_experiment'")
    assert body == [("BEGIN RETURN (SELECT experiment_id FROM public.runs WHERE run_uuid = $1); "
                     "END", "i")]
    other = pg_create_database(fresh_db + "-mlflow")
    try:
        lay_down_mlflow_database(other)
        columns, constraints, _ = schema_snapshot(other)
        assert mlflowd_indexes(other) == {}
        out = db_upgrade(other)
        assert out.returncode == 0, out.stderr
        assert "creating 8 of mlflowd's search indexes" in out.stderr
        assert "creating mlflowd's log of changed runs" in out.stderr
        assert run_change_triggers(other) == run_change_triggers(fresh_db) == 16
        assert mlflowd_indexes(other) == made
        assert mlflowd_statistics(other) == mlflowd_statistics(fresh_db)
        assert schema_snapshot(other)[:2] == (columns, constraints)
        before = schema_snapshot(other)
        assert db_upgrade(other).returncode == 0 and schema_snapshot(other) == before
    finally:
        pg_drop_database(other)
    s = make_server(args=[f"--backend-store-uri={fresh_db}"])
    assert "search indexes" not in s.log() and "changed runs" not in s.log()
    exp = s.api("POST", "experiments/create", {"name": "long"})["experiment_id"]
    run = s.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
    long_value = "é" * 2000  # 4,000 bytes: more than a B-tree entry holds (2,704)
    s.api("POST", "runs/log-batch", {"run_id": run, "params": [{"key": "p", "value": long_value}],
                                     "tags": [{"key": "t", "value": long_value}],
                                     "metrics": [{"key": "m", "value": 1, "timestamp": 1}]})
    for filt in (f"params.p = '{long_value}'", f"tags.t = '{long_value}'",
                 f"params.p = '{long_value}' and metrics.m > 0"):
        got = s.api("POST", "runs/search", {"experiment_ids": [exp], "filter": filt,
                                            "order_by": ["metrics.m DESC"]})
        assert [r["info"]["run_id"] for r in got["runs"]] == [run]


def two_large_experiments(s, db):
    """Experiments a and b with more runs than a search restricts to their runs
    (SMALL_SCOPE_RUNS, 2,000; filler runs written in SQL), so that their searches read
    the per-experiment indexes: a1 and a2 in a, b1 in b, each with metric m (a1 1, b1 1.5,
    a2 2) and param p = 'x'."""
    a, b = (s.api("POST", "experiments/create", {"name": n})["experiment_id"] for n in "ab")
    for exp in (a, b):
        query(db, "INSERT INTO runs (run_uuid, experiment_id, lifecycle_stage, status, start_time) "
                  "SELECT md5(i || '-' || ?), ?, 'active', 'FINISHED', 0 "
                  "FROM generate_series(1, 2001) i", (exp, int(exp)))
    runs = {}
    for exp, names in ((a, ("a1", "a2")), (b, ("b1",))):
        for i, name in enumerate(names):
            run = s.api("POST", "runs/create", {"experiment_id": exp, "run_name": name,
                                                "start_time": 1000 + i})["run"]["info"]["run_id"]
            s.api("POST", "runs/log-batch", {"run_id": run, "params": [{"key": "p", "value": "x"}],
                                             "metrics": [{"key": "m", "timestamp": 1,
                                                          "value": 1 + i + (exp == b) / 2}]})
            runs[name] = run
    return a, b, runs


def found(s, exps, filt):
    got = s.api("POST", "runs/search", {"experiment_ids": exps, "filter": filt,
                                        "order_by": ["metrics.m DESC"]})
    return [r["info"]["run_name"] for r in got.get("runs", [])]


FILTERS = ("metrics.m > 0", "params.p = 'x'", "params.p = 'x' and metrics.m >= 1")


def test_a_search_in_one_experiment_reads_its_entries_through_the_experiment_indexes(
        make_server, fresh_db):
    """A filtered search in one experiment reads that experiment's entries through
    mlflowd_run_experiment's indexes, which keep a run's experiment as it was when its
    entries were written. Shown by moving a run in SQL, which neither MLflow nor mlflowd
    can do: until REINDEX its entries stay under the old experiment (README, PostgreSQL),
    while a search over both experiments finds it. Without the run-search cache, which
    would see the move (its triggers report both experiments)."""
    s = make_server(args=[f"--backend-store-uri={fresh_db}", "--search-cache-mb", "0"])
    a, b, runs = two_large_experiments(s, fresh_db)
    for filt in FILTERS:
        assert found(s, [a], filt) == ["a2", "a1"] and found(s, [b], filt) == ["b1"]
    query(fresh_db, "UPDATE runs SET experiment_id = ? WHERE run_uuid = ?", (int(b), runs["a2"]))
    for filt in FILTERS:
        assert found(s, [b], filt) == ["b1"], filt  # a2's entries still say experiment a
        assert found(s, [a], filt) == ["a1"], filt
        assert found(s, [a, b], filt) == ["a2", "b1", "a1"], filt
    query(fresh_db, "REINDEX TABLE latest_metrics; REINDEX TABLE params")
    for filt in FILTERS:
        assert found(s, [b], filt) == ["a2", "b1"], filt


def test_entries_written_before_their_run_is_seen_are_refiled_by_db_upgrade(
        make_server, fresh_db):
    """Entries written by the statement that writes their run (or before it, as a data-only
    restore does) are indexed under no experiment. A server that finds such entries at start
    says so and searches through the indexes over all experiments, so it still finds them;
    `db upgrade` rebuilds the indexes, after which the per-experiment ones serve again."""
    s = make_server(args=[f"--backend-store-uri={fresh_db}"])
    a, b, runs = two_large_experiments(s, fresh_db)
    query(fresh_db, "WITH r AS (INSERT INTO runs (run_uuid, name, experiment_id, lifecycle_stage, "
                    "status, start_time) VALUES ('0123456789abcdef0123456789abcdef', 'a3', ?, "
                    "'active', 'FINISHED', 5) RETURNING run_uuid), m AS (INSERT INTO "
                    "latest_metrics (key, value, timestamp, step, is_nan, run_uuid) SELECT 'm', 3, "
                    "1, 0, false, run_uuid FROM r) INSERT INTO params (key, value, run_uuid) "
                    "SELECT 'p', 'x', run_uuid FROM r", (int(a),))
    assert found(s, [a], "metrics.m > 0") == ["a2", "a1"]  # what this server's indexes miss
    s.stop()
    s = make_server(args=[f"--backend-store-uri={fresh_db}"])
    assert "written before their run could be seen" in s.log()
    for filt in FILTERS:
        assert found(s, [a], filt) == ["a3", "a2", "a1"], filt
    s.stop()
    out = db_upgrade(fresh_db)
    assert out.returncode == 0, out.stderr
    assert "rebuilding the indexes of latest_metrics" in out.stderr
    # a run without an experiment (MLflow's schema allows one) has its entries rightly
    # filed under none: no warning for them, and no rebuild at every upgrade
    query(fresh_db, "INSERT INTO runs (run_uuid, lifecycle_stage, status, start_time) VALUES "
                    "('fedcba9876543210fedcba9876543210', 'active', 'FINISHED', 1)")
    query(fresh_db, "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                    "VALUES ('m', 1, 1, 0, false, 'fedcba9876543210fedcba9876543210')")
    out = db_upgrade(fresh_db)
    assert out.returncode == 0 and "rebuilding" not in out.stderr, out.stderr
    s = make_server(args=[f"--backend-store-uri={fresh_db}"])
    assert "written before" not in s.log()
    for filt in FILTERS:
        assert found(s, [a], filt) == ["a3", "a2", "a1"], filt
    assert query(fresh_db, "SELECT run_uuid FROM latest_metrics WHERE "
                           "mlflowd_run_experiment(run_uuid) IS NULL") == \
        [("fedcba9876543210fedcba9876543210",)]  # the run without an experiment, only


def test_other_revision_is_refused(fresh_db):
    lay_down_mlflow_database(fresh_db)
    query(fresh_db, "UPDATE alembic_version SET version_num = '0584bdc529eb'")
    out = db_upgrade(fresh_db)
    assert out.returncode != 0
    assert "0584bdc529eb" in out.stderr and "mlflow db upgrade" in out.stderr
    assert PASSWORD not in out.stderr


def test_a_password_libpq_cannot_parse_stays_out_of_the_log(tmp_path):
    """libpq quotes the token it cannot parse, here a password with a stray '%': the URI was
    masked in the message but libpq's own words printed the password."""
    uri = PG_ADMIN_URI.replace(f":{PASSWORD}@", ":s3cr%zzet@")
    for cmd in ([BIN, "server", "--port", str(free_port()), "--backend-store-uri", uri],
                [BIN, "admin", "init-db", "--admin-uri", uri, "--user", "x"]):
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert out.returncode != 0, out
        assert "percent-encoded" in out.stderr and "s3cr%zzet" not in out.stderr, out.stderr


def test_replicas_starting_together_on_a_new_database(tmp_path, fresh_db):
    servers = [Server(tmp_path / f"r{i}", args=[f"--backend-store-uri={fresh_db}"])
               for i in range(3)]
    errors = start_together(servers)
    try:
        assert not errors, errors
        assert query(fresh_db, "SELECT version_num FROM alembic_version") == [(HEAD,)]
        assert query(fresh_db, "SELECT experiment_id FROM experiments") == [(0,)]
        for i, s in enumerate(servers):  # each replica writes, all see every write
            s.api("POST", "experiments/create", {"name": f"from-replica-{i}"})
        for s in servers:
            found = s.api("POST", "experiments/search", {"max_results": 10})["experiments"]
            assert len(found) == 4
    finally:
        for s in servers:
            s.stop()


@pytest.mark.parametrize("shared", [False, True], ids=["own-auth-db", "shared-db"])
def test_replicas_with_auth_starting_together_on_a_new_database(tmp_path, fresh_db, shared):
    """The auth schema and mlflowd's SSO tables are made under one lock too: with CREATE
    TABLE IF NOT EXISTS alone, one of replicas starting at once failed (the table's type name
    taken meanwhile) and exited. The auth tables may share the tracking database, as MLflow
    allows: they do not make it "a database with tables but no MLflow schema"."""
    auth_db = fresh_db if shared else pg_create_database(f"{tmp_path}/auth-{uuid.uuid4().hex}")
    ini = tmp_path / "basic_auth.ini"
    ini.write_text("[mlflow]\ndefault_permission = READ\n"
                   f"database_uri = {auth_db}\n"
                   "admin_username = admin\nadmin_password = password1234\n")
    try:
        for attempt in range(3):  # the failure needs the starts to overlap: three tries at it
            if attempt:
                for db in {fresh_db, auth_db}:
                    query(db, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            servers = [Server(tmp_path / f"a{attempt}-{i}",
                              args=[f"--backend-store-uri={fresh_db}", "--auth"],
                              env={"MLFLOW_AUTH_CONFIG_PATH": str(ini),
                                   "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret"})
                       for i in range(3)]
            errors = start_together(servers)
            try:
                assert not errors, errors
                assert query(auth_db, "SELECT version_num FROM alembic_version_auth") == \
                    [("0965eb92f5f0",)]
                assert query(fresh_db, "SELECT version_num FROM alembic_version") == [(HEAD,)]
                assert query(auth_db, "SELECT username FROM users") == [("admin",)]
                tables = query(auth_db, "SELECT tablename FROM pg_tables WHERE tablename LIKE "
                                        "'mlflowd\\_%' AND tablename <> 'mlflowd_run_changes' "
                                        "ORDER BY tablename")
                assert tables == [("mlflowd_access_tokens",), ("mlflowd_sessions",),
                                  ("mlflowd_sso_identities",)]
                for i, s in enumerate(servers):
                    r = requests.post(f"{s.url}/api/2.0/mlflow/users/create",
                                      auth=("admin", "password1234"),
                                      json={"username": f"user{i}", "password": "a-password-1234"})
                    assert r.status_code == 200, r.text
                    r = requests.post(f"{s.url}/api/2.0/mlflow/experiments/create",
                                      auth=("admin", "password1234"), json={"name": f"e{i}"})
                    assert r.status_code == 200, r.text
            finally:
                for s in servers:
                    s.stop()
    finally:
        if not shared:
            pg_drop_database(auth_db)


def test_concurrent_db_upgrades_serialise(fresh_db):
    procs = [subprocess.Popen([BIN, "db", "upgrade", fresh_db], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert query(fresh_db, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    # the Default experiment is the server's to make, with its own artifact root
    assert query(fresh_db, "SELECT count(*) FROM experiments") == [(0,)]


@pytest.mark.parametrize("scheme", ["postgres", "postgresql+psycopg2"])
def test_sqlalchemy_uri_forms_and_no_password_in_log(make_server, fresh_db, scheme):
    uri = scheme + "://" + fresh_db.split("://", 1)[1]
    s = make_server(args=[f"--backend-store-uri={uri}"])
    assert s.api("POST", "experiments/create", {"name": "x"})["experiment_id"] == "1"
    log = s.log()
    assert PASSWORD not in log
    assert f"{scheme}://postgres:***@" in log


def test_wrong_password_fails_start_without_showing_it(fresh_db):
    wrong = fresh_db.replace(f":{PASSWORD}@", ":not-the-Secret-42@")
    out = db_upgrade(wrong)
    assert out.returncode != 0
    assert "not-the-Secret-42" not in out.stderr
    assert "password authentication failed" in out.stderr and "***" in out.stderr


def test_lost_connections_are_reopened(make_server, fresh_db):
    s = make_server(args=[f"--backend-store-uri={fresh_db}", "--workers", "4"])
    exp = s.api("POST", "experiments/create", {"name": "survivor"})["experiment_id"]
    for _ in range(8):  # warm every pooled connection
        s.api("GET", "experiments/get", params={"experiment_id": exp})
    name = fresh_db.rsplit("/", 1)[1]
    killed = query(PG_ADMIN_URI, "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                                 "WHERE datname = ?", (name,))
    assert killed
    for _ in range(8):
        assert s.api("GET", "experiments/get",
                     params={"experiment_id": exp})["experiment"]["name"] == "survivor"
    assert s.get("/ready").status_code == 200


def test_a_lock_held_elsewhere_ends_in_503_after_lock_timeout(make_server, fresh_db):
    """A row or table lock another session holds made a request wait as long as the lock
    lasted, holding a pooled connection (the pool then refused unrelated requests). The
    server's sessions wait at most lock_timeout: 20 s by default (as SQLite's busy timeout), or
    what the role, database or URI sets, as here (1 s); then 503, and other requests go on."""
    import time
    name = fresh_db.rsplit("/", 1)[1]
    query(PG_ADMIN_URI, f"ALTER DATABASE {name} SET lock_timeout = '1s'")
    s = make_server(args=[f"--backend-store-uri={fresh_db}", "--workers", "2"])
    run_id = s.api("POST", "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    holder = PgConnection(fresh_db)
    try:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE latest_metrics IN EXCLUSIVE MODE")
        t0 = time.monotonic()
        r = s.post("/api/2.0/mlflow/runs/log-metric",
                   json={"run_id": run_id, "key": "m", "value": 1, "timestamp": 1, "step": 0})
        waited = time.monotonic() - t0
        body = assert_error(r, 503, "TEMPORARILY_UNAVAILABLE", "lock timeout")
        assert 0.9 < waited < 10, (waited, body)
        assert s.api("GET", "runs/get", params={"run_id": run_id})["run"]["info"]["run_id"] == run_id
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    s.api("POST", "runs/log-metric",
          {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1, "step": 0})


def test_a_lock_wait_under_copy_is_not_paid_twice(make_server, fresh_db):
    """A batch past 100 points goes in by COPY; a COPY that fails for any reason but a
    stored key (here lock_timeout) fails the request at once, where falling back to
    the INSERTs waited for the lock a second time. The batch sent again is stored whole."""
    import time
    name = fresh_db.rsplit("/", 1)[1]
    query(PG_ADMIN_URI, f"ALTER DATABASE {name} SET lock_timeout = '1s'")
    s = make_server(args=[f"--backend-store-uri={fresh_db}", "--workers", "2"])
    run_id = s.api("POST", "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    batch = {"run_id": run_id, "params": [{"key": "p", "value": "1"}],
             "metrics": [{"key": "m", "value": i, "timestamp": 1, "step": i} for i in range(500)]}
    holder = PgConnection(fresh_db)
    try:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE metrics IN EXCLUSIVE MODE")
        t0 = time.monotonic()
        r = s.post("/api/2.0/mlflow/runs/log-batch", json=batch)
        waited = time.monotonic() - t0
        body = assert_error(r, 503, "TEMPORARILY_UNAVAILABLE", "lock timeout")
        assert 0.9 < waited < 1.9, (waited, body)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert query(fresh_db, "SELECT count(*) FROM params WHERE run_uuid = ?", (run_id,)) == [(0,)]
    assert s.api("POST", "runs/log-batch", batch) == {}
    assert query(fresh_db, "SELECT count(*), max(step) FROM metrics WHERE run_uuid = ?",
                 (run_id,)) == [(500, 499)]


def test_probe_port_answers_while_a_readiness_check_waits(make_server, fresh_db):
    """The probe port answered from one thread: a /ready waiting on the database (here on a
    lock of alembic_version; a stalled server or a partition the same) held /health, the
    liveness probe, and /metrics behind it, so the pod was restarted for a slow database.
    Now /health and /metrics answer at once, and a second /ready reports not ready after
    2 s instead of queueing behind the first."""
    import time
    name = fresh_db.rsplit("/", 1)[1]
    query(PG_ADMIN_URI, f"ALTER DATABASE {name} SET lock_timeout = '6s'")
    probe = free_port()
    s = make_server(args=[f"--backend-store-uri={fresh_db}", "--health-port", str(probe),
                          "--health-host", "127.0.0.1"])
    base = f"http://127.0.0.1:{probe}"
    assert requests.get(base + "/ready", timeout=10).status_code == 200
    holder = PgConnection(fresh_db)
    first = []
    try:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
        waiting = threading.Thread(
            target=lambda: first.append(requests.get(base + "/ready", timeout=30)))
        waiting.start()
        time.sleep(0.5)
        for path in ("/health", "/metrics"):
            t0 = time.monotonic()
            assert requests.get(base + path, timeout=10).status_code == 200
            assert time.monotonic() - t0 < 1, path
        t0 = time.monotonic()
        second = requests.get(base + "/ready", timeout=10)
        waited = time.monotonic() - t0
        assert_error(second, 503, "TEMPORARILY_UNAVAILABLE", "still waiting on the database")
        assert 1.5 < waited < 4, waited
        assert waiting.is_alive()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    waiting.join(30)
    assert first and first[0].status_code == 200, first and first[0].text
    assert requests.get(base + "/ready", timeout=10).status_code == 200


def test_not_ready_while_database_is_unreachable(make_server, fresh_db):
    s = make_server(args=[f"--backend-store-uri={fresh_db}"])
    assert s.get("/ready").status_code == 200
    name = fresh_db.rsplit("/", 1)[1]
    query(PG_ADMIN_URI, f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    query(PG_ADMIN_URI, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = ?", (name,))
    try:
        body = assert_error(s.get("/ready"), 503, "TEMPORARILY_UNAVAILABLE")
        assert PASSWORD not in body["message"]
        assert s.get("/health").status_code == 200
    finally:
        query(PG_ADMIN_URI, f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    assert s.get("/ready").status_code == 200


def test_duplicate_name_is_resource_already_exists(make_server, fresh_db):
    s = make_server(args=[f"--backend-store-uri={fresh_db}"])
    s.api("POST", "experiments/create", {"name": "twice"})
    r = s.post("/api/2.0/mlflow/experiments/create", json={"name": "twice"})
    assert_error(r, 400, "RESOURCE_ALREADY_EXISTS")


def test_concurrent_writers_do_not_conflict(make_server, fresh_db):
    """No process-wide writer lock on PostgreSQL: parallel writers all succeed."""
    s = make_server(args=[f"--backend-store-uri={fresh_db}", "--workers", "8"])
    exp = s.api("POST", "experiments/create", {"name": "busy"})["experiment_id"]
    failures = []

    def work(i):
        session = requests.Session()
        try:
            r = session.post(f"{s.url}/api/2.0/mlflow/runs/create",
                             json={"experiment_id": exp, "start_time": 1})
            run_id = r.json()["run"]["info"]["run_id"]
            for step in range(10):
                r = session.post(f"{s.url}/api/2.0/mlflow/runs/log-batch", json={
                    "run_id": run_id,
                    "metrics": [{"key": f"m{k}", "value": step * k, "timestamp": step,
                                 "step": step} for k in range(20)],
                    "params": [{"key": f"p{step}", "value": str(i)}],
                    "tags": [{"key": "t", "value": str(step)}]})
                if r.status_code != 200:
                    failures.append(r.text)
        except Exception as e:
            failures.append(repr(e))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    assert db_query(s, "SELECT count(*) FROM metrics") == [(8 * 10 * 20,)]
    assert db_query(s, "SELECT count(*) FROM latest_metrics") == [(8 * 20,)]


def test_auth_database_on_postgres(tmp_path, fresh_db):
    """The basic-auth schema on PostgreSQL: created at head with SERIAL ids and BOOLEAN."""
    ini = tmp_path / "basic_auth.ini"
    ini.write_text("[mlflow]\ndefault_permission = READ\n"
                   f"database_uri = {fresh_db}\n"
                   "admin_username = admin\nadmin_password = password1234\n"
                   "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
    s = Server(tmp_path / "srv", args=["--auth"],
               env={"MLFLOW_AUTH_CONFIG_PATH": str(ini),
                    "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret"}).start()
    try:
        assert PASSWORD not in s.log()
        admin = requests.Session()
        admin.auth = ("admin", "password1234")
        r = admin.post(f"{s.url}/api/2.0/mlflow/users/create",
                       json={"username": "bob", "password": "bob-password-1"})
        assert r.status_code == 200, r.text
        assert query(fresh_db, "SELECT version_num FROM alembic_version_auth") == \
            [("0965eb92f5f0",)]
        assert query(fresh_db, "SELECT username, is_admin FROM users ORDER BY id") == \
            [("admin", 1), ("bob", 0)]
        assert query(fresh_db, "SELECT data_type FROM information_schema.columns WHERE "
                               "table_name = 'users' AND column_name = 'is_admin'") == \
            [("boolean",)]
        ids = query(fresh_db, "SELECT column_default FROM information_schema.columns "
                              "WHERE column_name = 'id' ORDER BY table_name")
        assert len(ids) == 4 and all(d[0].startswith("nextval(") for d in ids)
    finally:
        s.stop()


def test_a_role_without_create_serves_databases_its_owner_made(tmp_path, fresh_db):
    """A role that may only read and write rows (USAGE on schema public, row privileges on
    the tables and sequences, no CREATE). With basic-auth, mlflowd ran CREATE TABLE IF NOT
    EXISTS for its own tables at every start, and PostgreSQL checks the CREATE privilege
    before IF NOT EXISTS: "permission denied for schema public" with every table there. Now
    the tables it lacks are named (auth database, tables, what to do) and the start stops;
    once the owner's start made them, the role serves both databases: the tracking one with
    mlflowd's indexes, function and statistics objects, which `db upgrade` made as the owner.
    An empty tracking database is refused saying that `db upgrade` must make its schema."""
    role, password = f"mlflowd_rows_{uuid.uuid4().hex[:8]}", "rows-only-password-1"
    auth_db = pg_create_database(f"{tmp_path}/auth-{uuid.uuid4().hex}")
    empty_db = pg_create_database(f"{tmp_path}/empty-{uuid.uuid4().hex}")
    host = PG_ADMIN_URI.split("@", 1)[1].rsplit("/", 1)[0]

    def as_role(uri):
        return f"postgresql://{role}:{password}@{host}/{uri.split('?')[0].rsplit('/', 1)[1]}"

    def grant_rows(uri):
        query(uri, f"REVOKE CREATE ON SCHEMA public FROM PUBLIC; "
                   f"GRANT USAGE ON SCHEMA public TO {role}; "
                   f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
                   f"TO {role}; "
                   f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}")

    def write_ini(name, uri):
        ini = tmp_path / f"{name}.ini"
        ini.write_text("[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
                       f"database_uri = {uri}\n"
                       "admin_username = admin\nadmin_password = password1234\n")
        return {"MLFLOW_AUTH_CONFIG_PATH": str(ini),
                "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret"}

    def start_fails(args, env=None):
        out = subprocess.run([BIN, "server", "--port", str(free_port()), *args,
                              "--artifacts-destination", str(tmp_path / "art")],
                             env=dict(os.environ, **(env or {})), capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 1, out.stderr
        assert password not in out.stderr and PASSWORD not in out.stderr
        return out.stderr

    servers = []
    try:
        query(PG_ADMIN_URI, f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        assert db_upgrade(fresh_db).returncode == 0  # by the owner: schema, indexes, function
        conn = PgConnection(auth_db)  # the auth database as MLflow leaves it
        conn.executescript(open(PG_AUTH_DDL).read())
        conn.execute("INSERT INTO alembic_version_auth VALUES ('0965eb92f5f0')")
        conn.close()
        for uri in (fresh_db, auth_db, empty_db):
            grant_rows(uri)
        args = ["--app-name", "basic-auth", f"--backend-store-uri={as_role(fresh_db)}"]
        role_env = write_ini("role", as_role(auth_db))
        err = auth_err = start_fails(args, role_env)
        assert f"the auth database postgresql://{role}:***@" in err, err
        assert "lacks the tables mlflowd_sso_identities, mlflowd_access_tokens, " \
               "mlflowd_sessions" in err, err
        assert "permission denied for schema public" in err and "CREATE" in err, err
        err = start_fails([f"--backend-store-uri={as_role(empty_db)}"])
        assert "could not create MLflow's schema in the empty tracking database" in err, err
        assert "mlflowd db upgrade" in err, err
        # what the message says: the owner's `db upgrade --auth` makes them, then the role
        # gets their rows
        assert "mlflowd db upgrade --auth URI" in auth_err, auth_err
        out = subprocess.run([BIN, "db", "upgrade", "--auth", auth_db], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        grant_rows(auth_db)
        s = Server(tmp_path / "role", args=args, env=role_env)
        servers.append(s.start())
        assert "permission denied" not in s.log() and "search indexes" not in s.log()
        admin = ("admin", "password1234")
        api = f"{s.url}/api/2.0/mlflow"
        r = requests.post(f"{api}/users/create", auth=admin,
                          json={"username": "ann", "password": "ann-password-123"})
        assert r.status_code == 200, r.text
        exp = requests.post(f"{api}/experiments/create", auth=admin,
                            json={"name": "rows-only"}).json()["experiment_id"]
        r = requests.post(f"{api}/experiments/permissions/create", auth=admin,
                          json={"experiment_id": exp, "username": "ann", "permission": "EDIT"})
        assert r.status_code == 200, r.text
        ann = ("ann", "ann-password-123")
        assert requests.get(f"{api}/experiments/get", auth=ann,
                            params={"experiment_id": "0"}).status_code == 403
        run = requests.post(f"{api}/runs/create", auth=ann, json={"experiment_id": exp})
        assert run.status_code == 200, run.text
        run_id = run.json()["run"]["info"]["run_id"]
        r = requests.post(f"{api}/runs/log-batch", auth=ann, json={
            "run_id": run_id, "params": [{"key": "p", "value": "v"}],
            "tags": [{"key": "t", "value": "x"}],
            "metrics": [{"key": "m", "value": 1, "timestamp": 1}]})
        assert r.status_code == 200, r.text
        r = requests.post(f"{api}/runs/search", auth=ann,
                          json={"experiment_ids": [exp], "filter": "params.p = 'v'"})
        assert [x["info"]["run_id"] for x in r.json()["runs"]] == [run_id], r.text
    finally:
        for server in servers:
            server.stop()
        for uri in (auth_db, empty_db, fresh_db):
            pg_drop_database(uri)
        query(PG_ADMIN_URI, f"DROP ROLE IF EXISTS {role}")


def test_a_user_deleted_while_granted_is_deleted(tmp_path, fresh_db):
    """users/delete racing permission creates for that user, the auth database on
    PostgreSQL: the delete succeeds (the user and every row are gone) and each create either
    landed before it or finds the user gone (404). A row committed between the delete's
    statements failed it (404, the user left in place) in about half the rounds."""
    ini = tmp_path / "basic_auth.ini"
    ini.write_text("[mlflow]\ndefault_permission = READ\n"
                   f"database_uri = {fresh_db}\n"
                   "admin_username = admin\nadmin_password = password1234\n")
    s = Server(tmp_path / "srv", args=["--auth"],
               env={"MLFLOW_AUTH_CONFIG_PATH": str(ini),
                    "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret"}).start()
    auth = ("admin", "password1234")
    api = f"{s.url}/api/2.0/mlflow"
    try:
        exps = [requests.post(f"{api}/experiments/create", auth=auth,
                              json={"name": f"grants-{j}"}).json()["experiment_id"]
                for j in range(6)]
        for i in range(15):
            name = f"doomed-{i}"
            r = requests.post(f"{api}/users/create", auth=auth,
                              json={"username": name, "password": "doomed-password-1"})
            assert r.status_code == 200, r.text
            barrier, answers = threading.Barrier(len(exps) + 1), {}

            def run(what):
                barrier.wait()
                if what == "delete":
                    answers[what] = requests.delete(f"{api}/users/delete", auth=auth,
                                                    json={"username": name})
                else:
                    answers[what] = requests.post(
                        f"{api}/experiments/permissions/create", auth=auth,
                        json={"experiment_id": what, "username": name, "permission": "EDIT"})
            threads = [threading.Thread(target=run, args=(w,))
                       for w in exps[:3] + ["delete"] + exps[3:]]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert answers["delete"].status_code == 200, answers["delete"].text
            for exp in exps:
                assert answers[exp].status_code in (200, 404), answers[exp].text
            assert query(fresh_db, "SELECT count(*) FROM users WHERE username = ?",
                         (name,)) == [(0,)]
        assert query(fresh_db, "SELECT count(*) FROM experiment_permissions p LEFT JOIN users u "
                               "ON u.id = p.user_id WHERE u.id IS NULL") == [(0,)]  # no orphans
        assert query(fresh_db, "SELECT count(*) FROM experiment_permissions") == [(6,)]  # admin's
    finally:
        s.stop()


def test_driver_conformance_on_postgres():
    """The C test of db.h's contract, run against this cluster (and SQLite)."""
    exe = os.path.join(os.path.dirname(BIN), "tests/unit/test_db_conformance")
    if not os.path.exists(exe):
        pytest.fail(f"{exe} is not built")
    out = subprocess.run([exe], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, MLFLOWD_TEST_PG_URI=PG_ADMIN_URI))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "postgresql" in out.stdout, out.stdout
