"""Runs: create, get, update, delete/restore, params, tags, log-model, inputs
and outputs (rest-api.md §5.1-§5.13, behaviours.md items 1, 6 and 7), spoken
to exactly as the mlflow client does."""
import json
import re
import sqlite3
import uuid

import pytest

from conftest import assert_error, db_connect

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def make_experiment(server, name=None):
    name = name or f"exp-{uuid.uuid4().hex[:12]}"
    return server.api("POST", "experiments/create", {"name": name})["experiment_id"]


def create_run(server, experiment_id="0", **fields):
    body = {"experiment_id": experiment_id, "user_id": "alice", "start_time": 1700000000000,
            "tags": [{"key": "mlflow.user", "value": "alice"},
                     {"key": "mlflow.source.name", "value": "train.py"},
                     {"key": "mlflow.source.type", "value": "LOCAL"}]}
    body.update(fields)
    return server.api("POST", "runs/create", body)["run"]


def get_run(server, run_id):
    # the client sends both run_id and run_uuid as query parameters
    return server.api("GET", "runs/get", params={"run_id": run_id, "run_uuid": run_id})["run"]


def tags_of(run):
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def params_of(run):
    return {p["key"]: p["value"] for p in run["data"].get("params", [])}


def db(server):
    """The server's database, SQLite or PostgreSQL (rows addressable by name)."""
    conn = db_connect(server)
    conn.row_factory = sqlite3.Row
    return conn


# --- create ---------------------------------------------------------------------------------


def test_create_run_returns_the_whole_run(server):
    exp = make_experiment(server)
    run = create_run(server, exp, run_name="first-run")
    info = run["info"]
    assert HEX32.match(info["run_id"])
    assert info["run_uuid"] == info["run_id"]
    assert info["run_name"] == "first-run"
    assert info["experiment_id"] == exp
    assert info["user_id"] == "alice"
    assert info["status"] == "RUNNING"
    assert info["start_time"] == 1700000000000
    assert "end_time" not in info
    assert info["lifecycle_stage"] == "active"
    experiment = server.api("GET", "experiments/get", params={"experiment_id": exp})["experiment"]
    assert info["artifact_uri"] == f"{experiment['artifact_location']}/{info['run_id']}/artifacts"
    assert tags_of(run) == {"mlflow.user": "alice", "mlflow.source.name": "train.py",
                            "mlflow.source.type": "LOCAL", "mlflow.runName": "first-run"}
    assert "metrics" not in run["data"] and "params" not in run["data"]
    assert run["inputs"] == {}
    # the same run comes back from runs/get
    got = get_run(server, info["run_id"])
    assert got["info"] == info
    assert tags_of(got) == tags_of(run)
    assert got["inputs"] == {} and got["outputs"] == {}


def test_create_run_stores_mlflow_columns(server):
    run = create_run(server, run_name="columns")
    with db(server) as conn:
        row = conn.execute("SELECT * FROM runs WHERE run_uuid=?", (run["info"]["run_id"],)).fetchone()
    assert row["name"] == "columns"
    assert row["source_type"] == "UNKNOWN"
    assert row["source_name"] == "" and row["entry_point_name"] == "" and row["source_version"] == ""
    assert row["status"] == "RUNNING" and row["end_time"] is None and row["deleted_time"] is None
    assert row["lifecycle_stage"] == "active" and row["experiment_id"] == 0
    assert row["artifact_uri"] == f"mlflow-artifacts:/0/{run['info']['run_id']}/artifacts"


def test_generated_run_name(server):
    run = create_run(server)
    name = run["info"]["run_name"]
    assert re.match(r"^[a-z]+-[a-z]+-\d{1,4}$", name) or len(name) == 20, name
    assert len(name) <= 20
    assert tags_of(run)["mlflow.runName"] == name
    names = {create_run(server)["info"]["run_name"] for _ in range(5)}
    assert len(names) > 1


def test_create_with_many_tags_and_a_key_twice(server):
    """250 tags (PostgreSQL takes them by COPY), one key sent twice: its last value."""
    tags = [{"key": f"tag.{i:03}", "value": f"v{i}"} for i in range(250)]
    tags.append({"key": "tag.007", "value": "again"})
    run = create_run(server, tags=tags)
    want = {t["key"]: t["value"] for t in tags}
    want["mlflow.runName"] = run["info"]["run_name"]
    assert tags_of(run) == want
    assert tags_of(get_run(server, run["info"]["run_id"])) == want


def test_run_name_from_tag_and_conflicts(server):
    run = create_run(server, tags=[{"key": "mlflow.runName", "value": "from-tag"}])
    assert run["info"]["run_name"] == "from-tag"
    same = create_run(server, run_name="same", tags=[{"key": "mlflow.runName", "value": "same"}])
    assert same["info"]["run_name"] == "same"
    assert tags_of(same) == {"mlflow.runName": "same"}
    r = server.post("/api/2.0/mlflow/runs/create",
                    {"experiment_id": "0", "run_name": "a",
                     "tags": [{"key": "mlflow.runName", "value": "b"}]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "different values")


def test_create_run_experiment_rules(server):
    # absent experiment id -> "0"; a JSON number is accepted like the string
    assert server.api("POST", "runs/create", {})["run"]["info"]["experiment_id"] == "0"
    assert server.api("POST", "runs/create", {"experiment_id": 0})["run"]["info"]["experiment_id"] == "0"
    run = server.api("POST", "runs/create", {"experiment_id": "0", "start_time": "123"})["run"]
    assert run["info"]["start_time"] == 123 and run["info"]["user_id"] == ""
    r = server.post("/api/2.0/mlflow/runs/create", {"experiment_id": "987654"})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "987654")
    r = server.post("/api/2.0/mlflow/runs/create", {"experiment_id": "not-a-number"})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    exp = make_experiment(server)
    server.api("POST", "experiments/delete", {"experiment_id": exp})
    r = server.post("/api/2.0/mlflow/runs/create", {"experiment_id": exp})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state")
    r = server.post("/api/2.0/mlflow/runs/create", {"experiment_id": "0", "start_time": "soon"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "start_time")


def test_create_run_needs_json_content_type(server):
    r = server.session.post(server.url + "/api/2.0/mlflow/runs/create", data="{}",
                            headers={"Content-Type": "text/plain"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Content-Type")


# --- get ------------------------------------------------------------------------------------


def test_get_run_errors_and_aliases(server):
    run_id = create_run(server)["info"]["run_id"]
    assert server.api("GET", "runs/get", params={"run_uuid": run_id})["run"]["info"]["run_id"] == run_id
    assert server.api("GET", "runs/get", params={"run_id": run_id})["run"]["info"]["run_id"] == run_id
    r = server.get("/ajax-api/2.0/mlflow/runs/get", params={"run_id": run_id})
    assert r.status_code == 200 and r.json()["run"]["info"]["run_id"] == run_id
    r = server.get("/api/2.0/mlflow/runs/get", params={"run_id": "f" * 32})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST", f"Run with id={'f' * 32} not found")
    r = server.get("/api/2.0/mlflow/runs/get")
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "run_id")
    r = server.post("/api/2.0/mlflow/runs/get", {"run_id": run_id})
    assert r.status_code in (404, 405)


def test_get_run_with_everything(server):
    run_id = create_run(server, run_name="full")["info"]["run_id"]
    server.api("POST", "runs/log-batch", {
        "run_id": run_id,
        "metrics": [{"key": "loss", "value": 0.5, "timestamp": 10, "step": 1},
                    {"key": "loss", "value": 0.25, "timestamp": 20, "step": 2},
                    {"key": "acc", "value": "NaN", "timestamp": 10, "step": 0}],
        "params": [{"key": "lr", "value": "0.01"}, {"key": "layers", "value": "3"}],
        "tags": [{"key": "team", "value": "ml"}]})
    run = get_run(server, run_id)
    metrics = {m["key"]: m for m in run["data"]["metrics"]}
    assert metrics["loss"] == {"key": "loss", "value": 0.25, "timestamp": 20, "step": 2}
    assert metrics["acc"] == {"key": "acc", "value": "NaN", "timestamp": 10, "step": 0}
    assert params_of(run) == {"lr": "0.01", "layers": "3"}
    assert tags_of(run)["team"] == "ml"


# --- update ---------------------------------------------------------------------------------


def test_update_run(server):
    run_id = create_run(server, run_name="before")["info"]["run_id"]
    info = server.api("POST", "runs/update", {"run_id": run_id, "run_uuid": run_id,
                                              "status": "FINISHED", "end_time": 1700000001000})["run_info"]
    assert info["status"] == "FINISHED" and info["end_time"] == 1700000001000
    assert info["run_name"] == "before" and info["run_id"] == run_id and info["run_uuid"] == run_id
    assert info["lifecycle_stage"] == "active" and info["start_time"] == 1700000000000
    # only given fields change; the name also rewrites the mlflow.runName tag
    info = server.api("POST", "runs/update", {"run_id": run_id, "run_name": "after"})["run_info"]
    assert info["status"] == "FINISHED" and info["end_time"] == 1700000001000
    assert info["run_name"] == "after"
    assert tags_of(get_run(server, run_id))["mlflow.runName"] == "after"
    # an empty name is ignored; a status number is accepted
    info = server.api("POST", "runs/update", {"run_uuid": run_id, "run_name": "", "status": 4})["run_info"]
    assert info["run_name"] == "after" and info["status"] == "FAILED"
    r = server.post("/api/2.0/mlflow/runs/update", {"run_id": run_id, "status": "DONE"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "status")
    r = server.post("/api/2.0/mlflow/runs/update", {"run_id": "0" * 32, "status": "FINISHED"})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    r = server.post("/api/2.0/mlflow/runs/update", {"status": "FINISHED"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "run_id")


# --- delete / restore -----------------------------------------------------------------------


def test_delete_and_restore(server):
    run_id = create_run(server)["info"]["run_id"]
    assert server.api("POST", "runs/delete", {"run_id": run_id}) == {}
    run = get_run(server, run_id)  # deleted runs are still readable
    assert run["info"]["lifecycle_stage"] == "deleted"
    with db(server) as conn:
        deleted_time = conn.execute("SELECT deleted_time FROM runs WHERE run_uuid=?", (run_id,)).fetchone()[0]
    assert deleted_time and deleted_time > 1600000000000
    assert server.api("POST", "runs/delete", {"run_id": run_id}) == {}  # no precondition
    assert server.api("POST", "runs/restore", {"run_id": run_id}) == {}
    assert get_run(server, run_id)["info"]["lifecycle_stage"] == "active"
    with db(server) as conn:
        assert conn.execute("SELECT deleted_time FROM runs WHERE run_uuid=?", (run_id,)).fetchone()[0] is None
    for endpoint in ("runs/delete", "runs/restore"):
        r = server.post(f"/api/2.0/mlflow/{endpoint}", {"run_id": "a" * 32})
        assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "a" * 32)
        r = server.post(f"/api/2.0/mlflow/{endpoint}", {})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", "run_id")


# --- params ---------------------------------------------------------------------------------


def test_log_param(server):
    run_id = create_run(server)["info"]["run_id"]
    body = {"run_id": run_id, "run_uuid": run_id, "key": "alpha", "value": "0.5"}
    assert server.api("POST", "runs/log-parameter", body) == {}
    assert server.api("POST", "runs/log-parameter", body) == {}  # same value: no-op
    r = server.post("/api/2.0/mlflow/runs/log-parameter", dict(body, value="0.6"))
    err = assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed")
    assert "alpha" in err["message"] and "0.5" in err["message"] and "0.6" in err["message"]
    # empty and absent values are the empty string
    server.api("POST", "runs/log-parameter", {"run_id": run_id, "key": "empty"})
    assert params_of(get_run(server, run_id)) == {"alpha": "0.5", "empty": ""}


def test_log_param_truncates_long_values(server):
    run_id = create_run(server)["info"]["run_id"]
    server.api("POST", "runs/log-parameter", {"run_id": run_id, "key": "long", "value": "x" * 7000})
    # truncation counts characters (code points), not bytes
    server.api("POST", "runs/log-parameter", {"run_id": run_id, "key": "wide", "value": "é" * 6001})
    params = params_of(get_run(server, run_id))
    assert params["long"] == "x" * 6000
    assert params["wide"] == "é" * 6000
    # logging the long value again compares with the truncated one: still a no-op
    server.api("POST", "runs/log-parameter", {"run_id": run_id, "key": "long", "value": "x" * 7000})


def test_create_run_truncates_long_tag_values(server):
    """As set-tag does: cut to 8000 characters on both engines (PostgreSQL's VARCHAR(8000) had
    refused the row, SQLite kept all of it)."""
    run = create_run(server, tags=[{"key": "note", "value": "n" * 9000}])
    assert tags_of(get_run(server, run["info"]["run_id"]))["note"] == "n" * 8000


def test_long_values_are_refused_when_truncation_is_off(make_server):
    """MLFLOW_TRUNCATE_LONG_VALUES=false: every path that cuts long param and tag values refuses
    them instead, with MLflow's wording; values at the limit still pass."""
    s = make_server(env={"MLFLOW_TRUNCATE_LONG_VALUES": "false"})
    run_id = create_run(s)["info"]["run_id"]
    cases = [
        ("runs/log-parameter", {"run_id": run_id, "key": "p", "value": "x" * 6001},
         "Param value 'xxx", "had length 6001, which exceeded length limit of 6000"),
        ("runs/set-tag", {"run_id": run_id, "key": "t", "value": "y" * 8001},
         "Tag value 'yyy", "had length 8001, which exceeded length limit of 8000"),
        ("runs/log-batch", {"run_id": run_id, "params": [{"key": "q", "value": "z" * 6001}]},
         "Param value 'zzz", "exceeded length limit of 6000"),
        ("runs/log-batch", {"run_id": run_id, "tags": [{"key": "u", "value": "w" * 8001}]},
         "Tag value 'www", "exceeded length limit of 8000"),
        ("runs/create", {"experiment_id": "0", "tags": [{"key": "v", "value": "v" * 8001}]},
         "Tag value 'vvv", "exceeded length limit of 8000"),
    ]
    for endpoint, body, start, end in cases:
        err = assert_error(s.post("/api/2.0/mlflow/" + endpoint, body), 400, "INVALID_PARAMETER_VALUE")
        assert err["message"].startswith(start) and err["message"].endswith(end), err["message"]
        assert len(err["message"]) < 400  # the value is quoted up to 250 characters
    s.api("POST", "runs/log-parameter", {"run_id": run_id, "key": "p", "value": "x" * 6000})
    s.api("POST", "runs/set-tag", {"run_id": run_id, "key": "t", "value": "y" * 8000})
    run = get_run(s, run_id)
    assert params_of(run) == {"p": "x" * 6000} and tags_of(run)["t"] == "y" * 8000


@pytest.mark.parametrize("key, part", [
    ("bad!key", "Names may only contain"),
    ("a/../b", "resolve"),
    ("/abs", "resolve"),
    ("k" * 251, "exceeds the maximum length of 250"),
])
def test_log_param_key_rules(server, key, part):
    run_id = create_run(server)["info"]["run_id"]
    r = server.post("/api/2.0/mlflow/runs/log-parameter", {"run_id": run_id, "key": key, "value": "v"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", part)


def test_log_param_errors(server):
    run_id = create_run(server)["info"]["run_id"]
    r = server.post("/api/2.0/mlflow/runs/log-parameter", {"run_id": run_id, "value": "v"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "key")
    r = server.post("/api/2.0/mlflow/runs/log-parameter", {"run_id": "b" * 32, "key": "k", "value": "v"})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    # keys with unicode letters, colons, spaces, dots and slashes are fine
    server.api("POST", "runs/log-parameter", {"run_id": run_id, "key": "größe a:b/c.d-e_f", "value": "1"})
    # and so are Unicode's other numbers, which Python's \w takes (they were refused)
    server.api("POST", "runs/log-parameter", {"run_id": run_id, "key": "r² ½ ₂ ①", "value": "2"})
    assert params_of(get_run(server, run_id)) == {"größe a:b/c.d-e_f": "1", "r² ½ ₂ ①": "2"}


# --- tags -----------------------------------------------------------------------------------


def test_set_and_delete_tag(server):
    run_id = create_run(server, run_name="tagged")["info"]["run_id"]
    body = {"run_id": run_id, "run_uuid": run_id, "key": "stage", "value": "dev"}
    assert server.api("POST", "runs/set-tag", body) == {}
    server.api("POST", "runs/set-tag", dict(body, value="prod"))  # upsert
    server.api("POST", "runs/set-tag", {"run_id": run_id, "key": "long", "value": "y" * 9000})
    tags = tags_of(get_run(server, run_id))
    assert tags["stage"] == "prod" and tags["long"] == "y" * 8000
    assert server.api("POST", "runs/delete-tag", {"run_id": run_id, "key": "stage"}) == {}
    assert "stage" not in tags_of(get_run(server, run_id))
    r = server.post("/api/2.0/mlflow/runs/delete-tag", {"run_id": run_id, "key": "stage"})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "stage")
    r = server.post("/api/2.0/mlflow/runs/delete-tag", {"run_id": run_id})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "key")
    r = server.post("/api/2.0/mlflow/runs/set-tag", {"run_id": run_id, "key": "bad*key", "value": "v"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Names may only contain")
    r = server.post("/api/2.0/mlflow/runs/set-tag", {"run_id": "c" * 32, "key": "k", "value": "v"})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_run_name_tag_renames_the_run(server):
    run_id = create_run(server, run_name="old-name")["info"]["run_id"]
    server.api("POST", "runs/set-tag", {"run_id": run_id, "key": "mlflow.runName", "value": "new-name"})
    run = get_run(server, run_id)
    assert run["info"]["run_name"] == "new-name" and tags_of(run)["mlflow.runName"] == "new-name"
    with db(server) as conn:
        assert conn.execute("SELECT name FROM runs WHERE run_uuid=?", (run_id,)).fetchone()[0] == "new-name"


# --- behaviours.md item 7: finished runs accept writes, deleted runs refuse them -------------


def test_finished_run_accepts_writes(server):
    run_id = create_run(server)["info"]["run_id"]
    server.api("POST", "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 5})
    server.api("POST", "runs/log-metric", {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1})
    server.api("POST", "runs/log-parameter", {"run_id": run_id, "key": "p", "value": "1"})
    server.api("POST", "runs/set-tag", {"run_id": run_id, "key": "t", "value": "1"})
    server.api("POST", "runs/log-batch", {"run_id": run_id, "tags": [{"key": "u", "value": "2"}]})
    info = get_run(server, run_id)["info"]
    assert info["status"] == "FINISHED" and info["end_time"] == 5


def test_deleted_run_refuses_writes(server):
    run_id = create_run(server)["info"]["run_id"]
    server.api("POST", "runs/set-tag", {"run_id": run_id, "key": "keep", "value": "1"})
    server.api("POST", "runs/delete", {"run_id": run_id})
    writes = [
        ("runs/log-metric", {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1}),
        ("runs/log-parameter", {"run_id": run_id, "key": "p", "value": "1"}),
        ("runs/set-tag", {"run_id": run_id, "key": "t", "value": "1"}),
        ("runs/delete-tag", {"run_id": run_id, "key": "keep"}),
        ("runs/log-batch", {"run_id": run_id, "params": [{"key": "p", "value": "1"}]}),
        ("runs/update", {"run_id": run_id, "status": "FINISHED"}),
        ("runs/log-inputs", {"run_id": run_id, "models": [{"model_id": "m-1"}]}),
        ("runs/outputs", {"run_id": run_id, "models": [{"model_id": "m-1", "step": 0}]}),
        ("runs/log-model", {"run_id": run_id, "model_json": json.dumps(
            {"artifact_path": "m", "flavors": {}, "utc_time_created": "x", "run_id": run_id})}),
    ]
    for endpoint, body in writes:
        r = server.post(f"/api/2.0/mlflow/{endpoint}", body)
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", f"The run {run_id} must be in the 'active' state")
    run = get_run(server, run_id)
    assert tags_of(run)["keep"] == "1" and "params" not in run["data"] and "metrics" not in run["data"]
    assert run["info"]["status"] == "RUNNING"


# --- log-model (legacy) ---------------------------------------------------------------------


def test_log_model_appends_history_tag(server):
    run_id = create_run(server)["info"]["run_id"]
    model = {"artifact_path": "model", "run_id": run_id, "utc_time_created": "2024-01-01 00:00:00.000000",
             "model_uuid": "abc123", "mlflow_version": "3.6.0",
             "flavors": {"python_function": {"loader_module": "m", "config": {"x": 1}},
                         "sklearn": {"sklearn_version": "1.5", "pickled_model": "model.pkl"}}}
    assert server.api("POST", "runs/log-model", {"run_id": run_id, "model_json": json.dumps(model)}) == {}
    model2 = dict(model, artifact_path="model2", model_uuid="def456")
    server.api("POST", "runs/log-model", {"run_id": run_id, "model_json": json.dumps(model2)})
    history = json.loads(tags_of(get_run(server, run_id))["mlflow.log-model.history"])
    assert history == [
        {"run_id": run_id, "artifact_path": "model", "utc_time_created": "2024-01-01 00:00:00.000000",
         "model_uuid": "abc123",
         "flavors": {"python_function": {"loader_module": "m"},
                     "sklearn": {"sklearn_version": "1.5", "pickled_model": "model.pkl"}}},
        {"run_id": run_id, "artifact_path": "model2", "utc_time_created": "2024-01-01 00:00:00.000000",
         "model_uuid": "def456",
         "flavors": {"python_function": {"loader_module": "m"},
                     "sklearn": {"sklearn_version": "1.5", "pickled_model": "model.pkl"}}},
    ]


def test_log_model_calls_at_once_keep_every_entry(server):
    """Six log-model calls to one run at once: the history holds all six. On PostgreSQL each
    read the history and wrote it back with its entry, and most rounds lost some."""
    from concurrent.futures import ThreadPoolExecutor
    import requests
    for _ in range(5):
        run_id = create_run(server)["info"]["run_id"]

        def log(i):
            model = {"artifact_path": f"m{i}", "run_id": run_id, "model_uuid": f"u{i}",
                     "utc_time_created": "2024-01-01 00:00:00.000000", "flavors": {}}
            return requests.post(f"{server.url}/api/2.0/mlflow/runs/log-model", timeout=60,
                                 json={"run_id": run_id, "model_json": json.dumps(model)})

        with ThreadPoolExecutor(6) as pool:
            assert all(r.status_code == 200 for r in pool.map(log, range(6)))
        history = json.loads(tags_of(get_run(server, run_id))["mlflow.log-model.history"])
        assert sorted(h["artifact_path"] for h in history) == [f"m{i}" for i in range(6)]


def test_log_model_errors(server):
    run_id = create_run(server)["info"]["run_id"]
    r = server.post("/api/2.0/mlflow/runs/log-model", {"run_id": run_id, "model_json": "{not json"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "is not a valid JSON")
    r = server.post("/api/2.0/mlflow/runs/log-model",
                    {"run_id": run_id, "model_json": json.dumps({"artifact_path": "m", "run_id": run_id})})
    err = assert_error(r, 400, "INVALID_PARAMETER_VALUE", "missing mandatory fields")
    assert "flavors" in err["message"] and "utc_time_created" in err["message"]
    r = server.post("/api/2.0/mlflow/runs/log-model", {"run_id": run_id})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "model_json")
    ok = json.dumps({"artifact_path": "m", "flavors": {}, "utc_time_created": "t", "run_id": run_id})
    r = server.post("/api/2.0/mlflow/runs/log-model", {"run_id": "d" * 32, "model_json": ok})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


# --- inputs and outputs ---------------------------------------------------------------------


def dataset(name="train", digest="d1", **extra):
    d = {"name": name, "digest": digest, "source_type": "local", "source": '{"uri": "/data"}'}
    d.update(extra)
    return d


def test_log_inputs_and_read_them_back(server):
    exp = make_experiment(server)
    run_id = create_run(server, exp)["info"]["run_id"]
    body = {"run_id": run_id, "datasets": [
        {"tags": [{"key": "mlflow.data.context", "value": "training"}],
         "dataset": dataset(schema='{"cols": []}', profile='{"rows": 3}')},
        {"dataset": dataset("eval", "d2")},
        {"tags": [{"key": "mlflow.data.context", "value": "ignored"}], "dataset": dataset()},  # same name+digest
    ], "models": [{"model_id": "m-0123"}]}
    assert server.api("POST", "runs/log-inputs", body) == {}
    server.api("POST", "runs/log-inputs", body)  # again: nothing new
    run = get_run(server, run_id)
    inputs = sorted(run["inputs"]["dataset_inputs"], key=lambda d: d["dataset"]["name"])
    assert inputs == [
        {"dataset": {"name": "eval", "digest": "d2", "source_type": "local", "source": '{"uri": "/data"}'}},
        {"tags": [{"key": "mlflow.data.context", "value": "training"}],
         "dataset": {"name": "train", "digest": "d1", "source_type": "local", "source": '{"uri": "/data"}',
                     "schema": '{"cols": []}', "profile": '{"rows": 3}'}},
    ]
    assert run["inputs"]["model_inputs"] == [{"model_id": "m-0123"}]
    with db(server) as conn:
        rows = conn.execute("SELECT experiment_id, dataset_uuid FROM datasets WHERE name IN ('train', 'eval')"
                            " AND digest IN ('d1', 'd2')").fetchall()
        edges = conn.execute("SELECT count(*) FROM inputs WHERE destination_id=?", (run_id,)).fetchone()[0]
    assert len(rows) == 2 and all(str(r[0]) == exp and HEX32.match(r[1]) for r in rows)
    assert edges == 2
    # another run reuses the dataset rows
    other = create_run(server)["info"]["run_id"]
    server.api("POST", "runs/log-inputs", {"run_id": other, "datasets": [{"dataset": dataset()}]})
    with db(server) as conn:
        assert conn.execute("SELECT count(*) FROM datasets WHERE name='train' AND digest='d1'").fetchone()[0] == 1
    assert get_run(server, other)["inputs"]["dataset_inputs"][0]["dataset"]["name"] == "train"


def test_the_same_inputs_logged_at_once_all_succeed(server):
    """16 identical log-inputs at once, to one run and to several: all 200, one dataset row,
    one edge per run (on PostgreSQL the losers of the insert race got a 400)."""
    from concurrent.futures import ThreadPoolExecutor
    import requests
    exp = make_experiment(server)
    runs = [create_run(server, exp)["info"]["run_id"] for _ in range(4)]
    for round_ in range(5):
        name = f"racing-{uuid.uuid4().hex[:8]}"

        def post(run):
            return requests.post(f"{server.url}/api/2.0/mlflow/runs/log-inputs", json={
                "run_id": run, "datasets": [{
                    "tags": [{"key": "mlflow.data.context", "value": "train"}],
                    "dataset": dataset(name, "dg")}]}, timeout=60)

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(post, runs * 4))
        assert [r.status_code for r in answers] == [200] * 16, [r.text for r in answers]
        with db(server) as conn:
            assert conn.execute("SELECT count(*) FROM datasets WHERE name = ?",
                                (name,)).fetchone()[0] == 1
        for run in runs:
            inputs = [i for i in get_run(server, run)["inputs"]["dataset_inputs"]
                      if i["dataset"]["name"] == name]
            assert len(inputs) == 1
            assert inputs[0]["tags"] == [{"key": "mlflow.data.context", "value": "train"}]


def test_log_inputs_errors(server):
    run_id = create_run(server)["info"]["run_id"]
    cases = [
        ({"dataset": dataset(name="n" * 501)}, "'name' exceeds the maximum length of 500"),
        ({"dataset": dataset(digest="d" * 37)}, "'digest' exceeds the maximum length of 36"),
        ({"tags": [{"key": "k" * 256, "value": "v"}], "dataset": dataset()}, "'key' exceeds"),
        ({"tags": [{"key": "k", "value": "v" * 501}], "dataset": dataset()}, "'value' exceeds"),
    ]
    for item, part in cases:
        r = server.post("/api/2.0/mlflow/runs/log-inputs", {"run_id": run_id, "datasets": [item]})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", part)
    r = server.post("/api/2.0/mlflow/runs/log-inputs", {"run_id": "bad id!", "datasets": []})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "run_id")
    r = server.post("/api/2.0/mlflow/runs/log-inputs", {"run_id": "e" * 32, "datasets": []})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    r = server.post("/api/2.0/mlflow/runs/log-inputs", {"datasets": []})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "run_id")


def test_log_outputs(server):
    run_id = create_run(server)["info"]["run_id"]
    body = {"run_id": run_id, "models": [{"model_id": "m-aaa", "step": 3}, {"model_id": "m-bbb", "step": "7"}]}
    assert server.api("POST", "runs/outputs", body) == {}
    server.api("POST", "runs/outputs", body)  # again is harmless
    run = get_run(server, run_id)
    assert run["outputs"] == {"model_outputs": [{"model_id": "m-aaa", "step": 3}, {"model_id": "m-bbb", "step": 7}]}
    assert "model_inputs" not in run["inputs"]
    r = server.post("/api/2.0/mlflow/runs/outputs", {"run_id": run_id})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "models")
    r = server.post("/api/2.0/mlflow/runs/outputs", {"run_id": run_id, "models": [{"step": 1}]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "models[0].model_id")
    r = server.post("/api/2.0/mlflow/runs/outputs", {"run_id": "f" * 32, "models": [{"model_id": "m", "step": 1}]})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
