"""runs/log-batch (rest-api.md §5.10; behaviours.md items 1, 2, 6, 7): limits,
JSON-path error names, order of effects, latest-value folding within one
batch, and all-or-nothing writes."""
import time
import uuid

import pytest
import requests

from conftest import assert_error, db_connect

URL = "/api/2.0/mlflow/runs/log-batch"


def create_run(server, name=None):
    body = {"experiment_id": "0", "start_time": 1700000000000}
    if name:
        body["run_name"] = name
    return server.api("POST", "runs/create", body)["run"]["info"]["run_id"]


def get_run(server, run_id):
    return server.api("GET", "runs/get", params={"run_id": run_id, "run_uuid": run_id})["run"]


def history(server, run_id, key):
    return server.api("GET", "metrics/get-history",
                      params={"run_id": run_id, "run_uuid": run_id, "metric_key": key}).get("metrics", [])


def as_dict(items):
    return {i["key"]: i["value"] for i in items}


def db(server):
    """The server's database, SQLite or PostgreSQL."""
    return db_connect(server)


def test_batch_writes_params_metrics_tags(server):
    run_id = create_run(server, "batch")
    body = {"run_id": run_id,
            "metrics": [{"key": "loss", "value": 1.0, "timestamp": 10, "step": 0},
                        {"key": "loss", "value": 0.5, "timestamp": 20, "step": 1},
                        {"key": "acc", "value": "0.25", "timestamp": "30", "step": "2"},
                        {"key": "x", "value": "-Infinity", "timestamp": 1}],
            "params": [{"key": "lr", "value": "0.1"}, {"key": "opt", "value": "adam"}, {"key": "none"}],
            "tags": [{"key": "team", "value": "a"}, {"key": "team", "value": "b"}, {"key": "empty"}]}
    assert server.api("POST", "runs/log-batch", body) == {}
    run = get_run(server, run_id)
    assert as_dict(run["data"]["params"]) == {"lr": "0.1", "opt": "adam", "none": ""}
    tags = as_dict(run["data"]["tags"])
    assert tags["team"] == "b" and tags["empty"] == "" and tags["mlflow.runName"] == "batch"
    metrics = {m["key"]: m for m in run["data"]["metrics"]}
    assert metrics == {"loss": {"key": "loss", "value": 0.5, "timestamp": 20, "step": 1},
                       "acc": {"key": "acc", "value": 0.25, "timestamp": 30, "step": 2},
                       "x": {"key": "x", "value": -1.7976931348623157e308, "timestamp": 1, "step": 0}}
    assert [m["value"] for m in history(server, run_id, "loss")] == [1.0, 0.5]
    # an empty batch is fine
    assert server.api("POST", "runs/log-batch", {"run_id": run_id}) == {}


def test_batch_folds_latest_values(server):
    run_id = create_run(server)
    metrics = [{"key": "f", "value": v, "timestamp": t, "step": s}
               for v, t, s in [(1.0, 100, 3), (5.0, 50, 3), (2.0, 100, 3), ("NaN", 1, 4), (7.0, 999, 2),
                               (-3.0, 1, 4)]]
    server.api("POST", "runs/log-batch", {"run_id": run_id, "metrics": metrics})
    latest = {m["key"]: m for m in get_run(server, run_id)["data"]["metrics"]}
    assert latest["f"] == {"key": "f", "value": "NaN", "timestamp": 1, "step": 4}
    # a later batch only replaces it with a greater (step, timestamp, value)
    server.api("POST", "runs/log-batch", {"run_id": run_id, "metrics": [
        {"key": "f", "value": 100.0, "timestamp": 5000, "step": 3},
        {"key": "f", "value": 0.5, "timestamp": 1, "step": 4}]})
    latest = {m["key"]: m for m in get_run(server, run_id)["data"]["metrics"]}
    assert latest["f"] == {"key": "f", "value": 0.5, "timestamp": 1, "step": 4}
    with db(server) as conn:
        assert conn.execute("SELECT count(*) FROM latest_metrics WHERE run_uuid=?", (run_id,)).fetchone()[0] == 1


def test_batch_duplicates_are_skipped(server):
    run_id = create_run(server)
    m = {"key": "d", "value": 3.0, "timestamp": 7, "step": 1}
    server.api("POST", "runs/log-batch", {"run_id": run_id, "metrics": [m, m, dict(m, step=2)]})
    server.api("POST", "runs/log-batch", {"run_id": run_id, "metrics": [m]})
    assert [(x["step"], x["value"]) for x in history(server, run_id, "d")] == [(1, 3.0), (2, 3.0)]


def test_params_in_batch(server):
    run_id = create_run(server)
    server.api("POST", "runs/log-batch", {"run_id": run_id, "params": [{"key": "p", "value": "1"}]})
    # the same value again is skipped; a new key next to it is written
    server.api("POST", "runs/log-batch", {"run_id": run_id, "params": [{"key": "p", "value": "1"},
                                                                       {"key": "q", "value": "2"}]})
    assert as_dict(get_run(server, run_id)["data"]["params"]) == {"p": "1", "q": "2"}
    # a changed value fails the whole batch: nothing of it is written
    r = server.post(URL, {"run_id": run_id,
                          "metrics": [{"key": "never", "value": 1, "timestamp": 1}],
                          "params": [{"key": "r", "value": "3"}, {"key": "p", "value": "9"}],
                          "tags": [{"key": "never", "value": "x"}]})
    err = assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed")
    assert "'key': 'p'" in err["message"] and "'old_value': '1'" in err["message"]
    assert "'new_value': '9'" in err["message"] and run_id in err["message"]
    run = get_run(server, run_id)
    assert as_dict(run["data"]["params"]) == {"p": "1", "q": "2"}
    assert "metrics" not in run["data"] and "never" not in as_dict(run["data"]["tags"])
    r = server.post(URL, {"run_id": run_id, "params": [{"key": "z", "value": "1"}, {"key": "z", "value": "1"}]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Duplicate parameter keys have been submitted: ['z']")


def test_truncation_in_batch(server):
    run_id = create_run(server)
    server.api("POST", "runs/log-batch", {"run_id": run_id,
                                          "params": [{"key": "p", "value": "v" * 6500}],
                                          "tags": [{"key": "t", "value": "w" * 9000}]})
    data = get_run(server, run_id)["data"]
    assert as_dict(data["params"])["p"] == "v" * 6000
    assert as_dict(data["tags"])["t"] == "w" * 8000


def test_run_name_tag_in_batch(server):
    run_id = create_run(server, "first")
    server.api("POST", "runs/log-batch", {"run_id": run_id, "tags": [{"key": "mlflow.runName", "value": "second"}]})
    run = get_run(server, run_id)
    assert run["info"]["run_name"] == "second" and as_dict(run["data"]["tags"])["mlflow.runName"] == "second"


def test_limits(server):
    run_id = create_run(server)
    many = [{"key": f"m{i}", "value": 1.0, "timestamp": 1} for i in range(1001)]
    r = server.post(URL, {"run_id": run_id, "metrics": many})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "at most 1000 metrics. Got 1001 metrics")
    r = server.post(URL, {"run_id": run_id, "params": [{"key": f"p{i}", "value": "1"} for i in range(101)]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "at most 100 params")
    r = server.post(URL, {"run_id": run_id, "tags": [{"key": f"t{i}", "value": "1"} for i in range(101)]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "at most 100 tags")
    r = server.post(URL, {"run_id": run_id, "metrics": many[:950],
                          "params": [{"key": f"p{i}", "value": "1"} for i in range(51)]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "at most 1000 metrics, params, and tags")
    # exactly at the limits is fine
    server.api("POST", "runs/log-batch", {"run_id": run_id, "metrics": many[:1000]})
    assert len(get_run(server, run_id)["data"]["metrics"]) == 1000


@pytest.mark.parametrize("body, part", [
    ({"metrics": [{"key": "a", "value": 1, "timestamp": 1}, {"key": "b", "value": 1}]}, "'metrics[1].timestamp'"),
    ({"metrics": [{"key": "a", "timestamp": 1}]}, "'metrics[0].value'"),
    ({"metrics": [{"value": 1, "timestamp": 1}]}, "'metrics[0].key'"),
    ({"metrics": [{"key": "", "value": 1, "timestamp": 1}]}, "'metrics[0].key'"),
    ({"params": [{"value": "1"}]}, "'params[0].key'"),
    ({"tags": [{"key": "ok", "value": "1"}, {"value": "1"}]}, "'tags[1].key'"),
    ({"metrics": [{"key": "a", "value": 1, "timestamp": 1}, {"key": "b!", "value": 1, "timestamp": 1}]},
     "'metrics[1].name'"),
    ({"metrics": [{"key": "a", "value": 1, "timestamp": -5}]}, "'metrics[0].timestamp'"),
    ({"metrics": [{"key": "a", "value": "high", "timestamp": 1}]}, "metrics[0].value"),
    ({"metrics": [{"key": "a", "value": 1, "timestamp": 1, "step": 1.5}]}, "metrics[0].step"),
    ({"params": [{"key": "ok", "value": "1"}, {"key": "../up", "value": "1"}]}, "'params[1].key'"),
    ({"tags": [{"key": "t" * 251, "value": "1"}]}, "'tags[0].key' exceeds the maximum length of 250"),
    ({"params": [{"key": "p" * 251, "value": "1"}]}, "'Param key' exceeds the maximum length of 250"),
    ({"metrics": [{"key": "m" * 251, "value": 1, "timestamp": 1}]}, "'Metric name' exceeds"),
    ({"metrics": {"key": "a"}}, "metrics"),
])
def test_validation_messages(server, body, part):
    run_id = create_run(server)
    r = server.post(URL, dict(body, run_id=run_id))
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", part)
    data = get_run(server, run_id)["data"]
    assert "metrics" not in data and "params" not in data


def test_run_checks(server):
    r = server.post(URL, {"metrics": []})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "run_id")
    r = server.post(URL, {"run_id": "bad id!"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid value \"bad id!\" for parameter 'run_id'")
    r = server.post(URL, {"run_id": "1" * 32, "tags": [{"key": "t", "value": "v"}]})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "1" * 32)
    run_id = create_run(server)
    server.api("POST", "runs/delete", {"run_id": run_id})
    r = server.post(URL, {"run_id": run_id, "metrics": [{"key": "m", "value": 1, "timestamp": 1}]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state")


def test_model_metrics_in_batch(server):
    run_id = create_run(server)
    model_id = "m-" + uuid.uuid4().hex
    now = int(time.time() * 1000)
    with db(server) as conn:
        conn.execute("INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, "
                     "creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage) "
                     "VALUES (?, 0, 'm', 'x', ?, ?, 1, 'active')", (model_id, now, now))
    server.api("POST", "runs/log-batch", {"run_id": run_id, "metrics": [
        {"key": "acc", "value": 0.8, "timestamp": 5, "step": 1, "model_id": model_id,
         "dataset_name": "ds", "dataset_digest": "dg"},
        {"key": "plain", "value": 1.0, "timestamp": 5, "step": 1}]})
    with db(server) as conn:
        rows = conn.execute("SELECT metric_name, metric_value, run_id, experiment_id, dataset_name, dataset_digest "
                            "FROM logged_model_metrics WHERE model_id=?", (model_id,)).fetchall()
    assert rows == [("acc", 0.8, run_id, 0, "ds", "dg")]
    assert {m["key"] for m in get_run(server, run_id)["data"]["metrics"]} == {"acc", "plain"}
    r = server.post(URL, {"run_id": run_id, "metrics": [
        {"key": "acc", "value": 0.8, "timestamp": 6, "model_id": "m-nope"}]})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "m-nope")


def test_batch_over_ajax_and_big_bodies(server):
    run_id = create_run(server)
    # ~1.5 MB: bigger than upstream's inert 1 MB check, accepted
    tags = [{"key": f"big{i}", "value": "z" * 8000} for i in range(100)]
    params = [{"key": f"p{i}", "value": "q" * 6000} for i in range(100)]
    r = server.post("/ajax-api/2.0/mlflow/runs/log-batch", {"run_id": run_id, "tags": tags, "params": params})
    assert r.status_code == 200 and r.json() == {}
    data = get_run(server, run_id)["data"]
    assert len(data["params"]) == 100 and len(data["tags"]) == 101


def test_concurrent_batches_listing_keys_in_other_orders_all_succeed(server):
    """On PostgreSQL every upsert of a latest metric, param or tag locks its row until the
    transaction ends: two batches for one run naming the same keys in different orders
    deadlocked, and one of them got 503 (about half of them under load). Rows are written
    in key order now. Every point is then present exactly once."""
    import random
    from concurrent.futures import ThreadPoolExecutor
    run_id = create_run(server)
    keys = [f"k{i:02d}" for i in range(30)]

    def worker(seed):
        rng = random.Random(seed)
        session = requests.Session()
        out = []
        for n in range(15):
            order = rng.sample(keys, len(keys))
            step = seed * 100 + n
            body = {"run_id": run_id,
                    "metrics": [{"key": k, "value": step, "timestamp": step, "step": step}
                                for k in order],
                    "params": [{"key": f"p-{k}", "value": "same"} for k in order[:5]],
                    "tags": [{"key": f"t-{k}", "value": str(step)} for k in order[:5]]}
            r = session.post(f"{server.url}/api/2.0/mlflow/runs/log-batch", json=body, timeout=60)
            out.append((r.status_code, r.text[:200]))
        return out

    with ThreadPoolExecutor(8) as pool:
        answers = [a for batch in pool.map(worker, range(8)) for a in batch]
    assert [a for a in answers if a[0] != 200] == []
    steps = sorted(seed * 100 + n for seed in range(8) for n in range(15))
    for key in ("k00", "k29"):
        assert sorted(p["step"] for p in history(server, run_id, key)) == [int(s) for s in steps]
    latest = as_dict(get_run(server, run_id)["data"]["metrics"])
    assert latest["k00"] == steps[-1]


def test_quoted_values_in_messages_escape_as_python_does(server):
    """Messages quote a bad value as MLflow's json.dumps does: \\u escapes in lower case."""
    run_id = create_run(server)
    r = server.post(URL, {"run_id": run_id, "tags": [{"key": "t\u00e9!\U0001F600", "value": "v"}]})
    body = assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert '"t\\u00e9!\\ud83d\\ude00"' in body["message"], body["message"]


def test_large_batches_sent_again_keep_each_point_once(server):
    """Batches of more than 100 points take PostgreSQL's COPY; one holding points
    already stored (a client repeating a batch whose answer it lost), or a point
    twice, falls back to the INSERTs that skip them, and keeps the batch's
    params and tags."""
    run_id = create_run(server)

    def points(steps):
        return [{"key": f"k{s % 7}", "value": s / 3, "timestamp": 1000 + s, "step": s} for s in steps]

    first = {"run_id": run_id, "metrics": points(range(990)),
             "params": [{"key": "p1", "value": "1"}], "tags": [{"key": "t1", "value": "a"}]}
    assert server.api("POST", "runs/log-batch", first) == {}
    assert server.api("POST", "runs/log-batch", first) == {}
    again = {"run_id": run_id, "metrics": points(range(500, 1490)) + points([1489, 1200]),
             "params": [{"key": "p2", "value": "2"}], "tags": [{"key": "t2", "value": "b"}]}
    assert server.api("POST", "runs/log-batch", again) == {}
    run = get_run(server, run_id)
    assert as_dict(run["data"]["params"]) == {"p1": "1", "p2": "2"}
    tags = as_dict(run["data"]["tags"])
    assert tags["t1"] == "a" and tags["t2"] == "b"
    for k in range(7):
        steps = [m["step"] for m in history(server, run_id, f"k{k}")]
        assert sorted(steps) == [s for s in range(1490) if s % 7 == k]
        assert all(m["value"] == m["step"] / 3 for m in history(server, run_id, f"k{k}"))
    latest = {m["key"]: m for m in run["data"]["metrics"]}
    assert latest["k5"] == {"key": "k5", "value": 1489 / 3, "timestamp": 2489, "step": 1489}
    with db(server) as conn:
        assert conn.execute("SELECT count(*) FROM metrics WHERE run_uuid=?", (run_id,)).fetchone()[0] == 1490


def test_full_batch_of_params_and_tags(server):
    """100 params and 100 tags (MLflow's per-batch limit for params) go in one statement
    each: stored params sent again with their values are fine, a changed one among many
    is told with the others in the order sent, and a tag sent twice keeps its last value."""
    run_id = create_run(server, "before")
    params = [{"key": f"p{i:03}", "value": str(i)} for i in range(100)]
    tags = [{"key": f"t{i:03}", "value": str(i)} for i in range(98)]
    tags += [{"key": "t005", "value": "last"}, {"key": "mlflow.runName", "value": "renamed"}]
    server.api("POST", "runs/log-batch", {"run_id": run_id, "params": params[:40], "tags": tags[:10]})
    assert server.api("POST", "runs/log-batch", {"run_id": run_id, "params": params, "tags": tags}) == {}
    run = get_run(server, run_id)
    assert as_dict(run["data"]["params"]) == {p["key"]: p["value"] for p in params}
    stored = as_dict(run["data"]["tags"])
    assert stored["t005"] == "last" and stored["t097"] == "97" and stored["mlflow.runName"] == "renamed"
    assert run["info"]["run_name"] == "renamed"
    changed = [dict(p, value="x") if p["key"] in ("p090", "p010") else p for p in params]
    changed.reverse()
    r = server.post(URL, {"run_id": run_id, "params": changed})
    err = assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed")
    assert err["message"].index("'p090'") < err["message"].index("'p010'"), err["message"]
    assert "'old_value': '90', 'new_value': 'x'" in err["message"]


def test_run_name_tags_in_a_batch_apply_in_the_order_sent(server):
    run_id = create_run(server, "start")
    server.api("POST", "runs/log-batch", {"run_id": run_id, "tags": [
        {"key": "mlflow.runName", "value": "named"}, {"key": "a", "value": "1"},
        {"key": "mlflow.runName", "value": ""}]})
    run = get_run(server, run_id)
    assert run["info"]["run_name"] == "named" and as_dict(run["data"]["tags"])["mlflow.runName"] == "named"
    server.api("POST", "runs/log-batch", {"run_id": run_id, "tags": [
        {"key": "mlflow.runName", "value": "one"}, {"key": "mlflow.runName", "value": "two"}]})
    run = get_run(server, run_id)
    assert run["info"]["run_name"] == "two" and as_dict(run["data"]["tags"])["mlflow.runName"] == "two"
