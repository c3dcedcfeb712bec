"""/ready, the readiness probe: 200 only while the tracking database answers and is at
MLflow's schema head; 503 with MLflow's JSON error otherwise. /health stays 200 either way
(it says the process is up). Runs on SQLite and, in the PostgreSQL run, on PostgreSQL."""
import threading
import time

import requests

from conftest import TEST_DB, assert_error, db_connect, db_query, free_port

HEAD = "bf29a5ff90ea"


def test_ready_when_database_at_head(server):
    r = server.get("/ready")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready"}


def test_not_ready_when_schema_is_not_at_head(make_server):
    """R-SSO-16: /ready is 200 only at the schema head; /health answers either way."""
    s = make_server()
    db_query(s, "UPDATE alembic_version SET version_num = ?", ("0584bdc529eb",))
    body = assert_error(s.get("/ready"), 503, "TEMPORARILY_UNAVAILABLE", "0584bdc529eb")
    assert HEAD in body["message"]
    assert s.get("/health").status_code == 200
    db_query(s, "UPDATE alembic_version SET version_num = ?", (HEAD,))
    assert s.get("/ready").status_code == 200


def test_ready_without_tracking_store(make_server):
    s = make_server(args=["--artifacts-only"])
    assert s.get("/ready").status_code == 200


def test_ready_is_get_only(server):
    assert server.post("/ready").status_code == 405


def hold_write_lock(server):
    """A connection of another process holding the tracking database's write lock (SQLite)
    or a lock on `runs` (PostgreSQL), so the server's runs/create waits for it."""
    conn = db_connect(server)
    if TEST_DB == "postgres":
        conn.execute("BEGIN")
        conn.execute("LOCK TABLE runs IN EXCLUSIVE MODE")
    else:
        conn.isolation_level = None
        conn.execute("BEGIN IMMEDIATE")
    return conn


def test_ready_answers_while_every_pooled_connection_is_busy(make_server):
    """/ready asked for a pooled connection: while requests held them all (here the one
    connection of --workers 1, its request waiting on a lock another process holds), the
    probe waited as long (the 30 s pool wait, or the lock), past Kubernetes' 5 s probe
    timeout, and on the probe port /health waited behind it. /ready now asks on a spare
    connection of its own, on both ports, and the busy request still completes."""
    probe = free_port()
    s = make_server(args=["--workers", "1", "--health-port", str(probe),
                          "--health-host", "127.0.0.1"])
    holder = hold_write_lock(s)
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(
        s.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"})))
    try:
        waiting.start()
        time.sleep(0.5)  # the request now holds the pool's only connection
        for url in (f"http://127.0.0.1:{probe}", s.url):
            for path in ("/ready", "/health"):
                t0 = time.monotonic()
                r = requests.get(url + path, timeout=10)
                waited = time.monotonic() - t0
                assert r.status_code == 200 and waited < 2.5, (url, path, r.text, waited)
        assert waiting.is_alive(), "the request did not wait for the lock"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        waiting.join(30)
    assert answers and answers[0].status_code == 200, answers and answers[0].text
