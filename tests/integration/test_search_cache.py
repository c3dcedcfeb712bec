"""The run-search cache on PostgreSQL (src/store/run_cache.h): the pages it picks are the
SQL's, row for row and token for token, over NaN, absent values, ties, deleted runs and
every page; a change committed through another replica, or by hand in SQL as MLflow would
write it, is in the very next search; without its triggers, or over its memory budget, the
database answers and the log says why. Each search here is checked to have been answered by
the cache (its hit counter on /metrics), against a second server on the same database with
the cache off. Runs only in the PostgreSQL run."""
import random
import re
import time
import uuid

import pytest
import requests

from conftest import Server
from testdb import PgConnection, pg_create_database, pg_drop_database

pytestmark = pytest.mark.requires_postgres


def sql(uri, statement, params=()):
    conn = PgConnection(uri)
    try:
        cur = conn.execute(statement, params)
        try:
            return cur.fetchall()
        except Exception:
            return None
    finally:
        conn.close()


def hits(server):
    text = requests.get(f"{server.url}/metrics", timeout=30).text
    m = re.search(r'^mlflowd_search_cache_searches_total\{result="hit"\} (\d+)$', text, re.M)
    return int(m.group(1)) if m else None


def search(server, exp, filter="", order=(), view=None, max_results=1000, token=None):
    body = {"experiment_ids": [exp], "filter": filter, "order_by": list(order),
            "max_results": max_results}
    if view:
        body["run_view_type"] = view
    if token:
        body["page_token"] = token
    got = server.api("POST", "runs/search", body)
    return [r["info"]["run_id"] for r in got.get("runs", [])], got.get("next_page_token")


def cached_search(server, exp, *args, **kwargs):
    """The search, answered by the cache: asked again until the cache has loaded what it
    reads (it loads in the background; the database answers meanwhile)."""
    deadline = time.time() + 30
    while True:
        before = hits(server)
        got = search(server, exp, *args, **kwargs)
        if hits(server) > before:
            return got
        assert time.time() < deadline, "the cache never answered"
        time.sleep(0.05)


@pytest.fixture
def pair(tmp_path):
    """A server with the cache (default) and one without, on one new database."""
    uri = pg_create_database(f"{tmp_path}/cache-{uuid.uuid4().hex}")
    servers = [Server(tmp_path / "cached", args=[f"--backend-store-uri={uri}"]),
               Server(tmp_path / "plain", args=[f"--backend-store-uri={uri}",
                                                "--search-cache-mb", "0"])]
    for s in servers:
        s.start()
    yield servers[0], servers[1], uri
    try:
        for s in servers:
            s.stop()
    finally:
        pg_drop_database(uri)


def populate(server, uri, n=240, seed=7):
    rnd = random.Random(seed)
    exp = server.api("POST", "experiments/create", {"name": f"e{uuid.uuid4().hex}"})["experiment_id"]
    for i in range(n):
        run = server.api("POST", "runs/create", {
            "experiment_id": exp, "start_time": 1_700_000_000_000 + rnd.randrange(20),
            "run_name": f"r{i % 9}"})["run"]["info"]["run_id"]
        metrics = []
        for key in ("a", "b"):
            pick = rnd.random()
            if pick < 0.1:
                continue  # absent
            value = float("nan") if pick < 0.2 else rnd.choice([0.0, 0.25, 0.5, 0.75, 1.0,
                                                                -1.5, rnd.random()])
            metrics.append({"key": key, "value": value, "timestamp": 1, "step": 0})
        params = [] if rnd.random() < 0.15 else [{"key": "p", "value": rnd.choice(["v1", "v2", "v3"])}]
        tags = [] if rnd.random() < 0.5 else [{"key": "t", "value": rnd.choice(["x", "y"])}]
        r = requests.post(f"{server.url}/api/2.0/mlflow/runs/log-batch", timeout=30,
                          data=_json({"run_id": run, "metrics": metrics, "params": params,
                                      "tags": tags}),
                          headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        if rnd.random() < 0.1:
            server.api("POST", "runs/delete", {"run_id": run})
    # a few runs without start_time, as an older client leaves them, and tags without a
    # value (MLflow's schema allows them)
    sql(uri, "UPDATE runs SET start_time = NULL WHERE run_uuid IN (SELECT run_uuid FROM runs "
             "WHERE experiment_id = ? ORDER BY run_uuid LIMIT 5)", (exp,))
    sql(uri, "INSERT INTO tags (key, value, run_uuid) SELECT 'nt', CASE WHEN run_uuid < '8' "
             "THEN NULL ELSE 'y' END, run_uuid FROM runs WHERE experiment_id = ? ORDER BY "
             "run_uuid LIMIT 40", (exp,))
    return exp


def _json(body):
    import json
    return json.dumps(body, allow_nan=True)  # NaN as the mlflow client sends it


FILTERS = ["metrics.a > 0.3", "metrics.a <= 0.5", "metrics.a = 0", "metrics.a != 0.5",
           "metrics.b >= -1.5 and params.p = 'v1'", "params.p != 'v2'", "tags.t = 'x'",
           "metrics.a < 1 and tags.t != 'x' and params.p = 'v3'", "attributes.run_name = 'r3'",
           "run_name != 'r1' and metrics.b > 0", "metrics.a > 10", "params.p = 'v1'",
           "tags.nt != 'z'", "tags.nt = 'y' and metrics.a >= 0"]
ORDERS = [[], ["metrics.a DESC"], ["metrics.a ASC"], ["metrics.b DESC", "metrics.a ASC"],
          ["attributes.start_time ASC"], ["metrics.a DESC", "start_time DESC"]]


def test_pages_are_the_databases(pair):
    cached, plain, uri = pair
    exp = populate(cached, uri)
    rnd = random.Random(3)
    answered = 0
    for filter in FILTERS:
        for order in ORDERS:
            if not order and not any(k in filter for k in ("metrics.", "params.", "tags.", "run_name")):
                continue
            view = rnd.choice([None, "ACTIVE_ONLY", "DELETED_ONLY", "ALL"])
            expected = search(plain, exp, filter, order, view)
            assert cached_search(cached, exp, filter, order, view) == expected, (filter, order)
            answered += 1
            # and page by page, tokens included
            token, pages, size = None, [], rnd.choice([1, 7, 50])
            for _ in range(300):
                before = hits(cached)
                got, token = search(cached, exp, filter, order, view, size, token)
                assert hits(cached) == before + 1, "a page the cache did not answer"
                assert (got, token) == search(plain, exp, filter, order, view, size,
                                              pages and pages[-1][1])
                pages.append((got, token))
                if not token:
                    break
            assert [i for p, _ in pages for i in p] == expected[0]
    assert answered > 50


def test_a_change_through_another_replica_is_in_the_next_search(pair):
    cached, writer, uri = pair
    exp = populate(cached, uri, n=60)
    order = ["metrics.a DESC"]
    cached_search(cached, exp, "metrics.a > -100", order)
    cached_search(cached, exp, "tags.t = 'x'", order)
    cached_search(cached, exp, "params.p = 'new'", order)

    def check(filter):
        before = hits(cached)
        got = search(cached, exp, filter, order)
        assert hits(cached) == before + 1
        assert got == search(writer, exp, filter, order)
        return got[0]  # the ids

    run = writer.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
    writer.api("POST", "runs/log-metric", {"run_id": run, "key": "a", "value": 1e9,
                                            "timestamp": 1, "step": 0})
    assert check("metrics.a > -100")[0] == run  # a new run, first at once
    writer.api("POST", "runs/log-metric", {"run_id": run, "key": "a", "value": -99,
                                            "timestamp": 2, "step": 1})
    got = check("metrics.a > -100")  # its latest value moved it behind every other number
    assert got[0] != run and run in got
    writer.api("POST", "runs/set-tag", {"run_id": run, "key": "t", "value": "x"})
    assert run in check("tags.t = 'x'")
    writer.api("POST", "runs/delete-tag", {"run_id": run, "key": "t"})
    assert run not in check("tags.t = 'x'")
    writer.api("POST", "runs/log-parameter", {"run_id": run, "key": "p", "value": "new"})
    assert check("params.p = 'new'") == [run]
    writer.api("POST", "runs/delete", {"run_id": run})
    assert check("params.p = 'new'") == []
    writer.api("POST", "runs/restore", {"run_id": run})
    assert check("params.p = 'new'") == [run]
    # by hand in SQL, as MLflow or a migration would write
    sql(uri, "UPDATE latest_metrics SET value = 5e9 WHERE run_uuid = ? AND key = 'a'", (run,))
    assert check("metrics.a > -100")[0] == run
    sql(uri, "DELETE FROM params WHERE run_uuid = ?", (run,))
    assert check("params.p = 'new'") == []


def test_a_transaction_that_commits_after_a_reading_it_began_before_is_seen(pair):
    """T takes its transaction id after U and logs its change first; U commits; a reading
    then (its snapshot's xmax is T's id, so T is not among those in progress); T commits.
    The next search must see T's change."""
    import psycopg2
    cached, writer, uri = pair
    exp = populate(cached, uri, n=10)
    runs, _ = search(writer, exp, "", ["metrics.a DESC"])
    first, other = runs[0], runs[1]
    for run in (first, other):
        writer.api("POST", "runs/set-tag", {"run_id": run, "key": "k", "value": "old"})
    cached_search(cached, exp, "tags.k = 'new'", ["metrics.a DESC"])
    u, t = psycopg2.connect(uri), psycopg2.connect(uri)
    try:
        u.cursor().execute("SELECT pg_current_xact_id()")
        t.cursor().execute("UPDATE tags SET value = 'new' WHERE run_uuid = %s AND key = 'k'",
                           (first,))
        u.cursor().execute("UPDATE tags SET value = 'old' WHERE run_uuid = %s AND key = 'k'",
                           (other,))
        u.commit()
        assert search(cached, exp, "tags.k = 'new'", ["metrics.a DESC"])[0] == []
        t.commit()
    finally:
        u.close()
        t.close()
    before = hits(cached)
    assert search(cached, exp, "tags.k = 'new'", ["metrics.a DESC"])[0] == [first]
    assert hits(cached) == before + 1


def test_one_run_changed_many_times_is_read_again_once(pair):
    """25,000 changes of one run between two searches (more than the 20,000 runs an
    experiment reads again rather than load anew): one run to read again. Logged by hand,
    as 25,000 updates of one row in one transaction take PostgreSQL minutes."""
    cached, writer, uri = pair
    exp = populate(cached, uri, n=20)
    got, _ = cached_search(cached, exp, "metrics.a > -100", ["metrics.a DESC"])
    run = got[-1]
    sql(uri, "INSERT INTO mlflowd_run_changes (experiment_id, run_uuid) SELECT NULL, ? FROM "
             "generate_series(1, 25000)", (run,))
    sql(uri, "UPDATE latest_metrics SET value = 1e9, is_nan = false WHERE run_uuid = ? AND "
             "key = 'a'", (run,))
    before = hits(cached)
    got = search(cached, exp, "metrics.a > -100", ["metrics.a DESC"])
    assert hits(cached) == before + 1
    assert got == search(writer, exp, "metrics.a > -100", ["metrics.a DESC"])
    assert got[0][0] == run


def test_concurrent_writes_never_leave_it_stale(pair):
    """Writers through the other replica while the cached one searches: every search sees at
    least every write acknowledged before it began."""
    import threading
    cached, writer, uri = pair
    exp = populate(cached, uri, n=20)
    cached_search(cached, exp, "metrics.c >= 0", ["metrics.c DESC"])
    run = writer.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
    acknowledged = [-1]
    stop = threading.Event()

    def write():
        session = requests.Session()
        for v in range(400):
            r = session.post(f"{writer.url}/api/2.0/mlflow/runs/log-metric", timeout=30,
                             json={"run_id": run, "key": "c", "value": v, "timestamp": v,
                                   "step": v})
            assert r.status_code == 200
            acknowledged[0] = v
            if stop.is_set():
                return

    t = threading.Thread(target=write)
    first_hits = hits(cached)
    t.start()
    seen = 0
    try:
        while t.is_alive():
            floor = acknowledged[0]
            got = cached.api("POST", "runs/search", {"experiment_ids": [exp],
                                                       "filter": "metrics.c >= 0",
                                                       "order_by": ["metrics.c DESC"]})
            if floor < 0 and not got.get("runs"):
                continue  # nothing acknowledged yet
            value = next(m["value"] for m in got["runs"][0]["data"]["metrics"] if m["key"] == "c")
            assert value >= floor
            seen += 1
    finally:
        stop.set()
        t.join()
    assert seen > 10
    assert hits(cached) - first_hits >= seen // 2  # the cache answered, catching up each time


def test_lost_connections_and_a_truncate_miss_nothing(pair):
    cached, writer, uri = pair
    exp = populate(cached, uri, n=30)
    order = ["metrics.a DESC"]
    cached_search(cached, exp, "metrics.a > -100", order)
    # every connection of both servers closed under them
    killed = sql(uri, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                      "datname = current_database() AND pid <> pg_backend_pid()")
    assert killed[0][0] >= 2
    run = writer.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
    writer.api("POST", "runs/log-metric", {"run_id": run, "key": "a", "value": 1e9,
                                            "timestamp": 1, "step": 0})
    assert search(cached, exp, "metrics.a > -100", order)[0][0] == run
    assert cached_search(cached, exp, "metrics.a > -100", order)[0][0] == run
    # a TRUNCATE (by hand; MLflow never does) drops what the cache holds of every run
    sql(uri, "TRUNCATE latest_metrics")
    assert search(cached, exp, "metrics.a > -100", order)[0] == []
    assert cached_search(cached, exp, "metrics.a > -100", order)[0] == []


def test_without_its_triggers_the_database_answers(tmp_path):
    uri = pg_create_database(f"{tmp_path}/notrig-{uuid.uuid4().hex}")
    s = None
    try:
        first = Server(tmp_path / "first", args=[f"--backend-store-uri={uri}"])
        first.start()
        exp = populate(first, uri, n=30)
        first.stop()
        sql(uri, "DROP TRIGGER mlflowd_run_changes_update ON latest_metrics")
        s = Server(tmp_path / "second", args=[f"--backend-store-uri={uri}"])
        s.start()
        got = search(s, exp, "metrics.a > 0", ["metrics.a DESC"])
        deadline = time.time() + 10
        while "lacks mlflowd's log of changed runs" not in open(s.log_path).read():
            assert time.time() < deadline, open(s.log_path).read()
            search(s, exp, "metrics.a > 0", ["metrics.a DESC"])
            time.sleep(0.05)
        assert hits(s) == 0
        # every write is still seen: the database answers
        run = got[0][0]
        s.api("POST", "runs/log-metric", {"run_id": run, "key": "a", "value": -7,
                                           "timestamp": 9, "step": 9})
        assert run not in search(s, exp, "metrics.a > 0", ["metrics.a DESC"])[0]
        s.stop()
        s = None
        # `db upgrade` puts them back
        from conftest import BIN
        import subprocess
        subprocess.run([BIN, "db", "upgrade", uri], check=True, capture_output=True)
        assert sql(uri, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'mlflowd_run_changes_%'")[0][0] == 16
    finally:
        if s:
            s.stop()
        pg_drop_database(uri)


def test_an_experiment_over_the_budget_is_left_to_the_database(tmp_path):
    uri = pg_create_database(f"{tmp_path}/budget-{uuid.uuid4().hex}")
    s = Server(tmp_path / "s", args=[f"--backend-store-uri={uri}", "--search-cache-mb", "1"])
    try:
        s.start()
        exp = s.api("POST", "experiments/create", {"name": "big"})["experiment_id"]
        sql(uri, "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
                 "user_id, status, start_time, lifecycle_stage, artifact_uri, experiment_id) "
                 "SELECT md5(i::text), 'r', 'LOCAL', '', '', 'u', 'FINISHED', i, 'active', '', ? "
                 "FROM generate_series(1, 30000) i", (exp,))
        sql(uri, "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                 "SELECT 'm', i, 0, 0, false, md5(i::text) FROM generate_series(1, 30000) i")
        for _ in range(50):
            got, _ = search(s, exp, "metrics.m > 29990", ["metrics.m DESC"])
            assert len(got) == 10
            if "more than --search-cache-mb allows" in open(s.log_path).read():
                break
            time.sleep(0.1)
        assert "more than --search-cache-mb allows" in open(s.log_path).read()
        assert hits(s) == 0
    finally:
        s.stop()
        pg_drop_database(uri)

