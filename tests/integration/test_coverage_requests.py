"""Request paths a user can reach that no other test ran (found by measuring coverage):
the artifact proxy never deletes its whole destination, an experiment tag without a key
creates nothing, a page token whose offset is negative is refused on every search that
takes one, and a run's dataset inputs of the wrong shape or size are refused before
anything is stored."""
import base64
import json
import os
import uuid

from conftest import assert_error, db_query, raw_request

ART = "/api/2.0/mlflow-artifacts/artifacts"


def page_token(fields):
    """A page token as upstream writes one: Base64 of JSON with Python's separators."""
    return base64.b64encode(json.dumps(fields).encode()).decode()


def new_run(server):
    exp = server.api("POST", "experiments/create", {"name": f"cov-{uuid.uuid4().hex[:10]}"})
    run = server.api("POST", "runs/create", {"experiment_id": exp["experiment_id"]})
    return exp["experiment_id"], run["run"]["info"]["run_id"]


# --- the artifact proxy ------------------------------------------------------------

def test_deleting_the_whole_artifact_destination_is_refused(server):
    """DELETE of an empty path, or of one that normalises to empty, names the whole
    destination: it is a 400 and every file stays."""
    root = os.path.join(server.workdir, "mlartifacts")
    for rel in ["keep-top.txt", "0/keep/inner.txt"]:
        r = server.put(f"{ART}/{rel}", data=b"kept", headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 200, r.text
    status, _, body = raw_request(server, "DELETE", f"{ART}/")  # no path at all: no route
    assert status == 404 and b"ENDPOINT_NOT_FOUND" in body, (status, body)
    for target in [f"{ART}/.", f"{ART}/./", f"{ART}//", f"{ART}/%2e", f"{ART}/./.",
                   "/ajax-api/2.0/mlflow-artifacts/artifacts/."]:
        status, _, body = raw_request(server, "DELETE", target)
        assert status == 400, (target, status, body)
        answer = json.loads(body)
        assert answer["error_code"] == "INVALID_PARAMETER_VALUE", (target, answer)
        assert answer["message"] == "Invalid path", (target, answer)
    for rel in ["keep-top.txt", "0/keep/inner.txt"]:
        with open(os.path.join(root, rel), "rb") as f:
            assert f.read() == b"kept", rel
    listing = server.get(ART).json()
    assert {f["path"] for f in listing["files"]} >= {"keep-top.txt", "0"}


# --- experiments --------------------------------------------------------------------

def test_experiment_tag_without_a_key_is_refused_and_creates_nothing(server):
    name = f"cov-tagless-{uuid.uuid4().hex[:10]}"
    for tags in ([{"value": "v"}], [{"key": "ok", "value": "v"}, {"key": None, "value": "w"}]):
        r = server.post("/api/2.0/mlflow/experiments/create", json={"name": name, "tags": tags})
        index = len(tags) - 1
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", f"tags[{index}].key")
    assert_error(server.get("/api/2.0/mlflow/experiments/get-by-name",
                            params={"experiment_name": name}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert db_query(server, "SELECT COUNT(*) FROM experiments WHERE name = ?", (name,))[0][0] == 0


# --- page tokens ---------------------------------------------------------------------

def test_a_page_token_with_a_negative_offset_is_refused(server):
    """A token is the client's to send back unchanged, but nothing stops a user from
    writing one: a negative offset is a 400, never a page read from before the start."""
    experiment_id, run_id = new_run(server)
    for step in range(3):
        server.api("POST", "runs/log-metric", {"run_id": run_id, "key": "m", "value": step,
                                               "timestamp": 1000 + step, "step": step})
    token = page_token({"offset": -1})
    r = server.post("/api/2.0/mlflow/runs/search",
                    json={"experiment_ids": [experiment_id], "page_token": token})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "offset must not be negative")
    r = server.get("/api/2.0/mlflow/metrics/get-history",
                   params={"run_id": run_id, "metric_key": "m", "page_token": token})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "offset must not be negative")
    # the same searches with a valid token answer
    ok = page_token({"offset": 1})
    r = server.post("/api/2.0/mlflow/runs/search",
                    json={"experiment_ids": [experiment_id], "page_token": ok})
    assert r.status_code == 200 and r.json().get("runs", []) == [], r.text
    r = server.get("/api/2.0/mlflow/metrics/get-history",
                   params={"run_id": run_id, "metric_key": "m", "page_token": ok})
    assert r.status_code == 200, r.text
    assert [m["step"] for m in r.json()["metrics"]] == [1, 2]


# --- runs/log-inputs ------------------------------------------------------------------

def dataset(name="ds", **more):
    d = {"name": name, "digest": "d1", "source_type": "local", "source": "/data"}
    d.update(more)
    return d


def test_dataset_inputs_of_the_wrong_shape_or_size_store_nothing(server):
    _, run_id = new_run(server)
    good = {"dataset": dataset("first")}
    cases = [  # (datasets, what the message names); a good dataset first is not stored either
        ([{"dataset": "not an object"}], "datasets[0].dataset"),
        ([{"dataset": [dataset()]}], "datasets[0].dataset"),
        ([good, {"dataset": dataset(), "tags": {"key": "k", "value": "v"}}], "datasets[1].tags"),
        ([{"dataset": dataset(), "tags": "k=v"}], "datasets[0].tags"),
        ([good, {"dataset": dataset(source="s" * 65536)}], "source"),
        ([{"dataset": dataset(schema="s" * 1048576)}], "schema"),
    ]
    for datasets, says in cases:
        r = server.post("/api/2.0/mlflow/runs/log-inputs", json={"run_id": run_id, "datasets": datasets})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", says)
    assert db_query(server, "SELECT COUNT(*) FROM inputs WHERE destination_id = ?", (run_id,))[0][0] == 0
    run = server.api("GET", "runs/get", params={"run_id": run_id})["run"]
    assert run.get("inputs", {}).get("dataset_inputs", []) == []
    # at the limits they are stored
    server.api("POST", "runs/log-inputs", {"run_id": run_id, "datasets": [
        {"dataset": dataset(source="s" * 65535), "tags": [{"key": "k", "value": "v"}]}]})
    run = server.api("GET", "runs/get", params={"run_id": run_id})["run"]
    inputs = run["inputs"]["dataset_inputs"]
    assert len(inputs) == 1 and len(inputs[0]["dataset"]["source"]) == 65535
    assert inputs[0]["tags"] == [{"key": "k", "value": "v"}]


# --- message decoding -------------------------------------------------------------------

def test_integer_fields_take_whole_reals_and_quoted_integers_only(server):
    """protobuf's JSON reading: an int64 may come as 3.0 or "3", never as 3.5 or beyond int64."""
    _, run_id = new_run(server)
    ok = [({"timestamp": 1700000000000.0, "step": 3.0}, (1700000000000, 3)),
          ({"timestamp": 1700000000001, "step": -2.0}, (1700000000001, -2)),
          ({"timestamp": "1700000000002", "step": "4"}, (1700000000002, 4))]
    for fields, _ in ok:
        server.api("POST", "runs/log-metric", {"run_id": run_id, "key": "m", "value": 1.5, **fields})
    for fields, name in [({"timestamp": 1700000000000, "step": 3.5}, "step"),
                         ({"timestamp": 1e19, "step": 1}, "timestamp"),
                         ({"timestamp": 1700000000000, "step": "3.0"}, "step"),
                         ({"timestamp": 1700000000000, "step": 9.3e18}, "step")]:
        r = server.post("/api/2.0/mlflow/runs/log-metric",
                        json={"run_id": run_id, "key": "m", "value": 1.5, **fields})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", f"'{name}'")
    got = server.api("GET", "metrics/get-history", params={"run_id": run_id, "metric_key": "m"})
    assert sorted((m["timestamp"], m["step"]) for m in got["metrics"]) == sorted(p for _, p in ok)


def test_list_items_of_the_wrong_type_or_with_nul_are_refused(server):
    experiment_id, run_id = new_run(server)
    for ids, says in [([experiment_id + "\u0000"], "NUL"), ([1.5], "'float'"), ([True], "'bool'"),
                      ([None], "'NoneType'"), ([[experiment_id]], "'list'"),
                      ([experiment_id, {"id": experiment_id}], "'dict'")]:
        r = server.post("/api/2.0/mlflow/runs/search", json={"experiment_ids": ids})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", says)
    # an integer id is read as its decimal text, as the mlflow server reads it
    r = server.post("/api/2.0/mlflow/runs/search", json={"experiment_ids": [int(experiment_id)]})
    assert r.status_code == 200, r.text
    assert [run["info"]["run_id"] for run in r.json()["runs"]] == [run_id]


# --- logged-model search --------------------------------------------------------------------

def test_logged_model_search_reads_an_empty_dataset_digest_or_name_as_absent(server):
    """The handler hands the store `x or None`: "" in a datasets clause or an order_by
    entry is the same as leaving it out, never a dataset whose digest is ""."""
    experiment_id, run_id = new_run(server)
    for i, (name, digest, value) in enumerate([("eval", "d1", 0.9), ("eval", "d2", 0.5),
                                               ("train", "d1", 0.7)]):
        model_id = server.api("POST", "logged-models", {"experiment_id": experiment_id,
                                                        "name": f"m{i}", "source_run_id": run_id}
                              )["model"]["info"]["model_id"]
        server.api("POST", "runs/log-batch", {"run_id": run_id, "metrics": [
            {"key": "acc", "value": value, "timestamp": 1, "step": 0, "model_id": model_id,
             "dataset_name": name, "dataset_digest": digest}]})

    def names(**body):
        got = server.api("POST", "logged-models/search", {"experiment_ids": [experiment_id], **body})
        return [m["info"]["name"] for m in got.get("models", [])]

    on_eval = names(filter="metrics.acc > 0", datasets=[{"dataset_name": "eval"}])
    assert sorted(on_eval) == ["m0", "m1"]
    assert sorted(names(filter="metrics.acc > 0",
                        datasets=[{"dataset_name": "eval", "dataset_digest": ""}])) == ["m0", "m1"]
    assert names(filter="metrics.acc > 0",
                 datasets=[{"dataset_name": "eval", "dataset_digest": "d2"}]) == ["m1"]
    for clause in ({"dataset_name": ""}, {"dataset_digest": "d1"}):
        r = server.post("/api/2.0/mlflow/logged-models/search",
                        json={"experiment_ids": [experiment_id], "filter": "metrics.acc > 0",
                              "datasets": [clause]})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", "`dataset_name` in the `datasets` clause")
    # order_by: "" dataset fields are no restriction; a dataset orders models without it last
    everything = names(order_by=[{"field_name": "metrics.acc", "ascending": False}])
    assert everything == ["m0", "m2", "m1"]
    assert names(order_by=[{"field_name": "metrics.acc", "ascending": False, "dataset_name": "",
                            "dataset_digest": ""}]) == everything
    assert names(order_by=[{"field_name": "metrics.acc", "ascending": True,
                            "dataset_name": "eval", "dataset_digest": ""}]) == ["m1", "m0", "m2"]
