"""Metrics: runs/log-metric, the latest-value rule, NaN/Infinity storage, and
the history readers get-history (paging), get-history-bulk-interval (step
sampling) and the UI's get-history-bulk (rest-api.md §5.4, §5.14, §5.15;
schema.md §2; behaviours.md item 6)."""
import base64
import bisect
import json
import time
import uuid

import pytest

from conftest import assert_error, db_connect

DBL_MAX = 1.7976931348623157e308


def create_run(server, experiment_id="0"):
    return server.api("POST", "runs/create", {"experiment_id": experiment_id,
                                              "start_time": 1700000000000})["run"]["info"]["run_id"]


def log(server, run_id, key, value, timestamp=1000, step=0, **extra):
    body = {"run_id": run_id, "run_uuid": run_id, "key": key, "value": value,
            "timestamp": timestamp, "step": step}
    body.update(extra)
    return server.api("POST", "runs/log-metric", body)


def history(server, run_id, key, **params):
    q = {"run_id": run_id, "run_uuid": run_id, "metric_key": key}
    q.update(params)
    return server.api("GET", "metrics/get-history", params=q)


def latest(server, run_id):
    run = server.api("GET", "runs/get", params={"run_id": run_id, "run_uuid": run_id})["run"]
    return {m["key"]: m for m in run["data"].get("metrics", [])}


def db(server):
    """The server's database, SQLite or PostgreSQL."""
    return db_connect(server)


def test_log_metric_and_read_history(server):
    run_id = create_run(server)
    assert log(server, run_id, "loss", 0.5, 1000, 0) == {}
    log(server, run_id, "loss", 0.25, 2000, 1)
    log(server, run_id, "loss", 0.125, 3000, 2)
    got = history(server, run_id, "loss")
    assert got == {"metrics": [
        {"key": "loss", "value": 0.5, "timestamp": 1000, "step": 0},
        {"key": "loss", "value": 0.25, "timestamp": 2000, "step": 1},
        {"key": "loss", "value": 0.125, "timestamp": 3000, "step": 2},
    ]}
    assert latest(server, run_id)["loss"] == {"key": "loss", "value": 0.125, "timestamp": 3000, "step": 2}
    # run_uuid alone, int64 as strings, step defaulting to 0
    server.api("POST", "runs/log-metric", {"run_uuid": run_id, "key": "acc", "value": "0.75",
                                           "timestamp": "5000"})
    assert history(server, run_id, "acc")["metrics"] == [
        {"key": "acc", "value": 0.75, "timestamp": 5000, "step": 0}]


def test_nan_and_infinity(server):
    run_id = create_run(server)
    log(server, run_id, "nan", "NaN", 1, 0)
    log(server, run_id, "pinf", "Infinity", 1, 0)
    log(server, run_id, "ninf", "-Infinity", 1, 0)
    assert history(server, run_id, "nan")["metrics"][0]["value"] == "NaN"
    assert history(server, run_id, "pinf")["metrics"][0]["value"] == DBL_MAX
    assert history(server, run_id, "ninf")["metrics"][0]["value"] == -DBL_MAX
    m = latest(server, run_id)
    assert m["nan"]["value"] == "NaN" and m["pinf"]["value"] == DBL_MAX and m["ninf"]["value"] == -DBL_MAX
    with db(server) as conn:
        rows = dict((k, (v, n)) for k, v, n in conn.execute(
            "SELECT key, value, is_nan FROM metrics WHERE run_uuid=?", (run_id,)))
        latest_rows = dict((k, (v, n)) for k, v, n in conn.execute(
            "SELECT key, value, is_nan FROM latest_metrics WHERE run_uuid=?", (run_id,)))
    assert rows == latest_rows == {"nan": (0.0, 1), "pinf": (DBL_MAX, 0), "ninf": (-DBL_MAX, 0)}


def test_bare_nan_and_infinity_tokens_read_as_python_reads_them(server):
    """json.dumps(float('nan')) writes bare NaN / Infinity / -Infinity, and Python's json (MLflow's
    parser) reads them, and a real too large for a double as an infinity; inside strings they stay
    text. An integer beyond 64 bits in the same body is still read."""
    run_id = create_run(server)
    body = {"run_id": run_id, "metrics": [
        {"key": "nan", "value": float("nan"), "timestamp": 1, "step": 0},
        {"key": "pinf", "value": float("inf"), "timestamp": 1, "step": 0},
        {"key": "ninf", "value": float("-inf"), "timestamp": 1, "step": 0},
        {"key": "Infinity", "value": 1, "timestamp": 1, "step": 0},
        {"key": "big", "value": 2, "timestamp": 1, "step": 0}],
        "params": [{"key": "NaN", "value": "NaN -Infinity"}]}
    text = json.dumps(body)
    assert "NaN," in text and "-Infinity," in text
    text = text.replace('"value": 2,', '"value": 1e999,').replace('"value": 1,', '"value": 10000000000000000000000,')
    r = server.post("/api/2.0/mlflow/runs/log-batch", data=text,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    m = latest(server, run_id)
    assert {k: v["value"] for k, v in m.items()} == {
        "nan": "NaN", "pinf": DBL_MAX, "ninf": -DBL_MAX, "Infinity": 1e22, "big": DBL_MAX}
    params = server.api("GET", "runs/get", params={"run_id": run_id})["run"]["data"]["params"]
    assert params == [{"key": "NaN", "value": "NaN -Infinity"}]
    # -1e999 too, on a single metric; a token Python refuses stays refused
    r = server.post("/api/2.0/mlflow/runs/log-metric", headers={"Content-Type": "application/json"},
                    data='{"run_id": "%s", "key": "neg", "value": -1e999, "timestamp": 1}' % run_id)
    assert r.status_code == 200, r.text
    assert latest(server, run_id)["neg"]["value"] == -DBL_MAX
    # a real of 600 digits is an infinity to Python too
    r = server.post("/api/2.0/mlflow/runs/log-metric", headers={"Content-Type": "application/json"},
                    data='{"run_id": "%s", "key": "long", "value": %s.5, "timestamp": 1}'
                    % (run_id, "9" * 600))
    assert r.status_code == 200, r.text
    assert latest(server, run_id)["long"]["value"] == DBL_MAX
    # what Python's json refuses stays refused (the body is then read as {})
    for bad in ('"value": nan', '"value": 0x1p99999', '"value": 01e999', '"value": 1.e999',
                'NaN: 1, "value": 1'):
        r = server.post("/api/2.0/mlflow/runs/log-metric",
                        headers={"Content-Type": "application/json"},
                        data='{"run_id": "%s", "key": "k", %s, "timestamp": 1}' % (run_id, bad))
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", "run_id")


def test_negative_timestamp_message_quotes_the_value_as_python_does(server):
    """upstream _validate_metric writes f"(value={value})": Python's repr, in log-metric and
    log-batch alike; the timestamp is checked before the key's length, as there."""
    run_id = create_run(server)
    for value, shown in ((0.1, "0.1"), (1e16, "1e+16"), (1e-7, "1e-07"), ("NaN", "nan"),
                         ("-Infinity", "-inf"), (3, "3.0")):
        r = server.post("/api/2.0/mlflow/runs/log-metric",
                        json={"run_id": run_id, "key": "m", "value": value, "timestamp": -1})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", f"metric 'm' (value={shown}).")
        r = server.post("/api/2.0/mlflow/runs/log-batch", json={"run_id": run_id, "metrics": [
            {"key": "m", "value": value, "timestamp": -1}]})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", f"metric 'm' (value={shown}).")
    r = server.post("/api/2.0/mlflow/runs/log-metric",
                    json={"run_id": run_id, "key": "k" * 251, "value": 1, "timestamp": -1})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Timestamp must be a nonnegative")


def test_values_as_text_are_read_as_pythons_float_reads_them(server):
    """protobuf's JSON reader gives a string for a double field to Python's float(): blanks,
    signs, inf/nan in any case, '_' between digits and overflow to infinity are fine; hex,
    misplaced '_' and stray text are not (they used to follow C's strtod instead)."""
    import math
    run_id = create_run(server)
    texts = ["1.5", " 1.5 ", "+2", "-.5", "5.", "1e3", "1E-3", "1_000", "1_0.2_5", "inf", "-inf",
             "+Infinity", "INFINITY", "nan", "-NaN", "1e400", "-1e400", "1e-400",
             "0x10", "1__0", "_1", "1_", "1_.5", "1._5", "1e", "1e+", ".", "e5", "", " ",
             "1.5x", "nan(1)", "infinit", "1,5", "--1", "1e5.5"]
    for n, text in enumerate(texts):
        try:
            want = float(text)
        except ValueError:
            want = None
        key = f"t{n}"
        r = server.post("/api/2.0/mlflow/runs/log-metric",
                        json={"run_id": run_id, "key": key, "value": text, "timestamp": 1})
        if want is None:
            assert_error(r, 400, "INVALID_PARAMETER_VALUE", "value")
            continue
        assert r.status_code == 200, (text, r.text)
        got = history(server, run_id, key)["metrics"][0]["value"]
        if math.isnan(want):
            assert got == "NaN", text
        elif math.isinf(want):
            assert got == math.copysign(DBL_MAX, want), text
        else:
            assert got == want, text


def test_exact_duplicates_are_skipped(server):
    run_id = create_run(server)
    for _ in range(3):
        log(server, run_id, "dup", 1.5, 100, 4)
    log(server, run_id, "dup", 1.5, 100, 5)  # another step is another point
    log(server, run_id, "dup", "NaN", 100, 4)
    log(server, run_id, "dup", "NaN", 100, 4)
    values = [(m["value"], m["step"]) for m in history(server, run_id, "dup")["metrics"]]
    assert sorted(values, key=str) == sorted([(1.5, 4), (1.5, 5), ("NaN", 4)], key=str)


def test_latest_value_rule(server):
    """Highest step wins even with an older timestamp or a NaN value; then the
    latest timestamp; then the highest value (behaviours.md item 6)."""
    run_id = create_run(server)
    log(server, run_id, "m", 1.0, timestamp=5000, step=1)
    log(server, run_id, "m", 2.0, timestamp=1000, step=2)  # higher step, older timestamp
    assert latest(server, run_id)["m"] == {"key": "m", "value": 2.0, "timestamp": 1000, "step": 2}
    log(server, run_id, "m", 9.0, timestamp=9000, step=1)  # lower step loses
    assert latest(server, run_id)["m"]["value"] == 2.0
    log(server, run_id, "m", 0.5, timestamp=2000, step=2)  # same step, newer timestamp
    assert latest(server, run_id)["m"] == {"key": "m", "value": 0.5, "timestamp": 2000, "step": 2}
    log(server, run_id, "m", 0.7, timestamp=2000, step=2)  # same step and time, higher value
    assert latest(server, run_id)["m"]["value"] == 0.7
    log(server, run_id, "m", 0.6, timestamp=2000, step=2)  # lower value loses
    assert latest(server, run_id)["m"]["value"] == 0.7
    log(server, run_id, "m", "NaN", timestamp=1, step=3)  # NaN at a higher step wins
    assert latest(server, run_id)["m"] == {"key": "m", "value": "NaN", "timestamp": 1, "step": 3}
    log(server, run_id, "m", -1.0, timestamp=1, step=3)  # NaN compares as its stored 0
    assert latest(server, run_id)["m"]["value"] == "NaN"
    log(server, run_id, "m", 0.1, timestamp=1, step=3)
    assert latest(server, run_id)["m"]["value"] == 0.1


@pytest.mark.parametrize("body, status, code, part", [
    ({"key": "m", "value": 1.0}, 400, "INVALID_PARAMETER_VALUE", "timestamp"),
    ({"key": "m", "timestamp": 1}, 400, "INVALID_PARAMETER_VALUE", "value"),
    ({"value": 1.0, "timestamp": 1}, 400, "INVALID_PARAMETER_VALUE", "key"),
    ({"key": "m", "value": 1.0, "timestamp": -1}, 400, "INVALID_PARAMETER_VALUE", "Timestamp must be a nonnegative"),
    ({"key": "m", "value": "abc", "timestamp": 1}, 400, "INVALID_PARAMETER_VALUE", "value"),
    ({"key": "m", "value": True, "timestamp": 1}, 400, "INVALID_PARAMETER_VALUE", "value"),
    ({"key": "m", "value": 1.0, "timestamp": 1.5}, 400, "INVALID_PARAMETER_VALUE", "timestamp"),
    ({"key": "m", "value": 1.0, "timestamp": 1, "step": "x"}, 400, "INVALID_PARAMETER_VALUE", "step"),
    ({"key": "bad key!", "value": 1.0, "timestamp": 1}, 400, "INVALID_PARAMETER_VALUE", "'name'"),
    ({"key": "a//b", "value": 1.0, "timestamp": 1}, 400, "INVALID_PARAMETER_VALUE", "resolve to 'a/b'"),
    ({"key": "m" * 251, "value": 1.0, "timestamp": 1}, 400, "INVALID_PARAMETER_VALUE", "Metric name"),
])
def test_log_metric_validation(server, body, status, code, part):
    run_id = create_run(server)
    r = server.post("/api/2.0/mlflow/runs/log-metric", dict(body, run_id=run_id))
    assert_error(r, status, code, part)
    assert history(server, run_id, body.get("key") or "m") == {}


def test_log_metric_unknown_and_deleted_runs(server):
    r = server.post("/api/2.0/mlflow/runs/log-metric", {"run_id": "0" * 32, "key": "m", "value": 1, "timestamp": 1})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "0" * 32)
    r = server.post("/api/2.0/mlflow/runs/log-metric", {"key": "m", "value": 1, "timestamp": 1})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "run_id")
    run_id = create_run(server)
    server.api("POST", "runs/delete", {"run_id": run_id})
    r = server.post("/api/2.0/mlflow/runs/log-metric", {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state")


def insert_logged_model(server, experiment_id=0):
    model_id = "m-" + uuid.uuid4().hex
    now = int(time.time() * 1000)
    with db(server) as conn:
        conn.execute("INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, "
                     "creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage) "
                     "VALUES (?, ?, 'model', 'mlflow-artifacts:/x', ?, ?, 1, 'active')",
                     (model_id, experiment_id, now, now))
    return model_id


def test_log_metric_with_model_id(server):
    exp = server.api("POST", "experiments/create", {"name": f"mm-{uuid.uuid4().hex[:8]}"})["experiment_id"]
    run_id = create_run(server, exp)
    model_id = insert_logged_model(server)
    log(server, run_id, "auc", 0.9, 100, 2, model_id=model_id, dataset_name="eval", dataset_digest="abc")
    log(server, run_id, "auc", 0.9, 100, 2, model_id=model_id, dataset_name="eval", dataset_digest="abc")
    log(server, run_id, "auc", "Infinity", 200, 3, model_id=model_id)
    with db(server) as conn:
        rows = conn.execute("SELECT metric_name, metric_timestamp_ms, metric_step, metric_value, experiment_id, "
                            "run_id, dataset_uuid, dataset_name, dataset_digest FROM logged_model_metrics "
                            "WHERE model_id=? ORDER BY metric_step", (model_id,)).fetchall()
    assert rows == [("auc", 100, 2, 0.9, int(exp), run_id, None, "eval", "abc"),
                    ("auc", 200, 3, DBL_MAX, int(exp), run_id, None, None, None)]
    # the run metric is logged as usual, without the model fields
    assert [m["value"] for m in history(server, run_id, "auc")["metrics"]] == [0.9, DBL_MAX]
    r = server.post("/api/2.0/mlflow/runs/log-metric", {"run_id": run_id, "key": "auc", "value": 1,
                                                        "timestamp": 1, "model_id": "m-missing"})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "m-missing")


def test_a_batch_naming_one_model_point_twice_keeps_the_first_sent(server):
    """Two entries of one batch with the same model, key, timestamp and step share the row's
    key: the first sent is stored, on both engines, whatever the values (PostgreSQL once kept
    the smaller, from the order it writes rows in)."""
    exp = server.api("POST", "experiments/create", {"name": f"mm-{uuid.uuid4().hex[:8]}"})["experiment_id"]
    run_id = create_run(server, exp)
    for first, second in ((100.0, 0.0), (0.0, 100.0)):
        model_id = insert_logged_model(server, int(exp))
        server.api("POST", "runs/log-batch", {"run_id": run_id, "metrics": [
            {"key": "loss", "value": first, "timestamp": 30, "step": 1, "model_id": model_id,
             "dataset_name": "train", "dataset_digest": "d1"},
            {"key": "loss", "value": second, "timestamp": 30, "step": 1, "model_id": model_id,
             "dataset_name": "eval", "dataset_digest": "d2"}]})
        with db(server) as conn:
            rows = conn.execute("SELECT metric_value, dataset_name FROM logged_model_metrics "
                                "WHERE model_id=?", (model_id,)).fetchall()
        assert rows == [(first, "train")]


def test_a_large_batch_of_model_points_sent_twice_keeps_each_once(server):
    """More model points than one INSERT takes (PostgreSQL's COPY), one key twice in the
    batch and the whole batch sent again: each key stored once, the first sent kept."""
    exp = server.api("POST", "experiments/create", {"name": f"mm-{uuid.uuid4().hex[:8]}"})["experiment_id"]
    run_id = create_run(server, exp)
    for repeated in (False, True):  # all new (COPY takes them), then one key twice in the batch
        model_id = insert_logged_model(server, int(exp))
        points = [{"key": "loss", "value": float(s), "timestamp": 30, "step": s, "model_id": model_id,
                   "dataset_name": "train", "dataset_digest": "d1"} for s in range(150)]
        if repeated:
            points.append(dict(points[70], value=-1.0, dataset_name="eval"))
        for _ in range(2):
            server.api("POST", "runs/log-batch", {"run_id": run_id, "metrics": points})
        with db(server) as conn:
            rows = conn.execute("SELECT metric_step, metric_value, dataset_name FROM logged_model_metrics "
                                "WHERE model_id=? ORDER BY metric_step", (model_id,)).fetchall()
        assert rows == [(s, float(s), "train") for s in range(150)]


# --- get-history ----------------------------------------------------------------------------


def test_history_order_and_paging(server):
    run_id = create_run(server)
    points = [(t, s, v) for t, s, v in [(3, 0, 1.0), (1, 5, 2.0), (2, 1, 3.0), (2, 0, 4.0), (2, 0, -1.0),
                                         (5, 2, 0.5), (4, 9, 0.1)]]
    server.api("POST", "runs/log-batch", {"run_id": run_id, "metrics": [
        {"key": "h", "value": v, "timestamp": t, "step": s} for t, s, v in points]})
    expected = [{"key": "h", "value": v, "timestamp": t, "step": s} for t, s, v in sorted(points)]
    assert history(server, run_id, "h") == {"metrics": expected}
    assert history(server, run_id, "h", max_results=0) == {"metrics": expected}
    # pages of 3 with tokens, as the client follows them
    pages, token = [], None
    while True:
        params = {"max_results": 3}
        if token:
            params["page_token"] = token
        page = history(server, run_id, "h", **params)
        pages.append(page["metrics"])
        token = page.get("next_page_token")
        if not token:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sum(pages, []) == expected
    # exactly a page full: no token when nothing follows
    page = history(server, run_id, "h", max_results=7)
    assert page == {"metrics": expected}
    r = server.get("/api/2.0/mlflow/metrics/get-history",
                   params={"run_id": run_id, "metric_key": "h", "page_token": "not a token"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "page token")
    r = server.get("/api/2.0/mlflow/metrics/get-history",
                   params={"run_id": run_id, "metric_key": "h", "page_token": "eyJvZmZzZXQiOiAtNX0="})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "page token")
    r = server.get("/api/2.0/mlflow/metrics/get-history",
                   params={"run_id": run_id, "metric_key": "h", "max_results": -1})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "max_results")
    r = server.get("/api/2.0/mlflow/metrics/get-history", params={"run_id": run_id})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "metric_key")


def test_history_of_unknown_run_or_key_is_empty(server):
    assert history(server, "9" * 32, "x") == {}
    run_id = create_run(server)
    assert history(server, run_id, "never-logged") == {}


def test_big_history_streams(server):
    run_id = create_run(server)
    for chunk in range(5):
        server.api("POST", "runs/log-batch", {"run_id": run_id, "metrics": [
            {"key": "big", "value": i * 0.001, "timestamp": 1000 + i, "step": i}
            for i in range(chunk * 1000, (chunk + 1) * 1000)]})
    got = history(server, run_id, "big", max_results=25000)["metrics"]
    assert len(got) == 5000
    assert got[1234] == {"key": "big", "value": 1.234, "timestamp": 2234, "step": 1234}


# --- get-history-bulk-interval --------------------------------------------------------------


def sampled_steps(histories, max_results, start=None, end=None):
    """Upstream's get_metric_history_bulk_interval_impl step selection."""
    all_runs = [[s for s, _ in h] for h in histories]
    mins_maxes = {x for run in all_runs if run for x in (min(run), max(run))}
    all_steps = sorted({s for run in all_runs for s in run})
    if start is None and end is None:
        start, end = 0, (all_steps[-1] if all_steps else 0)
    mins_maxes = {s for s in mins_maxes if start <= s <= end}
    lo, hi = bisect.bisect_left(all_steps, start), bisect.bisect_right(all_steps, end)
    if hi - lo <= max_results:
        chosen = set(all_steps[lo:hi])
    else:
        n = hi - lo
        interval = n / max_results
        chosen = set()
        for i in range(max_results):
            idx = lo + int(i * interval)
            if idx < n:
                chosen.add(all_steps[idx])
        chosen.add(all_steps[hi - 1])
    return sorted(chosen | mins_maxes)


def interval(server, run_ids, key, **params):
    q = {"run_ids": run_ids, "metric_key": key}
    q.update(params)
    return server.api("GET", "metrics/get-history-bulk-interval", params=q)


def test_bulk_interval_sampling(server):
    run_a, run_b = create_run(server), create_run(server)
    steps_a = list(range(0, 300, 3))
    steps_b = list(range(7, 200, 2)) + [-5]
    server.api("POST", "runs/log-batch", {"run_id": run_a, "metrics": [
        {"key": "s", "value": s / 10, "timestamp": 10 * s, "step": s} for s in steps_a]})
    server.api("POST", "runs/log-batch", {"run_id": run_b, "metrics": [
        {"key": "s", "value": s / 10, "timestamp": 10 * s + 100, "step": s} for s in steps_b]})
    server.api("POST", "runs/log-metric", {"run_id": run_b, "key": "s", "value": 9.5, "timestamp": 5, "step": 9})
    hist = {r: [(m["step"], m) for m in server.api("GET", "metrics/get-history",
                                                   params={"run_id": r, "metric_key": "s"})["metrics"]]
            for r in (run_a, run_b)}
    for params, (start, end) in [({"max_results": 17}, (None, None)),
                                 ({"max_results": 10, "start_step": 50, "end_step": 120}, (50, 120)),
                                 ({}, (None, None)),
                                 ({"max_results": 1, "start_step": -10, "end_step": 500}, (-10, 500))]:
        got = interval(server, [run_b, run_a], "s", **params)["metrics"]
        steps = sampled_steps([hist[run_b], hist[run_a]], params.get("max_results", 2500), start, end)
        expected = []
        for r in (run_b, run_a):  # request order, then (step, timestamp)
            rows = sorted((m for s, m in hist[r] if s in steps), key=lambda m: (m["step"], m["timestamp"]))
            expected += [dict(m, run_id=r) for m in rows]
        assert got == expected, params


def test_bulk_interval_validation(server):
    run_id = create_run(server)
    url = "/api/2.0/mlflow/metrics/get-history-bulk-interval"
    r = server.get(url, params={"metric_key": "s"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "run_ids")
    r = server.get(url, params={"run_ids": [run_id] * 101, "metric_key": "s"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "at most 100 run_ids")
    r = server.get(url, params={"run_ids": run_id})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "metric_key")
    r = server.get(url, params={"run_ids": run_id, "metric_key": "s", "start_step": 1})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "both must be specified")
    r = server.get(url, params={"run_ids": run_id, "metric_key": "s", "start_step": 5, "end_step": 1})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "end_step must be greater than start_step")
    for start, end in ((0, 2**31), (-2**31 - 1, 0)):  # int32 fields
        r = server.get(url, params={"run_ids": run_id, "metric_key": "s", "start_step": start,
                                    "end_step": end})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", "out of range for int32")
    r = server.get(url, params={"run_ids": run_id, "metric_key": "s", "start_step": -2**31,
                                "end_step": 2**31 - 1})
    assert r.status_code == 200, r.text
    for bad in (0, 2501):
        r = server.get(url, params={"run_ids": run_id, "metric_key": "s", "max_results": bad})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", "max_results must be between 1 and 2500")
    assert interval(server, [run_id], "nothing") == {}


# --- get-history-bulk (UI) ------------------------------------------------------------------


def test_history_bulk_for_the_ui(server):
    runs = sorted([create_run(server) for _ in range(3)])
    for i, r in enumerate(runs):
        server.api("POST", "runs/log-batch", {"run_id": r, "metrics": [
            {"key": "b", "value": float(i * 10 + s), "timestamp": 100 - s, "step": s} for s in range(3)]})
    url = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"
    r = server.get(url, params={"run_id": [runs[2], runs[0], runs[1]], "metric_key": "b"})
    assert r.status_code == 200, r.text
    got = r.json()["metrics"]
    expected = []
    for i, run in enumerate(runs):  # by run id, then (timestamp, step, value)
        expected += [{"key": "b", "value": float(i * 10 + s), "timestamp": 100 - s, "step": s, "run_id": run}
                     for s in (2, 1, 0)]
    assert got == expected
    r = server.get(url, params={"run_id": runs, "metric_key": "b", "max_results": 4})
    assert r.json()["metrics"] == expected[:4]
    assert_error(server.get(url, params={"metric_key": "b"}), 400, "INVALID_PARAMETER_VALUE", "at least one run_id")
    assert_error(server.get(url, params={"run_id": runs}), 400, "INVALID_PARAMETER_VALUE", "metric_key")
    assert_error(server.get(url, params={"run_id": runs * 34, "metric_key": "b"}), 400,
                 "INVALID_PARAMETER_VALUE", "more than 100")
    # UI only: not under /api/
    r = server.get("/api/2.0/mlflow/metrics/get-history-bulk", params={"run_id": runs[0], "metric_key": "b"})
    assert r.status_code == 404


def test_history_is_the_same_whichever_reading_plan_serves_it(server):
    """The store walks the metrics primary key while the asked-for run owns most
    of a key's rows, and reads that run's rows by run index (sorting in C) once
    other runs' rows dominate the key: both plans must give the same pages and
    samples."""
    key = "plan_probe_" + uuid.uuid4().hex[:8]
    exp = server.api("POST", "experiments/create", {"name": "plans-" + uuid.uuid4().hex})
    run_a = server.api("POST", "runs/create", {"experiment_id": exp["experiment_id"]})
    rid = run_a["run"]["info"]["run_id"]
    # out of order, ties on timestamp and step, a NaN, repeated steps
    metrics = [{"key": key, "value": v, "timestamp": ts, "step": st}
               for ts, st, v in [(5, 2, 1.0), (1, 9, 3.0), (5, 1, 2.0), (5, 1, 1.5), (3, 4, "NaN"),
                                 (9, 0, -1.0), (2, 4, 7.0), (2, 4, 6.0)]]
    server.api("POST", "runs/log-batch", {"run_id": rid, "metrics": metrics})

    def history(page_size):
        return pages_of(server, rid, key, page_size)[0]

    def sampled():
        return server.api("GET", "metrics/get-history-bulk-interval",
                          params={"run_ids": [rid], "metric_key": key, "max_results": 3})

    alone = (history(3), history(100), sampled())
    flat = [(m["timestamp"], m["step"]) for p in alone[1] for m in p]
    assert flat == sorted(flat) and len(flat) == 8
    other = server.api("POST", "runs/create", {"experiment_id": exp["experiment_id"]})
    server.api("POST", "runs/log-batch", {"run_id": other["run"]["info"]["run_id"], "metrics": [
        {"key": key, "value": 0.5, "timestamp": 4 + i % 3, "step": i} for i in range(100)]})
    shared = (history(3), history(100), sampled())
    assert shared == alone
    assert [len(p) for p in shared[0]] == [3, 3, 2]


def pages_of(server, run_id, key, page_size, token=None):
    """Every page as the client follows next_page_token, and the tokens it was given."""
    pages, tokens = [], []
    while True:
        q = {"run_id": run_id, "run_uuid": run_id, "metric_key": key, "max_results": page_size}
        if token:
            q["page_token"] = token
        got = server.api("GET", "metrics/get-history", params=q)
        pages.append(got.get("metrics", []))
        token = got.get("next_page_token")
        if not token:
            return pages, tokens
        tokens.append(token)
        assert len(pages) <= 1000, "paging does not end"


def tied_points(run_index=0):
    """(timestamp, step, value) with long ties on (timestamp, step), a NaN and a 0.0 at the
    same (timestamp, step) (NaN is stored as 0 with is_nan: the 0.0 sorts first), and
    values that are not short decimals."""
    points = [(7, 1, v / 3) for v in range(-20, 20) if v]
    points += [(7, 1, 0.0), (7, 1, "NaN"), (7, 2, "NaN"), (7, 2, 0.0), (3, 9, 1e-300), (3, 9, -1e300)]
    points += [(t, t % 4, 0.1 * t + run_index) for t in range(1, 40)]
    return points


def expected_history(key, points):
    def order(p):
        t, s, v = p
        return (t, s, 0.0 if v == "NaN" else v, v == "NaN")
    return [{"key": key, "value": v, "timestamp": t, "step": s} for t, s, v in sorted(points, key=order)]


def log_points(server, run_id, key, points):
    for i in range(0, len(points), 1000):
        server.api("POST", "runs/log-batch", {"run_id": run_id, "metrics": [
            {"key": key, "value": v, "timestamp": t, "step": s} for t, s, v in points[i:i + 1000]]})


def test_a_history_token_handed_to_another_history_is_its_offset(server):
    """Tokens are not bound to a query (search-grammar.md §6): one from run A's history,
    given for run B's (or another key), pages B by its offset, as MLflow's does. Our seek
    position is only used for the history it was made for (it gave B an empty page)."""
    key = "handoff_" + uuid.uuid4().hex[:8]
    a, b = create_run(server), create_run(server)
    log_points(server, a, key, [(t + 1000, st, v) for t, st, v in tied_points(0)])
    points_b = tied_points(1)  # all before A's points in the history order
    log_points(server, b, key, points_b)
    log_points(server, b, key + "x", points_b)
    token = server.api("GET", "metrics/get-history", params={
        "run_id": a, "metric_key": key, "max_results": 10})["next_page_token"]
    for run, k in ((b, key), (b, key + "x")):
        got = server.api("GET", "metrics/get-history", params={
            "run_id": run, "metric_key": k, "max_results": 10, "page_token": token})
        assert got["metrics"] == expected_history(k, points_b)[10:20], (run, k)


def test_history_pages_through_ties_without_losing_or_repeating_points(server):
    """Pages continue from the last row's (timestamp, step, value, is_nan), the full order of a
    run's history: a page boundary inside a run of equal (timestamp, step) loses and repeats
    nothing, whatever the page size and whichever reading plan serves the page."""
    key = "ties_" + uuid.uuid4().hex[:8]
    run_id = create_run(server)
    points = tied_points()
    log_points(server, run_id, key, points)
    expected = expected_history(key, points)
    assert history(server, run_id, key)["metrics"] == expected
    for size in (1, 2, 3, 7, 40, len(expected) - 1, len(expected)):
        pages, _ = pages_of(server, run_id, key, size)
        assert sum(pages, []) == expected, size
        assert all(len(p) == size for p in pages[:-1]), size
    # other runs' rows of the same key, interleaved and far more numerous: the reader leaves
    # the key walk for the run's index part-way through a page; pages must not change
    for i in range(6):
        other = create_run(server)
        log_points(server, other, key, tied_points(i + 1) + [(t, 5, 0.5) for t in range(1, 60)])
    for size in (1, 3, 7, len(expected)):
        pages, _ = pages_of(server, run_id, key, size)
        assert sum(pages, []) == expected, size


def test_history_tokens_keep_the_offset_and_accept_offset_only_tokens(server):
    """Our tokens are MLflow's {"offset": N} plus the seek position, so a client may hand
    either kind back: an offset-only token (made by MLflow, or by hand) pages by offset and
    gives the same page; a malformed position is a 400."""
    key = "tok_" + uuid.uuid4().hex[:8]
    run_id = create_run(server)
    points = tied_points()
    log_points(server, run_id, key, points)
    expected = expected_history(key, points)
    pages, tokens = pages_of(server, run_id, key, 10)
    assert sum(pages, []) == expected
    for n, token in enumerate(tokens, 1):
        body = json.loads(base64.b64decode(token))
        assert list(body)[0] == "offset" and body["offset"] == 10 * n
        assert token.startswith(base64.b64encode(b'{"offset": ').decode()[:12])
        offset_only = base64.b64encode(json.dumps({"offset": 10 * n}).encode()).decode()
        assert pages_of(server, run_id, key, 10, offset_only)[0] == pages[n:]
    url = "/api/2.0/mlflow/metrics/get-history"
    for after in ([1, 2, 3], [1, 2, "x", False], "x", [1.5, 2, 3.0, False], [1, 2, 3.0, 0]):
        token = base64.b64encode(json.dumps({"offset": 10, "after": after}).encode()).decode()
        r = server.get(url, params={"run_id": run_id, "metric_key": key, "max_results": 10,
                                    "page_token": token})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", "page token")
    token = base64.b64encode(json.dumps({"offset": 0, "after": [7, 1, 0.0, False]}).encode()).decode()
    r = server.get(url, params={"run_id": run_id, "metric_key": key, "page_token": token})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "page token")  # offset 0 is not a token
    # an offset whose next page's offset would not fit in 64 bits (it used to wrap around)
    big = {"offset": 2**63 - 1, "after": [-1, 0, 0.0, False]}
    token = base64.b64encode(json.dumps(big).encode()).decode()
    r = server.get(url, params={"run_id": run_id, "metric_key": key, "max_results": 3,
                                "page_token": token})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "too large")
