"""MLflow 3 logged models (rest-api.md §6, LoggedModel of §2, search-grammar.md §7):
create/get/finalize/delete, tags, params, search with filters, datasets, structured
order_by and query-bound page tokens, and the call sequence of `mlflow.<flavor>.log_model`.
Requests are shaped as the mlflow 3.6 client sends them (JSON bodies on POST, PATCH and
DELETE; model id in the path and, for finalize/params, repeated in the body)."""
import base64
import json
import re
import sqlite3
import time
import uuid

import pytest

from conftest import assert_error

MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")
RANDOM_NAME = re.compile(r"^[a-z]+-[a-z]+-?\d{0,4}$")
BASE = "/api/2.0/mlflow/logged-models"


# --- helpers -------------------------------------------------------------------------------

def db(server):
    conn = sqlite3.connect(f"{server.workdir}/mlflow.db", timeout=30)
    conn.execute("pragma busy_timeout=30000")
    return conn


def make_experiment(server, name=None, deleted=False):
    """A new experiment (experiments/create when it exists, else a direct insert)."""
    name = name or f"exp-{uuid.uuid4().hex[:12]}"
    r = server.post("/api/2.0/mlflow/experiments/create", json={"name": name})
    if r.status_code == 200:
        exp_id = r.json()["experiment_id"]
    else:
        with db(server) as conn:
            cur = conn.execute(
                "insert into experiments (name, lifecycle_stage, creation_time, last_update_time)"
                " values (?, 'active', ?, ?)", (name, int(time.time() * 1000),
                                                int(time.time() * 1000)))
            exp_id = str(cur.lastrowid)
            conn.execute("update experiments set artifact_location = ? where experiment_id = ?",
                         (f"mlflow-artifacts:/{exp_id}", int(exp_id)))
    if deleted:
        with db(server) as conn:
            conn.execute("update experiments set lifecycle_stage = 'deleted' "
                         "where experiment_id = ?", (int(exp_id),))
    return exp_id


def experiment_location(server, exp_id):
    with db(server) as conn:
        return conn.execute("select artifact_location from experiments where experiment_id = ?",
                            (int(exp_id),)).fetchone()[0]


def make_run(server, exp_id):
    """A run row (runs/create when it exists, else a direct insert)."""
    r = server.post("/api/2.0/mlflow/runs/create",
                    json={"experiment_id": exp_id, "start_time": int(time.time() * 1000)})
    if r.status_code == 200:
        return r.json()["run"]["info"]["run_id"]
    run_id = uuid.uuid4().hex
    with db(server) as conn:
        conn.execute(
            "insert into runs (run_uuid, name, source_type, source_name, entry_point_name, user_id,"
            " status, start_time, source_version, lifecycle_stage, artifact_uri, experiment_id)"
            " values (?, 'r', 'UNKNOWN', '', '', 'u', 'RUNNING', ?, '', 'active', ?, ?)",
            (run_id, int(time.time() * 1000), f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts",
             int(exp_id)))
    return run_id


def add_metric(server, model_id, exp_id, run_id, name, value, ts=1000, step=0,
               dataset_name=None, dataset_digest=None):
    with db(server) as conn:
        conn.execute(
            "insert into logged_model_metrics (model_id, metric_name, metric_timestamp_ms,"
            " metric_step, metric_value, experiment_id, run_id, dataset_uuid, dataset_name,"
            " dataset_digest) values (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
            (model_id, name, ts, step, value, int(exp_id), run_id, dataset_name, dataset_digest))


def create(server, exp_id, expect=200, **fields):
    body = {"experiment_id": exp_id, **fields}
    return server.api("POST", "logged-models", body, expect=expect)


def get(server, model_id):
    return server.api("GET", f"logged-models/{model_id}")["model"]


def kv(d):
    return [{"key": k, "value": v} for k, v in d.items()]


# --- create --------------------------------------------------------------------------------

def test_create_returns_pending_model_with_every_info_field(server):
    exp_id = make_experiment(server)
    before = int(time.time() * 1000)
    model = create(server, exp_id, name="my-model")["model"]
    after = int(time.time() * 1000)
    info = model["info"]
    assert MODEL_ID.match(info["model_id"])
    assert info["experiment_id"] == exp_id
    assert info["name"] == "my-model"
    assert info["artifact_uri"] == (f"{experiment_location(server, exp_id)}/models/"
                                    f"{info['model_id']}/artifacts")
    assert info["status"] == "LOGGED_MODEL_PENDING"
    assert before <= info["creation_timestamp_ms"] <= after
    assert info["last_updated_timestamp_ms"] == info["creation_timestamp_ms"]
    assert isinstance(info["creation_timestamp_ms"], int)  # int64 as JSON numbers
    for absent in ("model_type", "source_run_id", "tags", "status_message", "creator_id"):
        assert absent not in info
    assert model["data"] == {}
    # Stored as schema.md says.
    with db(server) as conn:
        row = conn.execute("select experiment_id, status, lifecycle_stage, model_type,"
                           " source_run_id from logged_models where model_id = ?",
                           (info["model_id"],)).fetchone()
    assert row == (int(exp_id), 1, "active", None, None)
    assert get(server, info["model_id"]) == model


def test_create_with_type_run_params_and_tags(server):
    exp_id = make_experiment(server)
    run_id = make_run(server, exp_id)
    model = create(server, exp_id, name="clf", model_type="sklearn", source_run_id=run_id,
                   params=kv({"lr": "0.1", "alpha": "2", "empty": ""}),
                   tags=kv({"team": "ml", "mlflow.user": "me", "team2": "x"}))["model"]
    info = model["info"]
    assert info["model_type"] == "sklearn"
    assert info["source_run_id"] == run_id
    assert info["tags"] == kv({"mlflow.user": "me", "team": "ml", "team2": "x"})
    assert model["data"] == {"params": kv({"alpha": "2", "empty": "", "lr": "0.1"})}
    assert get(server, info["model_id"]) == model


def test_create_duplicate_keys_in_one_request(server):
    exp_id = make_experiment(server)
    # Same param twice with the same value is fine; the last tag wins.
    model = create(server, exp_id, name="dup",
                   params=[{"key": "p", "value": "1"}, {"key": "p", "value": "1"}],
                   tags=[{"key": "t", "value": "a"}, {"key": "t", "value": "b"}])["model"]
    assert model["data"]["params"] == [{"key": "p", "value": "1"}]
    assert model["info"]["tags"] == [{"key": "t", "value": "b"}]
    # Same param with two values: 400, and no model is left behind.
    with db(server) as conn:
        count = conn.execute("select count(*) from logged_models").fetchone()[0]
    r = server.post(BASE, json={"experiment_id": exp_id, "name": "dup2",
                                "params": [{"key": "p", "value": "1"},
                                           {"key": "p", "value": "2"}]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed")
    with db(server) as conn:
        assert conn.execute("select count(*) from logged_models").fetchone()[0] == count


def test_create_generates_a_name_when_absent_or_empty(server):
    exp_id = make_experiment(server)
    for body in ({}, {"name": ""}):
        name = create(server, exp_id, **body)["model"]["info"]["name"]
        assert RANDOM_NAME.match(name) and len(name) <= 20, name


@pytest.mark.parametrize("bad", ["a/b", "a:b", "a.b", "50%", 'say"hi', "it's"])
def test_create_rejects_names_with_reserved_characters(server, bad):
    r = server.post(BASE, json={"experiment_id": "0", "name": bad})
    body = assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid model name (")
    assert "Model name must be a non-empty string and cannot contain" in body["message"]
    assert bad in body["message"]


def test_create_experiment_must_exist_and_be_active(server):
    assert_error(server.post(BASE, json={}), 400, "INVALID_PARAMETER_VALUE",
                 "Missing value for required parameter 'experiment_id'")
    assert_error(server.post(BASE, json={"experiment_id": ""}), 400, "INVALID_PARAMETER_VALUE",
                 "Missing value for required parameter 'experiment_id'")
    assert_error(server.post(BASE, json={"experiment_id": "987654"}), 404,
                 "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=987654 exists")
    assert_error(server.post(BASE, json={"experiment_id": "abc"}), 404,
                 "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=abc exists")
    gone = make_experiment(server, deleted=True)
    assert_error(server.post(BASE, json={"experiment_id": gone, "name": "x"}), 400,
                 "INVALID_PARAMETER_VALUE",
                 f"The experiment {gone} must be in the 'active' state. Current state is deleted.")


def test_create_type_errors_and_limits(server):
    r = server.post(BASE, json={"experiment_id": "0", "name": 5})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "'name'")
    r = server.post(BASE, json={"experiment_id": "0", "params": {"k": "v"}})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "'params'")
    r = server.post(BASE, json={"experiment_id": "0", "tags": [{"value": "v"}]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "'tags[0].key'")
    r = server.post(BASE, json={"experiment_id": "0", "name": "n" * 501})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "exceeded length limit of 500")
    r = server.post(BASE, json={"experiment_id": "0", "params": [{"key": "k" * 256,
                                                                  "value": "v"}]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "exceeded length limit of 255")
    # experiment_id given as a JSON number is read as its decimal string
    model = server.api("POST", "logged-models", {"experiment_id": 0, "name": "num"})["model"]
    assert model["info"]["experiment_id"] == "0"
    # Content-Type is mandatory on POST
    r = server.session.post(server.url + BASE, data=json.dumps({"experiment_id": "0"}))
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Content-Type")


# --- get -----------------------------------------------------------------------------------

def test_get_unknown_model_is_404(server):
    assert_error(server.get(f"{BASE}/m-{'0' * 32}"), 404, "RESOURCE_DOES_NOT_EXIST",
                 f"Logged model with ID 'm-{'0' * 32}' not found.")


def test_routes_also_under_ajax_api(server):
    model = create(server, "0", name="ajax")["model"]
    r = server.get(f"/ajax-api/2.0/mlflow/logged-models/{model['info']['model_id']}")
    assert r.status_code == 200 and r.json()["model"] == model
    r = server.post("/ajax-api/2.0/mlflow/logged-models", json={"experiment_id": "0"})
    assert r.status_code == 200 and MODEL_ID.match(r.json()["model"]["info"]["model_id"])


def test_get_returns_metrics_of_logged_model_metrics(server):
    exp_id = make_experiment(server)
    run_id = make_run(server, exp_id)
    model_id = create(server, exp_id, name="with-metrics")["model"]["info"]["model_id"]
    add_metric(server, model_id, exp_id, run_id, "acc", 0.9, ts=10, step=1,
               dataset_name="train", dataset_digest="abc123")
    add_metric(server, model_id, exp_id, run_id, "acc", 0.95, ts=20, step=2)
    add_metric(server, model_id, exp_id, run_id, "loss", 1.5e308, ts=5, step=0)
    metrics = get(server, model_id)["data"]["metrics"]
    assert metrics == [
        {"key": "acc", "value": 0.9, "timestamp": 10, "step": 1, "dataset_name": "train",
         "dataset_digest": "abc123", "model_id": model_id, "run_id": run_id},
        {"key": "acc", "value": 0.95, "timestamp": 20, "step": 2, "model_id": model_id,
         "run_id": run_id},
        {"key": "loss", "value": 1.5e308, "timestamp": 5, "step": 0, "model_id": model_id,
         "run_id": run_id},
    ]


# --- finalize ------------------------------------------------------------------------------

def test_finalize_sets_status_by_name_or_number(server):
    model = create(server, "0", name="fin")["model"]
    model_id = model["info"]["model_id"]
    time.sleep(0.005)
    r = server.patch(f"{BASE}/{model_id}",
                     json={"model_id": model_id, "status": "LOGGED_MODEL_READY"})
    assert r.status_code == 200, r.text
    info = r.json()["model"]["info"]
    assert info["status"] == "LOGGED_MODEL_READY"
    assert info["last_updated_timestamp_ms"] > info["creation_timestamp_ms"]
    assert get(server, model_id)["info"] == info
    r = server.patch(f"{BASE}/{model_id}", json={"model_id": model_id, "status": 3})
    assert r.json()["model"]["info"]["status"] == "LOGGED_MODEL_UPLOAD_FAILED"
    with db(server) as conn:
        assert conn.execute("select status from logged_models where model_id = ?",
                            (model_id,)).fetchone() == (3,)


def test_finalize_errors(server):
    model_id = create(server, "0", name="fin-err")["model"]["info"]["model_id"]
    url = f"{BASE}/{model_id}"
    assert_error(server.patch(url, json={"status": "LOGGED_MODEL_READY"}), 400,
                 "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'model_id'")
    assert_error(server.patch(url, json={"model_id": model_id}), 400, "INVALID_PARAMETER_VALUE",
                 "Missing value for required parameter 'status'")
    assert_error(server.patch(url, json={"model_id": model_id, "status": "READY"}), 400,
                 "INVALID_PARAMETER_VALUE", "'status'")
    missing = f"m-{'1' * 32}"
    assert_error(server.patch(f"{BASE}/{missing}",
                              json={"model_id": missing, "status": "LOGGED_MODEL_READY"}),
                 404, "RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{missing}' not found.")
    assert get(server, model_id)["info"]["status"] == "LOGGED_MODEL_PENDING"


def test_finalize_needs_the_body_model_id_to_be_the_paths(server):
    """§6.3: the body's model_id is the path's. Upstream acts on the body's, while its
    permission check reads the path's; a different one is refused here, and nothing changes."""
    a = create(server, "0", name="body-a")["model"]["info"]["model_id"]
    b = create(server, "0", name="body-b")["model"]["info"]["model_id"]
    r = server.patch(f"{BASE}/{a}", json={"model_id": b, "status": "LOGGED_MODEL_READY"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE",
                 f"The model_id in the request body ('{b}') is not the one in the path ('{a}')")
    assert get(server, a)["info"]["status"] == "LOGGED_MODEL_PENDING"
    assert get(server, b)["info"]["status"] == "LOGGED_MODEL_PENDING"


# --- delete --------------------------------------------------------------------------------

def test_delete_is_soft_and_hides_the_model(server):
    exp_id = make_experiment(server)
    model = create(server, exp_id, name="doomed", tags=kv({"t": "v"}))["model"]
    model_id = model["info"]["model_id"]
    r = server.delete(f"{BASE}/{model_id}", json={"model_id": model_id})
    assert r.status_code == 200 and r.json() == {}
    assert_error(server.get(f"{BASE}/{model_id}"), 404, "RESOURCE_DOES_NOT_EXIST",
                 f"Logged model with ID '{model_id}' not found.")
    with db(server) as conn:
        stage, updated = conn.execute("select lifecycle_stage, last_updated_timestamp_ms from "
                                      "logged_models where model_id = ?", (model_id,)).fetchone()
        assert conn.execute("select count(*) from logged_model_tags where model_id = ?",
                            (model_id,)).fetchone() == (1,)
    assert stage == "deleted" and updated >= model["info"]["creation_timestamp_ms"]
    # Writes still reach the row (upstream looks it up without the lifecycle filter).
    r = server.patch(f"{BASE}/{model_id}", json={"model_id": model_id,
                                                 "status": "LOGGED_MODEL_READY"})
    assert r.status_code == 200 and r.json()["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    r = server.get(f"{BASE}/{model_id}", params={"allow_deleted": "true"})
    assert r.status_code == 200 and r.json()["model"]["info"]["model_id"] == model_id
    # Deleting again is fine; an unknown id is 404; no body is fine too.
    assert server.delete(f"{BASE}/{model_id}").status_code == 200
    missing = f"m-{'2' * 32}"
    assert_error(server.delete(f"{BASE}/{missing}", json={"model_id": missing}), 404,
                 "RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{missing}' not found.")


# --- tags ----------------------------------------------------------------------------------

def test_set_tags_upserts(server):
    model_id = create(server, "0", name="tagged", tags=kv({"a": "1"}))["model"]["info"]["model_id"]
    r = server.patch(f"{BASE}/{model_id}/tags", json={"tags": kv({"a": "2", "b": "x" * 9000})})
    assert r.status_code == 200 and r.json() == {}
    assert get(server, model_id)["info"]["tags"] == kv({"a": "2", "b": "x" * 9000})
    # Empty body: nothing to do.
    assert server.patch(f"{BASE}/{model_id}/tags", json={}).status_code == 200
    missing = f"m-{'3' * 32}"
    assert_error(server.patch(f"{BASE}/{missing}/tags", json={"tags": kv({"a": "1"})}), 404,
                 "RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{missing}' not found.")
    assert_error(server.patch(f"{BASE}/{model_id}/tags", json={"tags": [{"value": "v"}]}), 400,
                 "INVALID_PARAMETER_VALUE", "'tags[0].key'")
    assert_error(server.patch(f"{BASE}/{model_id}/tags", json={"tags": "a"}), 400,
                 "INVALID_PARAMETER_VALUE", "'tags'")


def test_delete_tag(server):
    model_id = create(server, "0", name="untag",
                      tags=kv({"mlflow.model.isExternal": "true", "keep": "1"}))[
        "model"]["info"]["model_id"]
    r = server.delete(f"{BASE}/{model_id}/tags/mlflow.model.isExternal")
    assert r.status_code == 200 and r.json() == {}
    assert get(server, model_id)["info"]["tags"] == kv({"keep": "1"})
    assert_error(server.delete(f"{BASE}/{model_id}/tags/mlflow.model.isExternal"), 404,
                 "RESOURCE_DOES_NOT_EXIST",
                 f"No tag with key 'mlflow.model.isExternal' found for model with ID "
                 f"'{model_id}'.")
    # A key with a space arrives percent-encoded.
    server.patch(f"{BASE}/{model_id}/tags", json={"tags": kv({"a b": "1"})})
    assert server.delete(f"{BASE}/{model_id}/tags/a%20b").status_code == 200
    missing = f"m-{'4' * 32}"
    assert_error(server.delete(f"{BASE}/{missing}/tags/keep"), 404, "RESOURCE_DOES_NOT_EXIST",
                 f"Logged model with ID '{missing}' not found.")


# --- params --------------------------------------------------------------------------------

def test_the_same_params_logged_at_once_all_succeed(server):
    """16 requests logging the same param at once: the same value is 200 for all (on
    PostgreSQL the losers of the insert race used to get a unique-violation 400); a
    different value is refused for all but the first."""
    from concurrent.futures import ThreadPoolExecutor
    import requests
    model_id = create(server, "0", name="racing-params")["model"]["info"]["model_id"]
    url = f"{server.url}{BASE}/{model_id}/params"
    for round_ in range(5):
        key = f"k{round_}"

        def post(value):
            return requests.post(url, json={"model_id": model_id, "params": kv({key: value})},
                                 timeout=60)

        with ThreadPoolExecutor(16) as pool:
            same = list(pool.map(post, ["v"] * 16))
        assert [r.status_code for r in same] == [200] * 16, [r.text for r in same]
        with ThreadPoolExecutor(16) as pool:
            mixed = list(pool.map(post, [f"w{i}" for i in range(16)]))
        assert all(r.status_code == 400 and "Changing param values" in r.text for r in mixed)
    assert get(server, model_id)["data"]["params"] == kv({f"k{i}": "v" for i in range(5)})


def test_log_params(server):
    model_id = create(server, "0", name="params",
                      params=kv({"a": "1"}))["model"]["info"]["model_id"]
    url = f"{BASE}/{model_id}/params"
    r = server.post(url, json={"model_id": model_id, "params": kv({"b": "2", "c": "3"})})
    assert r.status_code == 200 and r.json() == {}
    # Re-logging with equal values is a no-op, never a 500.
    r = server.post(url, json={"model_id": model_id, "params": kv({"a": "1", "d": "4"})})
    assert r.status_code == 200
    assert get(server, model_id)["data"]["params"] == kv({"a": "1", "b": "2", "c": "3", "d": "4"})
    # A different value is a 400 and nothing of the request is written.
    r = server.post(url, json={"model_id": model_id, "params": kv({"e": "5", "a": "9"})})
    body = assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed")
    assert "key='a'" in body["message"] and "'9'" in body["message"]
    assert get(server, model_id)["data"]["params"] == kv({"a": "1", "b": "2", "c": "3", "d": "4"})
    assert_error(server.post(url, json={"params": kv({"z": "1"})}), 400,
                 "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'model_id'")
    missing = f"m-{'5' * 32}"
    assert_error(server.post(f"{BASE}/{missing}/params",
                             json={"model_id": missing, "params": kv({"z": "1"})}),
                 404, "RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{missing}' not found.")


# --- search --------------------------------------------------------------------------------

def search(server, expect=200, **body):
    return server.api("POST", "logged-models/search", body, expect=expect)


def search_error(server, message_part, **body):
    r = server.post(f"{BASE}/search", json=body)
    return assert_error(r, 400, "INVALID_PARAMETER_VALUE", message_part)


def names(result):
    return [m["info"]["name"] for m in result.get("models", [])]


@pytest.fixture(scope="module")
def catalog(server):
    """Five models of one experiment with known timestamps, params, tags and metrics, plus
    one model in another experiment and one deleted model."""
    exp = make_experiment(server)
    other = make_experiment(server)
    run = make_run(server, exp)
    specs = [
        # name, model_type, status, params, tags
        ("alpha", "clf", 2, {"lr": "0.1", "depth": "3"}, {"team": "vision", "mlflow.src": "nb"}),
        ("Beta", "reg", 1, {"lr": "0.01"}, {"team": "nlp"}),
        ("gamma", "clf", 2, {"lr": "0.1"}, {"team": "Vision"}),
        ("delta", None, 3, {}, {}),
        ("epsilon", "agent", 1, {"depth": "10"}, {"team": "nlp"}),
    ]
    ids = {}
    for i, (name, model_type, status, params, tags) in enumerate(specs):
        body = {"name": name, "params": kv(params), "tags": kv(tags), "source_run_id": run}
        if model_type:
            body["model_type"] = model_type
        model_id = create(server, exp, **body)["model"]["info"]["model_id"]
        ids[name] = model_id
        with db(server) as conn:
            conn.execute("update logged_models set creation_timestamp_ms = ?, "
                         "last_updated_timestamp_ms = ?, status = ? where model_id = ?",
                         (1000 + i * 100, 5000 - i * 100, status, model_id))
    # metrics: acc on two datasets; loss only for some models; several rows for alpha
    add_metric(server, ids["alpha"], exp, run, "acc", 0.5, ts=10, dataset_name="val",
               dataset_digest="d1")
    add_metric(server, ids["alpha"], exp, run, "acc", 0.9, ts=20, dataset_name="test",
               dataset_digest="d2")
    add_metric(server, ids["Beta"], exp, run, "acc", 0.7, ts=10, dataset_name="val",
               dataset_digest="d1")
    add_metric(server, ids["gamma"], exp, run, "acc", 0.8, ts=10, dataset_name="test",
               dataset_digest="d2")
    add_metric(server, ids["gamma"], exp, run, "loss", 0.3, ts=10)
    add_metric(server, ids["delta"], exp, run, "loss", 0.1, ts=10)
    add_metric(server, ids["delta"], exp, run, "loss", 0.6, ts=30)  # latest loss of delta
    ids["other"] = create(server, other, name="zeta")["model"]["info"]["model_id"]
    gone = create(server, exp, name="deleted-one")["model"]["info"]["model_id"]
    with db(server) as conn:
        conn.execute("update logged_models set creation_timestamp_ms = 9999 where model_id = ?",
                     (gone,))
    assert server.delete(f"{BASE}/{gone}", json={"model_id": gone}).status_code == 200
    return {"exp": exp, "other": other, "ids": ids, "run": run}


def test_search_default_order_and_shape(server, catalog):
    result = search(server, experiment_ids=[catalog["exp"]])
    # creation_timestamp_ms DESC; the deleted model is excluded; no token (all rows fit)
    assert names(result) == ["epsilon", "delta", "gamma", "Beta", "alpha"]
    assert "next_page_token" not in result
    # each model of the page with its own tags, params and metrics (read for the page at once)
    for model in result["models"]:
        assert model == get(server, model["info"]["model_id"])
    assert [len(m["data"].get("metrics", [])) for m in result["models"]] == [0, 2, 2, 1, 2]
    assert [m["info"].get("tags") for m in result["models"]][-2] == kv({"team": "nlp"})
    alpha = result["models"][-1]
    assert alpha["info"]["status"] == "LOGGED_MODEL_READY"
    assert alpha["data"]["params"] == kv({"depth": "3", "lr": "0.1"})
    assert len(alpha["data"]["metrics"]) == 2
    both = search(server, experiment_ids=[catalog["exp"], catalog["other"]])
    assert names(both)[0] == "zeta" and len(names(both)) == 6
    # experiment ids as numbers (protobuf JSON reads them as strings)
    assert names(search(server, experiment_ids=[int(catalog["other"])])) == ["zeta"]


def test_search_requires_experiment_ids(server, catalog):
    search_error(server, "Missing value for required parameter 'experiment_ids'")
    assert search(server, experiment_ids=[]) == {}
    assert search(server, experiment_ids=["987654"]) == {}
    assert search(server, experiment_ids=["not-a-number"]) == {}


@pytest.mark.parametrize("filter_string, expected", [
    ("name = 'alpha'", ["alpha"]),
    ("attributes.name = 'alpha'", ["alpha"]),
    ("name != 'alpha'", ["epsilon", "delta", "gamma", "Beta"]),
    ("name LIKE '%a'", ["delta", "gamma", "Beta", "alpha"]),
    ("name LIKE 'b%'", []),  # LIKE is case-sensitive
    ("name ILIKE 'b%'", ["Beta"]),
    ("name IN ('alpha', 'gamma')", ["gamma", "alpha"]),
    ("name NOT IN ('alpha', 'gamma')", ["epsilon", "delta", "Beta"]),
    ("model_type = 'clf'", ["gamma", "alpha"]),
    ("model_type = 'clf' AND name = 'gamma'", ["gamma"]),
    ("model_type = 'clf' and name = 'gamma'", ["gamma"]),
    ("creation_timestamp > 1100", ["epsilon", "delta", "gamma"]),
    ("creation_time >= 1100", ["epsilon", "delta", "gamma", "Beta"]),
    ("creation_timestamp_ms < 1100", ["alpha"]),
    ("last_updated_timestamp <= 4700", ["epsilon", "delta"]),
    ("last_updated_timestamp_ms = 4600", ["epsilon"]),
    ("status = '2'", ["gamma", "alpha"]),
    ("params.lr = '0.1'", ["gamma", "alpha"]),
    ("params.lr != '0.1'", ["Beta"]),  # a model without the param never matches
    ("params.depth LIKE '1%'", ["epsilon"]),
    ("tags.team = 'vision'", ["alpha"]),
    ("tags.team ILIKE 'vision'", ["gamma", "alpha"]),
    ("tags.team IN ('nlp')", ["epsilon", "Beta"]),
    ("tags.`mlflow.src` = 'nb'", ["alpha"]),
    ("metrics.acc > 0.75", ["gamma", "alpha"]),  # any row of the metric, not only the latest
    ("metrics.acc <= 0.5", ["alpha"]),
    ("metrics.loss = 0.1", ["delta"]),
    ("metrics.acc != 0.5", ["gamma", "Beta", "alpha"]),
    ("metrics.acc > 0.6 AND params.lr = '0.1' AND tags.team = 'vision'", ["alpha"]),
])
def test_search_filters(server, catalog, filter_string, expected):
    result = search(server, experiment_ids=[catalog["exp"]], filter=filter_string)
    assert names(result) == expected


def test_search_metric_filter_restricted_to_datasets(server, catalog):
    exp = [catalog["exp"]]
    val = [{"dataset_name": "val", "dataset_digest": "d1"}]
    test = [{"dataset_name": "test", "dataset_digest": "d2"}]
    assert names(search(server, experiment_ids=exp, filter="metrics.acc > 0.75",
                        datasets=val)) == []
    assert names(search(server, experiment_ids=exp, filter="metrics.acc > 0.6",
                        datasets=val)) == ["Beta"]
    assert names(search(server, experiment_ids=exp, filter="metrics.acc > 0.6",
                        datasets=val + test)) == ["gamma", "Beta", "alpha"]
    assert names(search(server, experiment_ids=exp, filter="metrics.acc > 0.6",
                        datasets=[{"dataset_name": "val", "dataset_digest": "nope"}])) == []
    # datasets without a metric clause: models having any metric on those datasets
    assert names(search(server, experiment_ids=exp, datasets=test)) == ["gamma", "alpha"]
    assert names(search(server, experiment_ids=exp, datasets=val,
                        filter="name != 'alpha'")) == ["Beta"]
    search_error(server, "`dataset_name` in the `datasets` clause must be specified.",
                 experiment_ids=exp, datasets=[{"dataset_digest": "d1"}])


@pytest.mark.parametrize("bad_filter, message", [
    ("foo.name = 'x'", "Invalid entity type: 'foo'"),
    ("no_such_column = 'x'", "Invalid attribute key 'no_such_column'"),  # upstream: a 500
    ("name like 'x'", "Invalid comparison operator for name: 'like'"),  # upper-case only
    ("tags.t not in ('x')", "Invalid comparison operator for tags.t: 'not in'"),
    ("name NOT like 'x'", "Invalid comparison operator for name: 'NOT like'"),
    ("metrics.acc > 'x'", "Invalid numeric value for metrics.acc"),
    ("creation_timestamp = 'x'", "Invalid numeric value for creation_timestamp"),
    ("metrics.acc LIKE '1'", "Invalid comparison operator for metrics.acc"),
    ("name = 'a' OR name = 'b'", "Invalid clause(s) in filter string"),
    ("name IN 'a'", "Operator 'IN' requires a parenthesised list"),
    ("name =", "Invalid clause(s) in filter string"),
])
def test_search_rejects_bad_filters(server, catalog, bad_filter, message):
    search_error(server, message, experiment_ids=[catalog["exp"]], filter=bad_filter)


def order(field, ascending=True, **extra):
    return {"field_name": field, "ascending": ascending, **extra}


def test_search_order_by_attributes(server, catalog):
    exp = [catalog["exp"]]
    assert names(search(server, experiment_ids=exp, order_by=[order("name")])) == [
        "Beta", "alpha", "delta", "epsilon", "gamma"]  # byte order: upper-case first
    assert names(search(server, experiment_ids=exp, order_by=[order("name", False)])) == [
        "gamma", "epsilon", "delta", "alpha", "Beta"]
    assert names(search(server, experiment_ids=exp,
                        order_by=[order("creation_timestamp")])) == [
        "alpha", "Beta", "gamma", "delta", "epsilon"]
    assert names(search(server, experiment_ids=exp,
                        order_by=[order("last_updated_timestamp")])) == [
        "epsilon", "delta", "gamma", "Beta", "alpha"]
    # ascending defaults to true; NULL model_type sorts last both ways; then creation DESC
    assert names(search(server, experiment_ids=exp, order_by=[{"field_name": "model_type"}])) \
        == ["epsilon", "gamma", "alpha", "Beta", "delta"]
    assert names(search(server, experiment_ids=exp, order_by=[order("model_type", False)])) \
        == ["Beta", "gamma", "alpha", "epsilon", "delta"]
    search_error(server, "Invalid order by field name: no_such_field", experiment_ids=exp,
                 order_by=[order("no_such_field")])
    search_error(server, "only `metrics.<name>` is allowed", experiment_ids=exp,
                 order_by=[order("params.lr")])
    search_error(server, "`field_name` in the `order_by` clause must be specified",
                 experiment_ids=exp, order_by=[{"ascending": False}])


def test_search_order_by_metrics_nulls_last(server, catalog):
    exp = [catalog["exp"]]
    # latest acc: alpha 0.9 (ts 20), Beta 0.7, gamma 0.8; delta/epsilon have none
    assert names(search(server, experiment_ids=exp, order_by=[order("metrics.acc")])) == [
        "Beta", "gamma", "alpha", "epsilon", "delta"]
    assert names(search(server, experiment_ids=exp, order_by=[order("metrics.acc", False)])) \
        == ["alpha", "gamma", "Beta", "epsilon", "delta"]
    # latest loss of delta is 0.6 (ts 30), not 0.1
    assert names(search(server, experiment_ids=exp, order_by=[order("metrics.loss")]))[:2] == [
        "gamma", "delta"]
    # restricted to a dataset: alpha's acc on val is 0.5
    ranked = search(server, experiment_ids=exp,
                    order_by=[order("metrics.acc", dataset_name="val", dataset_digest="d1")])
    assert names(ranked) == ["alpha", "Beta", "epsilon", "delta", "gamma"]
    ranked = search(server, experiment_ids=exp,
                    order_by=[order("metrics.acc", False, dataset_name="test")])
    assert names(ranked) == ["alpha", "gamma", "epsilon", "delta", "Beta"]
    search_error(server, "dataset_digest", experiment_ids=exp,
                 order_by=[order("metrics.acc", dataset_digest="d1")])


def token_body(token):
    return json.loads(base64.b64decode(token))


def test_search_pages_with_query_bound_tokens(server, catalog):
    exp = [catalog["exp"]]
    body = {"experiment_ids": exp, "filter": "name != 'zzz'", "max_results": 2,
            "order_by": [order("name")]}
    seen, token, pages = [], None, 0
    while True:
        result = search(server, **body, **({"page_token": token} if token else {}))
        seen += names(result)
        pages += 1
        token = result.get("next_page_token")
        if not token:
            break
        decoded = token_body(token)
        assert decoded == {"experiment_ids": exp, "filter_string": "name != 'zzz'",
                           "order_by": [{"field_name": "name", "ascending": True,
                                         "dataset_name": None, "dataset_digest": None}],
                           "offset": 2 * pages}
    assert seen == ["Beta", "alpha", "delta", "epsilon", "gamma"] and pages == 3
    first = search(server, **body)["next_page_token"]
    # A token is bound to its query.
    search_error(server, "Filter string in the page token does not match",
                 **{**body, "filter": "name != 'yyy'"}, page_token=first)
    search_error(server, "Experiment IDs in the page token do not match",
                 **{**body, "experiment_ids": exp + [catalog["other"]]}, page_token=first)
    search_error(server, "Order by in the page token does not match",
                 **{**body, "order_by": [order("name", False)]}, page_token=first)
    search_error(server, "Invalid page token", **body, page_token="not base64 !")
    # A token without filter/order_by (null in the token) matches a request without them.
    plain = search(server, experiment_ids=exp, max_results=3)
    assert token_body(plain["next_page_token"])["filter_string"] is None
    assert token_body(plain["next_page_token"])["order_by"] is None
    rest = search(server, experiment_ids=exp, max_results=3,
                  page_token=plain["next_page_token"])
    assert names(plain) + names(rest) == ["epsilon", "delta", "gamma", "Beta", "alpha"]
    assert "next_page_token" not in rest


def test_search_max_results_defaults(server):
    exp = make_experiment(server)
    for i in range(55):
        create(server, exp, name=f"bulk{i}")
    page = search(server, experiment_ids=[exp])  # absent: the proto default, 50
    assert len(page["models"]) == 50 and page["next_page_token"]
    page = search(server, experiment_ids=[exp], max_results=0)  # 0: the store default, 100
    assert len(page["models"]) == 55 and "next_page_token" not in page
    page = search(server, experiment_ids=[exp], max_results=55)
    assert len(page["models"]) == 55 and "next_page_token" not in page  # only if more rows
    search_error(server, "max_results", experiment_ids=[exp], max_results=-1)
    search_error(server, "max_results", experiment_ids=[exp], max_results="ten")


# --- the mlflow.<flavor>.log_model sequence ------------------------------------------------

def test_log_model_call_sequence(server):
    """rest-api.md §6: create (run params as model params) -> runs/outputs -> get ->
    upload -> delete the isExternal tag -> finalize READY -> get."""
    exp = make_experiment(server)
    run_id = make_run(server, exp)
    params = {f"p{i}": str(i) for i in range(120)}
    first = dict(list(params.items())[:100])
    model = server.api("POST", "logged-models", {
        "experiment_id": exp, "name": "model", "model_type": None, "source_run_id": run_id,
        "params": kv(first), "tags": kv({"mlflow.user": "me",
                                         "mlflow.model.isExternal": "false"})})["model"]
    model_id = model["info"]["model_id"]
    rest = dict(list(params.items())[100:])
    server.api("POST", f"logged-models/{model_id}/params",
               {"model_id": model_id, "params": kv(rest)})
    assert len(get(server, model_id)["data"]["params"]) == 120
    r = server.post("/api/2.0/mlflow/runs/outputs",
                    json={"run_id": run_id, "models": [{"model_id": model_id, "step": 0}]})
    if r.status_code == 200:  # runs/outputs belongs to the runs service
        run = server.api("GET", "runs/get", params={"run_id": run_id, "run_uuid": run_id})
        assert {"model_id": model_id, "step": 0} in run["run"]["outputs"]["model_outputs"]
    # The client copies the run's metrics at that step onto the model via log-batch.
    r = server.post("/api/2.0/mlflow/runs/log-batch", json={"run_id": run_id, "metrics": [
        {"key": "acc", "value": 0.75, "timestamp": 1234, "step": 0, "model_id": model_id,
         "dataset_name": "val", "dataset_digest": "abc"}]})
    if r.status_code == 200:  # runs/log-batch belongs to the runs service
        assert get(server, model_id)["data"]["metrics"] == [
            {"key": "acc", "value": 0.75, "timestamp": 1234, "step": 0, "dataset_name": "val",
             "dataset_digest": "abc", "model_id": model_id, "run_id": run_id}]
    info = get(server, model_id)["info"]
    assert info["artifact_uri"].endswith(f"/models/{model_id}/artifacts")
    server.api("DELETE", f"logged-models/{model_id}/tags/mlflow.model.isExternal")
    final = server.api("PATCH", f"logged-models/{model_id}",
                       {"model_id": model_id, "status": "LOGGED_MODEL_READY"})["model"]
    assert final["info"]["status"] == "LOGGED_MODEL_READY"
    assert final["info"]["tags"] == kv({"mlflow.user": "me"})
    assert final["info"]["source_run_id"] == run_id
    assert get(server, model_id) == final
    found = search(server, experiment_ids=[exp],
                   filter=f"source_run_id = '{run_id}' AND status = '2'")
    assert [m["info"]["model_id"] for m in found["models"]] == [model_id]


def test_the_same_rows_listed_in_other_orders_never_deadlock(server):
    """Two requests writing the same rows, listed in opposite orders, at once: logged-model
    tags and params, metric points (a batch sent again), dataset inputs of two runs and run
    outputs. They are written in one order, so on PostgreSQL the second waits for the first;
    before, most rounds of 30 keys had one answered 503 (deadlock detected)."""
    import threading
    import requests
    api = f"{server.url}/api/2.0/mlflow"
    exp = server.api("POST", "experiments/create", {"name": f"order-{uuid.uuid4().hex[:8]}"})
    eid = exp["experiment_id"]
    mid = server.api("POST", "logged-models", {"experiment_id": eid})["model"]["info"]["model_id"]
    mid2 = server.api("POST", "logged-models", {"experiment_id": eid})["model"]["info"]["model_id"]
    runs = [server.api("POST", "runs/create", {"experiment_id": eid})["run"]["info"]["run_id"]
            for _ in range(2)]

    def race(method, path, bodies):
        barrier, answers = threading.Barrier(2), [None, None]

        def run(i):
            barrier.wait()
            answers[i] = requests.request(method, api + path, json=bodies[i], timeout=60)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in answers:
            assert r.status_code == 200, (path, r.status_code, r.text)

    for i in range(6):
        keys = [{"key": f"k{i}-{j:02d}", "value": "v"} for j in range(30)]
        race("PATCH", f"/logged-models/{mid}/tags", [{"tags": keys}, {"tags": keys[::-1]}])
        race("POST", f"/logged-models/{mid}/params",
             [{"model_id": mid, "params": keys}, {"model_id": mid, "params": keys[::-1]}])
        points = [{"key": k["key"], "value": 1.0, "timestamp": 1000, "step": 0, "model_id": mid}
                  for k in keys]
        race("POST", "/runs/log-batch",
             [{"run_id": runs[0], "metrics": points}, {"run_id": runs[0], "metrics": points[::-1]}])
        datasets = [{"dataset": {"name": f"d{i}-{j}", "digest": "dg", "source_type": "local",
                                 "source": "{}"}} for j in range(8)]
        race("POST", "/runs/log-inputs", [{"run_id": runs[0], "datasets": datasets},
                                          {"run_id": runs[1], "datasets": datasets[::-1]}])
        outputs = [{"model_id": m, "step": i} for m in (mid, mid2)]
        race("POST", "/runs/outputs", [{"run_id": runs[0], "models": outputs},
                                       {"run_id": runs[0], "models": outputs[::-1]}])
    model = server.api("GET", f"logged-models/{mid}")["model"]
    assert len(model["data"]["params"]) == 180 and len(model["info"]["tags"]) == 180
