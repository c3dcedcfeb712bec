"""/ready, the readiness probe: 200 only while the tracking database answers and is at
MLflow's schema head; 503 with MLflow's JSON error otherwise. /health stays 200 either way
(it says the process is up). Runs on SQLite and, in the PostgreSQL run, on PostgreSQL."""
from conftest import assert_error, db_query

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
