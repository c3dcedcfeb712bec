"""Model registry (rest-api.md §7, §2 RegisteredModel/ModelVersion, search-grammar.md
§4-§6) over HTTP, shaped as the mlflow 3.6 client sends it: JSON bodies on POST, PATCH
and DELETE; GET with query parameters (repeated keys for lists); versions as strings."""
import base64
import json
import os
import time
import uuid

import pytest

from conftest import TEST_DB, assert_error, db_connect

API = "/api/2.0/mlflow/"
PROMPT_TAG = "mlflow.prompt.is_prompt"


def unique(prefix="model"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def now_ms():
    return int(time.time() * 1000)


def token(offset):
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def db(server):
    """The server's tracking database (SQLite or PostgreSQL), autocommitting."""
    conn = db_connect(server)
    conn.isolation_level = None
    return conn


def create_model(server, name=None, **fields):
    body = {"name": name or unique(), **fields}
    return server.api("POST", "registered-models/create", body)["registered_model"]


def get_model(server, name):
    return server.api("GET", "registered-models/get", params={"name": name})["registered_model"]


def create_version(server, name, source="s3://bucket/model", **fields):
    body = {"name": name, "source": source, **fields}
    return server.api("POST", "model-versions/create", body)["model_version"]


def get_version(server, name, version):
    return server.api("GET", "model-versions/get",
                      params={"name": name, "version": str(version)})["model_version"]


def search_models(server, **params):
    return server.api("GET", "registered-models/search", params=params)


def search_versions(server, **params):
    return server.api("GET", "model-versions/search", params=params)


def make_experiment(server, **fields):
    body = {"name": unique("exp"), **fields}
    return server.api("POST", "experiments/create", body)["experiment_id"]


def make_run(server, experiment_id):
    body = {"experiment_id": experiment_id, "start_time": now_ms(), "tags": []}
    return server.api("POST", "runs/create", body)["run"]["info"]


def make_logged_model(server, experiment_id, run_id=None):
    body = {"experiment_id": experiment_id, "name": "model"}
    if run_id:
        body["source_run_id"] = run_id
    return server.api("POST", "logged-models", body)["model"]["info"]


# ---- registered models -------------------------------------------------------------------------


def test_create_registered_model_shape(server):
    before = now_ms()
    name = unique()
    m = create_model(server, name, tags=[{"key": "t2", "value": "b"}, {"key": "t1", "value": "a"},
                                         {"key": "t1", "value": "last"}])
    after = now_ms()
    assert set(m) == {"name", "creation_timestamp", "last_updated_timestamp", "tags"}
    assert m["name"] == name
    assert before <= m["creation_timestamp"] <= after
    assert m["last_updated_timestamp"] == m["creation_timestamp"]
    assert m["tags"] == [{"key": "t1", "value": "last"}, {"key": "t2", "value": "b"}]
    assert get_model(server, name) == m
    m = create_model(server, description="my model")
    assert m["description"] == "my model"
    assert get_model(server, m["name"])["description"] == "my model"


def test_create_registered_model_errors(server):
    name = unique()
    create_model(server, name)
    assert_error(server.post(API + "registered-models/create", {"name": name}), 400,
                 "RESOURCE_ALREADY_EXISTS", f"Registered Model (name={name}) already exists.")
    assert_error(server.post(API + "registered-models/create",
                             {"name": name, "tags": [{"key": PROMPT_TAG, "value": "true"}]}),
                 400, "RESOURCE_ALREADY_EXISTS", "already taken by a registered model")
    prompt = unique("prompt")
    create_model(server, prompt, tags=[{"key": PROMPT_TAG, "value": "true"}])
    assert_error(server.post(API + "registered-models/create", {"name": prompt}), 400,
                 "RESOURCE_ALREADY_EXISTS", "already taken by a prompt")
    assert_error(server.post(API + "registered-models/create",
                             {"name": prompt, "tags": [{"key": PROMPT_TAG, "value": "true"}]}),
                 400, "RESOURCE_ALREADY_EXISTS", f"Prompt (name={prompt}) already exists.")
    assert_error(server.post(API + "registered-models/create", {}), 400,
                 "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'name'")
    assert_error(server.post(API + "registered-models/create", {"name": ""}), 400,
                 "INVALID_PARAMETER_VALUE", "name")
    for tags, message in [([{"key": "bad*key", "value": "v"}], "Invalid tag name"),
                          ([{"value": "v"}], "key"),
                          ([{"key": "k" * 251, "value": "v"}], "250"),
                          ([{"key": "k", "value": "v" * 100001}], "100000")]:
        n = unique()
        assert_error(server.post(API + "registered-models/create", {"name": n, "tags": tags}),
                     400, "INVALID_PARAMETER_VALUE", message)
        assert_error(server.get(API + "registered-models/get", {"name": n}), 404,
                     "RESOURCE_DOES_NOT_EXIST")
    # the API limit; PostgreSQL's VARCHAR(5000) column is narrower (as for upstream there)
    long_value = "v" * (100000 if TEST_DB == "sqlite" else 5000)
    m = create_model(server, tags=[{"key": "k", "value": long_value}])
    assert m["tags"][0]["value"] == long_value


def test_get_registered_model_errors(server):
    assert_error(server.get(API + "registered-models/get", {"name": "nope-x"}), 404,
                 "RESOURCE_DOES_NOT_EXIST", "Registered Model with name=nope-x not found")
    assert_error(server.get(API + "registered-models/get", {"other": "x"}), 400,
                 "INVALID_PARAMETER_VALUE", "name")
    name = create_model(server)["name"]
    r = server.get("/ajax-api/2.0/mlflow/registered-models/get", params={"name": name})
    assert r.status_code == 200 and r.json()["registered_model"]["name"] == name


def test_update_registered_model(server):
    m = create_model(server, description="old")
    time.sleep(0.005)
    r = server.patch(API + "registered-models/update", json={"name": m["name"],
                                                            "description": "new"})
    assert r.status_code == 200, r.text
    u = r.json()["registered_model"]
    assert u["description"] == "new" and u["last_updated_timestamp"] > m["last_updated_timestamp"]
    assert u["creation_timestamp"] == m["creation_timestamp"]
    r = server.patch(API + "registered-models/update", json={"name": m["name"]})
    assert "description" not in r.json()["registered_model"]
    assert "description" not in get_model(server, m["name"])
    assert_error(server.patch(API + "registered-models/update", json={"name": "nope-y"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.patch(API + "registered-models/update", json={}), 400,
                 "INVALID_PARAMETER_VALUE")
    assert_error(server.post(API + "registered-models/update", {"name": m["name"]}), 405,
                 "BAD_REQUEST")


def test_rename_registered_model_carries_everything(server):
    name, new = unique(), unique("renamed")
    create_model(server, name, tags=[{"key": "k", "value": "v"}])
    create_version(server, name, tags=[{"key": "vk", "value": "vv"}])
    create_version(server, name)
    server.api("POST", "registered-models/alias", {"name": name, "alias": "champ", "version": "2"})
    before = get_version(server, name, 1)
    time.sleep(0.005)
    m = server.api("POST", "registered-models/rename",
                   {"name": name, "new_name": new})["registered_model"]
    assert m["name"] == new
    assert m["tags"] == [{"key": "k", "value": "v"}]
    assert m["aliases"] == [{"alias": "champ", "version": "2"}]
    assert [v["version"] for v in m["latest_versions"]] == ["2"]
    assert m["latest_versions"][0]["name"] == new
    v1 = get_version(server, new, 1)
    assert v1["tags"] == [{"key": "vk", "value": "vv"}]
    assert v1["last_updated_timestamp"] > before["last_updated_timestamp"]
    assert m["last_updated_timestamp"] >= v1["last_updated_timestamp"]
    assert get_version(server, new, 2)["aliases"] == ["champ"]
    assert_error(server.get(API + "registered-models/get", {"name": name}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.get(API + "model-versions/get", {"name": name, "version": "1"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")


def test_rename_errors(server):
    a, b = create_model(server)["name"], create_model(server)["name"]
    assert_error(server.post(API + "registered-models/rename", {"name": a, "new_name": b}), 400,
                 "RESOURCE_ALREADY_EXISTS", f"Registered Model (name={b}) already exists")
    assert_error(server.post(API + "registered-models/rename", {"name": a}), 400,
                 "INVALID_PARAMETER_VALUE", "new_name")
    assert_error(server.post(API + "registered-models/rename", {"name": a, "new_name": ""}), 400,
                 "INVALID_PARAMETER_VALUE", "new_name")
    assert_error(server.post(API + "registered-models/rename",
                             {"name": "nope-z", "new_name": unique()}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert get_model(server, a)["name"] == a


def test_delete_registered_model_is_hard_and_complete(server):
    name = unique()
    create_model(server, name, tags=[{"key": "k", "value": "v"}])
    create_version(server, name, tags=[{"key": "a", "value": "b"}])
    create_version(server, name)
    server.api("POST", "registered-models/alias", {"name": name, "alias": "x", "version": "1"})
    server.delete(API + "model-versions/delete", json={"name": name, "version": "2"})
    r = server.delete(API + "registered-models/delete", json={"name": name})
    assert r.status_code == 200 and r.json() == {}
    conn = db(server)
    for table in ["registered_models", "model_versions", "registered_model_tags",
                  "model_version_tags", "registered_model_aliases"]:
        assert conn.execute(f"SELECT count(*) FROM {table} WHERE name = ?",
                            (name,)).fetchone()[0] == 0, table
    conn.close()
    assert_error(server.delete(API + "registered-models/delete", json={"name": name}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.delete(API + "registered-models/delete", json={}), 400,
                 "INVALID_PARAMETER_VALUE")
    # the name is free again, and numbering restarts
    create_model(server, name)
    assert create_version(server, name)["version"] == "1"


def test_writes_racing_a_delete_get_404_not_a_database_error(server):
    """Deleting a model while versions, tags and aliases are written to it: each write
    either lands before the delete or answers 404, and one delete wins (the others 404).
    On PostgreSQL a write between the delete's children and its row used to fail the
    delete with a foreign-key violation (500, SQL text)."""
    from concurrent.futures import ThreadPoolExecutor
    import requests
    for round_ in range(3):
        name = f"race-{uuid.uuid4().hex[:8]}"
        server.api("POST", "registered-models/create", {"name": name})
        server.api("POST", "model-versions/create", {"name": name, "source": "s3://b/m"})
        calls = [("POST", "model-versions/create", {"name": name, "source": "s3://b/m"}),
                 ("POST", "registered-models/set-tag", {"name": name, "key": "k", "value": "v"}),
                 ("POST", "registered-models/alias", {"name": name, "alias": "a", "version": "1"}),
                 ("DELETE", "registered-models/delete", {"name": name})] * 4

        def run(call):
            method, endpoint, body = call
            return requests.request(method, f"{server.url}/api/2.0/mlflow/{endpoint}",
                                    json=body, timeout=60)

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(run, calls))
        for (method, endpoint, _), r in zip(calls, answers):
            assert r.status_code in (200, 404), (endpoint, r.status_code, r.text)
            assert "SQL" not in r.text, r.text
            if r.status_code == 404:
                assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", r.text
        deletes = [r.status_code for (_, e, _), r in zip(calls, answers) if e.endswith("delete")]
        assert deletes.count(200) == 1, deletes
        r = server.get("/api/2.0/mlflow/registered-models/get", params={"name": name})
        assert r.status_code == 404


def test_version_writes_racing_each_other_act_one_after_another(server):
    """Writes to one model's versions take turns (on PostgreSQL they lock the model's row
    first): an alias set while its version is deleted never points at the deleted version, a
    version deleted while it is transitioned stays deleted, transitions that archive the
    others leave one version in the stage, and no write fails on a deadlock. Before, on
    PostgreSQL, each of these happened in most rounds."""
    import threading
    import requests

    def race(*calls):
        barrier, answers = threading.Barrier(len(calls)), [None] * len(calls)

        def run(i):
            method, endpoint, body = calls[i]
            barrier.wait()
            answers[i] = requests.request(method, f"{server.url}/api/2.0/mlflow/{endpoint}",
                                          json=body, timeout=60)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in answers:
            assert r.status_code in (200, 404), r.text  # never a deadlock (503) or a 500
        return answers

    name = f"turns-{uuid.uuid4().hex[:8]}"
    server.api("POST", "registered-models/create", {"name": name})
    for round_ in range(8):
        v = server.api("POST", "model-versions/create",
                       {"name": name, "source": "s3://b/m"})["model_version"]["version"]
        delete, alias, transition = race(
            ("DELETE", "model-versions/delete", {"name": name, "version": v}),
            ("POST", "registered-models/alias", {"name": name, "alias": f"a{round_}", "version": v}),
            ("POST", "model-versions/transition-stage",
             {"name": name, "version": v, "stage": "Production", "archive_existing_versions": False}))
        assert delete.status_code == 200
        r = server.get("/api/2.0/mlflow/model-versions/get", params={"name": name, "version": v})
        assert r.status_code == 404, r.text  # deleted, not brought back by the transition
    model = server.api("GET", "registered-models/get", params={"name": name})["registered_model"]
    assert model.get("aliases", []) == []  # no alias on a deleted version
    versions = [server.api("POST", "model-versions/create", {"name": name, "source": "s3://b/m"})
                ["model_version"]["version"] for _ in range(4)]
    for _ in range(4):
        race(*[("POST", "model-versions/transition-stage",
                {"name": name, "version": v, "stage": "Production",
                 "archive_existing_versions": True}) for v in versions])
        found = server.api("GET", "model-versions/search",
                           params={"filter": f"name = '{name}'"})["model_versions"]
        assert [m["current_stage"] for m in found].count("Production") == 1, found


def test_registered_model_tags(server):
    name = create_model(server)["name"]
    server.api("POST", "registered-models/set-tag", {"name": name, "key": "a", "value": "1"})
    server.api("POST", "registered-models/set-tag", {"name": name, "key": "a", "value": "2"})
    server.api("POST", "registered-models/set-tag", {"name": name, "key": "b"})
    assert get_model(server, name)["tags"] == [{"key": "a", "value": "2"},
                                               {"key": "b", "value": ""}]
    r = server.delete(API + "registered-models/delete-tag", json={"name": name, "key": "a"})
    assert r.status_code == 200 and r.json() == {}
    r = server.delete(API + "registered-models/delete-tag", json={"name": name, "key": "a"})
    assert r.status_code == 200  # absent tag: silent success
    assert get_model(server, name)["tags"] == [{"key": "b", "value": ""}]
    assert_error(server.post(API + "registered-models/set-tag",
                             {"name": "nope-t", "key": "a", "value": "1"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.delete(API + "registered-models/delete-tag",
                               json={"name": "nope-t", "key": "a"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    for body, message in [({"name": name}, "key"), ({"key": "a"}, "name"),
                          ({"name": name, "key": "../x", "value": "1"}, "Invalid tag name"),
                          ({"name": name, "key": "k", "value": "v" * 100001}, "100000")]:
        assert_error(server.post(API + "registered-models/set-tag", body), 400,
                     "INVALID_PARAMETER_VALUE", message)
    assert_error(server.delete(API + "registered-models/delete-tag", json={"name": name}), 400,
                 "INVALID_PARAMETER_VALUE", "key")


# ---- model versions ----------------------------------------------------------------------------


def test_create_model_version_shape_and_numbering(server):
    name = create_model(server)["name"]
    before = now_ms()
    v = create_version(server, name, "s3://bucket/path/model",
                       tags=[{"key": "b", "value": "2"}, {"key": "a", "value": "1"}],
                       description="first", run_link="http://link")
    after = now_ms()
    assert v == {
        "name": name, "version": "1", "creation_timestamp": v["creation_timestamp"],
        "last_updated_timestamp": v["creation_timestamp"], "current_stage": "None",
        "description": "first", "source": "s3://bucket/path/model", "run_id": "",
        "status": "READY", "run_link": "http://link",
        "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}],
    }
    assert before <= v["creation_timestamp"] <= after
    m = get_model(server, name)
    assert m["last_updated_timestamp"] >= v["creation_timestamp"]
    v2 = create_version(server, name)
    assert v2["version"] == "2" and v2["description"] == "" and v2["run_link"] == ""
    assert "tags" not in v2 and "aliases" not in v2
    server.delete(API + "model-versions/delete", json={"name": name, "version": "2"})
    assert create_version(server, name)["version"] == "3"  # deleted versions still count
    assert get_version(server, name, 1) == v


def test_create_model_version_errors(server):
    name = create_model(server)["name"]
    assert_error(server.post(API + "model-versions/create", {"name": "nope-v", "source": "s3://b/m"}),
                 404, "RESOURCE_DOES_NOT_EXIST", "Registered Model with name=nope-v not found")
    assert_error(server.post(API + "model-versions/create", {"name": name}), 400,
                 "INVALID_PARAMETER_VALUE", "source")
    assert_error(server.post(API + "model-versions/create", {"source": "s3://b/m"}), 400,
                 "INVALID_PARAMETER_VALUE", "name")
    assert_error(server.post(API + "model-versions/create",
                             {"name": name, "source": "s3://b/m", "tags": [{"key": "a*"}]}),
                 400, "INVALID_PARAMETER_VALUE", "Invalid tag name")
    assert_error(server.post(API + "model-versions/create",
                             {"name": name, "source": "s3://b/m", "tags": {"key": "a"}}),
                 400, "INVALID_PARAMETER_VALUE")
    # nothing was created by the failures
    assert "latest_versions" not in get_model(server, name)


@pytest.mark.parametrize("source", [
    "s3://bucket/a/../b",
    "mlflow-artifacts:/0/x/%2E%2E/%2E%2E/etc",
    "mlflow-artifacts://host:5000/..%2f..%2fsecret",
    "http://host/api/2.0/mlflow-artifacts/artifacts/a%2500",
    "https://host/a/./b",
    "s3://bucket",
    "s3://bucket/",
    "runs:relative/path",
    "/local/models/model",
    "file:///local/models/model",
    "relative/dir",
    "file://remotehost/models",
])
def test_create_model_version_rejects_bad_sources(server, source):
    name = create_model(server)["name"]
    assert_error(server.post(API + "model-versions/create", {"name": name, "source": source}),
                 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("source", [
    "s3://bucket/a/b", "mlflow-artifacts:/0/abc/artifacts/model",
    "https://host/api/2.0/mlflow-artifacts/artifacts/0/x", "dbfs:/databricks/model",
    "gs://bucket/model%20dir/x", "runs:/0123456789abcdef/model",
])
def test_create_model_version_accepts_absolute_sources(server, source):
    name = create_model(server)["name"]
    v = create_version(server, name, source)
    assert v["source"] == source
    dl = server.api("GET", "model-versions/get-download-uri", params={"name": name, "version": "1"})
    assert dl == {"artifact_uri": source}


def test_local_source_must_be_inside_the_runs_artifacts(server, tmp_path):
    exp_id = make_experiment(server, artifact_location=str(tmp_path / "artifacts"))
    run = make_run(server, exp_id)
    run_root = run["artifact_uri"]
    assert run_root == f"{tmp_path}/artifacts/{run['run_id']}/artifacts"
    name = create_model(server)["name"]
    v = create_version(server, name, f"{run_root}/model", run_id=run["run_id"])
    assert v["source"] == f"{run_root}/model" and v["run_id"] == run["run_id"]
    v = create_version(server, name, f"file://{run_root}", run_id=run["run_id"])
    assert v["version"] == "2"
    for bad in [f"{run_root}/../../other", str(tmp_path / "elsewhere"), f"{run_root}x/model"]:
        assert_error(server.post(API + "model-versions/create",
                                 {"name": name, "source": bad, "run_id": run["run_id"]}),
                     400, "INVALID_PARAMETER_VALUE", "To use a local path as a model version source")
    assert_error(server.post(API + "model-versions/create",
                             {"name": name, "source": f"{run_root}/model", "run_id": "0" * 32}),
                 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=")
    # a run whose artifacts are proxied has no local directory to be inside of
    proxied = make_run(server, make_experiment(server))
    assert_error(server.post(API + "model-versions/create",
                             {"name": name, "source": str(tmp_path), "run_id": proxied["run_id"]}),
                 400, "INVALID_PARAMETER_VALUE")


def test_prompt_versions_skip_source_checks(server):
    name = create_model(server, tags=[{"key": PROMPT_TAG, "value": "true"}])["name"]
    v = create_version(server, name, "dummy-source", tags=[{"key": PROMPT_TAG, "value": "true"},
                                                           {"key": "mlflow.prompt.text",
                                                            "value": "Hi {{x}}"}])
    assert v["source"] == "dummy-source" and v["version"] == "1"


def test_a_version_serves_no_local_file_outside_runs_and_models(server, tmp_path):
    """A prompt version's source is not checked (as upstream), so it can name any local path;
    /model-versions/get-artifact serves a local file only from a run's or logged model's
    artifacts (or the proxy's destination), with auth off too: upstream would serve
    /etc/passwd here to anyone who can reach the port."""
    name = create_model(server)["name"]
    prompt = [{"key": PROMPT_TAG, "value": "false"}]  # the key alone skips the checks
    for source in ["/etc", "file:///etc", "file:/etc", "/proc/self/root/etc"]:
        v = create_version(server, name, source, tags=prompt)
        r = server.get("/model-versions/get-artifact",
                       params={"name": name, "version": v["version"], "path": "passwd"})
        assert r.status_code == 403 and b"root:" not in r.content, (source, r.text[:200])
    # a run's own files are served, wherever the run's experiment put them
    run = make_run(server, make_experiment(server, artifact_location=str(tmp_path / "a")))
    os.makedirs(os.path.join(tmp_path, "a", run["run_id"], "artifacts", "model"))
    with open(os.path.join(tmp_path, "a", run["run_id"], "artifacts", "model", "MLmodel"), "w") as f:
        f.write("flavors: {}\n")
    v = create_version(server, name, f"{run['artifact_uri']}/model", run_id=run["run_id"])
    r = server.get("/model-versions/get-artifact",
                   params={"name": name, "version": v["version"], "path": "MLmodel"})
    assert r.status_code == 200 and r.content == b"flavors: {}\n", r.text


def test_source_regex_from_environment(make_server):
    s = make_server(env={"MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX":
                         "^mlflow-artifacts:/"})
    name = create_model(s)["name"]
    assert_error(s.post(API + "model-versions/create", {"name": name, "source": "s3://b/m"}),
                 400, "INVALID_PARAMETER_VALUE", "Invalid model version source: 's3://b/m'")
    assert create_version(s, name, "mlflow-artifacts:/1/m")["version"] == "1"


def test_get_model_version_errors(server):
    name = create_model(server)["name"]
    create_version(server, name)
    assert_error(server.get(API + "model-versions/get", {"name": name, "version": "abc"}), 400,
                 "INVALID_PARAMETER_VALUE", "Parameter 'version' must be an integer, got 'abc'.")
    assert_error(server.get(API + "model-versions/get", {"name": name, "version": "7"}), 404,
                 "RESOURCE_DOES_NOT_EXIST", f"Model Version (name={name}, version=7) not found")
    assert_error(server.get(API + "model-versions/get", {"name": name}), 400,
                 "INVALID_PARAMETER_VALUE", "version")
    assert_error(server.get(API + "model-versions/get", {"version": "1"}), 400,
                 "INVALID_PARAMETER_VALUE", "name")
    assert_error(server.get(API + "model-versions/get-download-uri", {"name": name,
                                                                      "version": "x"}),
                 400, "INVALID_PARAMETER_VALUE")
    assert_error(server.get(API + "model-versions/get-download-uri", {"name": name,
                                                                      "version": "5"}),
                 404, "RESOURCE_DOES_NOT_EXIST")


def test_update_model_version(server):
    name = create_model(server)["name"]
    v = create_version(server, name, description="d0")
    m0 = get_model(server, name)
    time.sleep(0.005)
    r = server.patch(API + "model-versions/update", json={"name": name, "version": "1",
                                                          "description": "d1"})
    assert r.status_code == 200, r.text
    u = r.json()["model_version"]
    assert u["description"] == "d1" and u["last_updated_timestamp"] > v["last_updated_timestamp"]
    assert get_model(server, name)["last_updated_timestamp"] == m0["last_updated_timestamp"]
    r = server.patch(API + "model-versions/update", json={"name": name, "version": "1"})
    assert "description" not in r.json()["model_version"]  # absent: cleared (NULL)
    assert_error(server.patch(API + "model-versions/update",
                              json={"name": name, "version": "9", "description": "x"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.patch(API + "model-versions/update", json={"name": name, "version": "z"}),
                 400, "INVALID_PARAMETER_VALUE")


def test_transition_stage(server):
    name = create_model(server)["name"]
    for _ in range(4):
        create_version(server, name)
    m0 = get_model(server, name)
    time.sleep(0.005)
    v = server.api("POST", "model-versions/transition-stage",
                   {"name": name, "version": "1", "stage": "staging",
                    "archive_existing_versions": False})["model_version"]
    assert v["current_stage"] == "Staging"
    assert get_model(server, name)["last_updated_timestamp"] > m0["last_updated_timestamp"]
    server.api("POST", "model-versions/transition-stage",
               {"name": name, "version": "2", "stage": "STAGING"})
    server.api("POST", "model-versions/transition-stage",
               {"name": name, "version": "4", "stage": "Production"})
    v = server.api("POST", "model-versions/transition-stage",
                   {"name": name, "version": "3", "stage": "Staging",
                    "archive_existing_versions": True})["model_version"]
    assert v["current_stage"] == "Staging"
    stages = {str(i): get_version(server, name, i)["current_stage"] for i in range(1, 5)}
    assert stages == {"1": "Archived", "2": "Archived", "3": "Staging", "4": "Production"}
    for body, status, message in [
        ({"name": name, "version": "1", "stage": "Deleted_Internal"}, 400,
         "Invalid Model Version stage"),
        ({"name": name, "version": "1", "stage": "bogus"}, 400, "Invalid Model Version stage"),
        ({"name": name, "version": "1", "stage": "Archived", "archive_existing_versions": True},
         400, "is not an Active stage"),
        ({"name": name, "version": "1", "stage": "None", "archive_existing_versions": True},
         400, "is not an Active stage"),
        ({"name": name, "version": "1"}, 400, "stage"),
        ({"name": name, "version": "8", "stage": "None"}, 404, "not found"),
        ({"name": name, "version": "1", "stage": "None", "archive_existing_versions": "yes"},
         400, "archive_existing_versions"),
    ]:
        code = "RESOURCE_DOES_NOT_EXIST" if status == 404 else "INVALID_PARAMETER_VALUE"
        assert_error(server.post(API + "model-versions/transition-stage", body), status, code,
                     message)
    assert get_version(server, name, 1)["current_stage"] == "Archived"


def test_latest_versions(server):
    name = create_model(server)["name"]
    for _ in range(6):
        create_version(server, name)
    for version, stage in [(1, "Production"), (2, "Staging"), (3, "Production"), (5, "Archived")]:
        server.api("POST", "model-versions/transition-stage",
                   {"name": name, "version": str(version), "stage": stage})
    server.api("POST", "registered-models/alias", {"name": name, "alias": "prod", "version": "3"})
    server.delete(API + "model-versions/delete", json={"name": name, "version": "6"})
    # stages ordered by their lowest live version: Production(1), Staging(2), None(4), Archived(5)
    r = server.api("POST", "registered-models/get-latest-versions", {"name": name})
    assert [(v["version"], v["current_stage"]) for v in r["model_versions"]] == [
        ("3", "Production"), ("2", "Staging"), ("4", "None"), ("5", "Archived")]
    assert r["model_versions"][0]["aliases"] == ["prod"]
    r = server.api("GET", "registered-models/get-latest-versions",
                   params={"name": name, "stages": ["none", "PRODUCTION"]})
    assert [v["version"] for v in r["model_versions"]] == ["3", "4"]
    r = server.api("POST", "registered-models/get-latest-versions",
                   {"name": name, "stages": ["Archived"]})
    assert [v["version"] for v in r["model_versions"]] == ["5"]
    m = get_model(server, name)
    assert [v["version"] for v in m["latest_versions"]] == ["3", "2", "4", "5"]
    assert all("aliases" not in v for v in m["latest_versions"])
    assert_error(server.post(API + "registered-models/get-latest-versions",
                             {"name": name, "stages": ["Nope"]}),
                 400, "INVALID_PARAMETER_VALUE", "Invalid Model Version stage")
    assert_error(server.post(API + "registered-models/get-latest-versions", {"name": "nope-l"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    empty = create_model(server)["name"]
    assert server.api("POST", "registered-models/get-latest-versions", {"name": empty}) == {}


def test_delete_model_version_soft_deletes_and_redacts(server):
    name = create_model(server)["name"]
    create_version(server, name, "s3://b/m1", run_link="l", description="d",
                   tags=[{"key": "k", "value": "v"}])
    create_version(server, name)
    server.api("POST", "registered-models/alias", {"name": name, "alias": "a1", "version": "1"})
    server.api("POST", "registered-models/alias", {"name": name, "alias": "a2", "version": "2"})
    r = server.delete(API + "model-versions/delete", json={"name": name, "version": "1"})
    assert r.status_code == 200 and r.json() == {}
    conn = db(server)
    row = conn.execute("SELECT current_stage, description, user_id, source, run_id, run_link, "
                       "status_message FROM model_versions WHERE name = ? AND version = 1",
                       (name,)).fetchone()
    assert row == ("Deleted_Internal", None, None, "REDACTED-SOURCE-PATH", "REDACTED-RUN-ID",
                   "REDACTED-RUN-LINK", None)
    assert conn.execute("SELECT key, value FROM model_version_tags WHERE name = ?",
                        (name,)).fetchall() == [("k", "v")]
    conn.close()
    assert_error(server.get(API + "model-versions/get", {"name": name, "version": "1"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.delete(API + "model-versions/delete", json={"name": name, "version": "1"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    m = get_model(server, name)
    assert m["aliases"] == [{"alias": "a2", "version": "2"}]
    assert [v["version"] for v in m["latest_versions"]] == ["2"]
    assert [v["version"] for v in search_versions(server, filter=f"name = '{name}'")
            ["model_versions"]] == ["2"]
    assert_error(server.get(API + "model-versions/get-download-uri",
                            {"name": name, "version": "1"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.post(API + "model-versions/set-tag",
                             {"name": name, "version": "1", "key": "x", "value": "y"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.patch(API + "model-versions/update",
                              json={"name": name, "version": "1", "description": "x"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.post(API + "model-versions/transition-stage",
                             {"name": name, "version": "1", "stage": "Staging"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.post(API + "registered-models/alias",
                             {"name": name, "alias": "a3", "version": "1"}),
                 404, "RESOURCE_DOES_NOT_EXIST")


def test_model_version_tags(server):
    name = create_model(server)["name"]
    create_version(server, name)
    server.api("POST", "model-versions/set-tag", {"name": name, "version": "1", "key": "a",
                                                  "value": "1"})
    server.api("POST", "model-versions/set-tag", {"name": name, "version": "1", "key": "a",
                                                  "value": "2"})
    # version is a string field: a JSON number is a type error, as in protobuf
    assert_error(server.post(API + "model-versions/set-tag",
                             {"name": name, "version": 1, "key": "a", "value": "3"}),
                 400, "INVALID_PARAMETER_VALUE", "version")
    server.api("POST", "model-versions/set-tag", {"name": name, "version": "1", "key": "e"})
    assert get_version(server, name, 1)["tags"] == [{"key": "a", "value": "2"},
                                                    {"key": "e", "value": ""}]
    r = server.delete(API + "model-versions/delete-tag", json={"name": name, "version": "1",
                                                               "key": "a"})
    assert r.status_code == 200 and r.json() == {}
    r = server.delete(API + "model-versions/delete-tag", json={"name": name, "version": "1",
                                                               "key": "a"})
    assert r.status_code == 200
    assert get_version(server, name, 1)["tags"] == [{"key": "e", "value": ""}]
    for body, status, message in [
        ({"name": name, "version": "1"}, 400, "key"),
        ({"name": name, "key": "k", "value": "v"}, 400, "version"),
        ({"name": name, "version": "x", "key": "k", "value": "v"}, 400, "must be an integer"),
        ({"name": name, "version": "1", "key": "a//b", "value": "v"}, 400, "Invalid tag name"),
        ({"name": name, "version": "1", "key": "k", "value": "v" * 100001}, 400, "100000"),
        ({"name": name, "version": "3", "key": "k", "value": "v"}, 404, "not found"),
        ({"name": "nope-w", "version": "1", "key": "k", "value": "v"}, 404, "not found"),
    ]:
        code = "RESOURCE_DOES_NOT_EXIST" if status == 404 else "INVALID_PARAMETER_VALUE"
        assert_error(server.post(API + "model-versions/set-tag", body), status, code, message)
    assert_error(server.delete(API + "model-versions/delete-tag",
                               json={"name": name, "version": "4", "key": "e"}),
                 404, "RESOURCE_DOES_NOT_EXIST")


# ---- aliases ----------------------------------------------------------------------------------


def test_aliases(server):
    name = create_model(server)["name"]
    create_version(server, name)
    create_version(server, name)
    assert server.api("POST", "registered-models/alias",
                      {"name": name, "alias": "champion", "version": "1"}) == {}
    server.api("POST", "registered-models/alias", {"name": name, "alias": "b-2_x", "version": "2"})
    v = server.api("GET", "registered-models/alias",
                   params={"name": name, "alias": "champion"})["model_version"]
    assert v["version"] == "1" and v["aliases"] == ["champion"]
    # moving an alias
    server.api("POST", "registered-models/alias", {"name": name, "alias": "champion",
                                                   "version": "2"})
    v = get_version(server, name, 2)
    assert v["aliases"] == ["b-2_x", "champion"]
    assert "aliases" not in get_version(server, name, 1)
    assert get_model(server, name)["aliases"] == [{"alias": "b-2_x", "version": "2"},
                                                  {"alias": "champion", "version": "2"}]
    r = server.delete(API + "registered-models/alias", json={"name": name, "alias": "champion"})
    assert r.status_code == 200 and r.json() == {}
    r = server.delete(API + "registered-models/alias", json={"name": name, "alias": "champion"})
    assert r.status_code == 200  # absent alias: silent success
    assert_error(server.get(API + "registered-models/alias", {"name": name, "alias": "champion"}),
                 400, "INVALID_PARAMETER_VALUE", "Registered model alias champion not found.")
    assert_error(server.delete(API + "registered-models/alias",
                               json={"name": "nope-al", "alias": "x"}),
                 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize("alias, message", [
    ("latest", "reserved"), ("LaTeSt", "reserved"), ("v1", "reserved"), ("V23", "reserved"),
    ("has space", "Invalid alias name"), ("a.b", "Invalid alias name"), ("a/b", "Invalid alias"),
    ("a" * 256, "255"), ("", "alias"),
])
def test_alias_name_rules(server, alias, message):
    name = create_model(server)["name"]
    create_version(server, name)
    assert_error(server.post(API + "registered-models/alias",
                             {"name": name, "alias": alias, "version": "1"}),
                 400, "INVALID_PARAMETER_VALUE", message)


def test_alias_errors_and_latest(server):
    name = create_model(server)["name"]
    assert_error(server.get(API + "registered-models/alias", {"name": name, "alias": "latest"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.get(API + "registered-models/alias", {"name": "nope-m", "alias": "latest"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    for _ in range(3):
        create_version(server, name)
    v = server.api("GET", "registered-models/alias",
                   params={"name": name, "alias": "Latest"})["model_version"]
    assert v["version"] == "3"
    assert_error(server.post(API + "registered-models/alias",
                             {"name": name, "alias": "x", "version": "9"}),
                 404, "RESOURCE_DOES_NOT_EXIST", f"Model Version (name={name}, version=9) not found")
    assert_error(server.post(API + "registered-models/alias",
                             {"name": name, "alias": "x", "version": "one"}),
                 400, "INVALID_PARAMETER_VALUE", "must be an integer")
    assert_error(server.post(API + "registered-models/alias", {"name": name, "alias": "x"}),
                 400, "INVALID_PARAMETER_VALUE", "version")
    assert_error(server.get(API + "registered-models/alias", {"name": name, "alias": "nope"}),
                 400, "INVALID_PARAMETER_VALUE", "not found")


# ---- search -----------------------------------------------------------------------------------


@pytest.fixture
def registry_server(make_server):
    """Fresh server: models m-a, m-b, M-c, m-d (tags), one prompt; versions on m-a/m-b."""
    s = make_server()
    specs = [("m-a", {"team": "x", "env": "prod"}), ("m-b", {"team": "y", "env": "prod"}),
             ("M-c", {"team": "x"}), ("m-d", {})]
    for name, tags in specs:
        create_model(s, name, tags=[{"key": k, "value": v} for k, v in tags.items()])
        time.sleep(0.003)
    create_model(s, "p-1", tags=[{"key": PROMPT_TAG, "value": "true"}, {"key": "team", "value": "x"}])
    run_a, run_b = "a" * 32, "b" * 32
    create_version(s, "m-a", "s3://b/a1", run_id=run_a, tags=[{"key": "flavor", "value": "sk"}])
    time.sleep(0.003)
    create_version(s, "m-a", "s3://b/a2", run_id=run_b)
    time.sleep(0.003)
    create_version(s, "m-b", "s3://b/b1", run_id=run_a, tags=[{"key": "flavor", "value": "torch"}])
    create_version(s, "p-1", "dummy-source", tags=[{"key": PROMPT_TAG, "value": "true"}])
    return s


def model_names(resp):
    return [m["name"] for m in resp.get("registered_models", [])]


def version_keys(resp):
    return [(v["name"], v["version"]) for v in resp.get("model_versions", [])]


def test_search_registered_models_filters(registry_server):
    s = registry_server
    assert model_names(search_models(s)) == ["M-c", "m-a", "m-b", "m-d"]  # prompts excluded
    assert model_names(search_models(s, filter="name = 'm-a'")) == ["m-a"]
    assert model_names(search_models(s, filter="name != 'm-a'")) == ["M-c", "m-b", "m-d"]
    assert model_names(search_models(s, filter="name LIKE 'm-%'")) == ["m-a", "m-b", "m-d"]
    assert model_names(search_models(s, filter="name ILIKE 'm-%'")) == ["M-c", "m-a", "m-b", "m-d"]
    assert model_names(search_models(s, filter="name like 'm-%'")) == ["m-a", "m-b", "m-d"]
    assert model_names(search_models(s, filter="attribute.name = 'M-c'")) == ["M-c"]
    assert model_names(search_models(s, filter="tags.team = 'x'")) == ["M-c", "m-a"]
    assert model_names(search_models(s, filter="tag.team = 'x' AND tags.env = 'prod'")) == ["m-a"]
    assert model_names(search_models(s, filter="tags.team != 'x'")) == ["m-b"]
    assert model_names(search_models(s, filter="tags.team LIKE '%' AND tags.team != 'y'")) == [
        "M-c", "m-a"]
    assert model_names(search_models(s, filter=f"tags.`{PROMPT_TAG}` = 'true'")) == ["p-1"]
    assert model_names(search_models(s, filter=f"tags.`{PROMPT_TAG}` = 'false'")) == [
        "M-c", "m-a", "m-b", "m-d"]


def test_search_registered_models_results_are_complete(registry_server):
    s = registry_server
    s.api("POST", "registered-models/alias", {"name": "m-a", "alias": "best", "version": "1"})
    r = search_models(s, filter="name = 'm-a'")
    assert r["registered_models"][0] == get_model(s, "m-a")
    m = r["registered_models"][0]
    assert m["aliases"] == [{"alias": "best", "version": "1"}]
    assert m["tags"] == [{"key": "env", "value": "prod"}, {"key": "team", "value": "x"}]
    assert m["latest_versions"] == [get_version(s, "m-a", 2)]
    # latest versions carry their tags
    s.api("POST", "model-versions/transition-stage",
          {"name": "m-b", "version": "1", "stage": "Production"})
    m = search_models(s, filter="name = 'm-b'")["registered_models"][0]
    assert m["latest_versions"] == [get_version(s, "m-b", 1)]
    assert m["latest_versions"][0]["tags"] == [{"key": "flavor", "value": "torch"}]
    assert m["latest_versions"][0]["current_stage"] == "Production"


def test_search_registered_models_order_and_paging(registry_server):
    s = registry_server
    assert model_names(search_models(s, order_by="name DESC")) == ["m-d", "m-b", "m-a", "M-c"]
    s.api("POST", "registered-models/set-tag", {"name": "m-a", "key": "touch", "value": "1"})
    s.patch(API + "registered-models/update", json={"name": "m-d", "description": "x"})
    # m-a got a version after m-d's creation; m-d's update is the newest
    assert model_names(search_models(s, order_by=["timestamp DESC"]))[0] == "m-d"
    assert model_names(search_models(s, order_by=["last_updated_timestamp ASC"]))[0] == "M-c"
    r = search_models(s, max_results=2)
    assert model_names(r) == ["M-c", "m-a"] and r["next_page_token"] == token(2)
    r = search_models(s, max_results=2, page_token=r["next_page_token"])
    assert model_names(r) == ["m-b", "m-d"] and "next_page_token" not in r
    r = search_models(s, max_results=3, page_token=token(3))
    assert model_names(r) == ["m-d"] and "next_page_token" not in r


@pytest.mark.parametrize("params", [
    {"filter": "name IN ('m-a')"}, {"filter": "creation_timestamp > 1"},
    {"filter": "name = 'a' OR name = 'b'"}, {"filter": "tags.team > 'x'"},
    {"filter": "run_id = 'x'"}, {"order_by": "creation_timestamp DESC"},
    {"order_by": ["name", "name DESC"]}, {"order_by": "tags.team"},
    {"max_results": "1001"}, {"max_results": "0"}, {"max_results": "many"},
    {"page_token": "not-a-token"},
])
def test_search_registered_models_errors(registry_server, params):
    assert_error(registry_server.get(API + "registered-models/search", params), 400,
                 "INVALID_PARAMETER_VALUE")


def test_search_registered_models_get_only_and_default_limit(make_server):
    s = make_server()
    assert_error(s.post(API + "registered-models/search", {}), 405, "BAD_REQUEST")
    conn = db(s)
    conn.executemany("INSERT INTO registered_models (name, creation_time, last_updated_time) "
                     "VALUES (?, 1, 1)", [(f"bulk-{i:03d}",) for i in range(101)])
    conn.close()
    r = search_models(s)
    assert len(r["registered_models"]) == 100 and r["next_page_token"] == token(100)
    r = search_models(s, max_results=1000)
    assert len(r["registered_models"]) == 101 and "next_page_token" not in r


def test_search_model_versions(registry_server):
    s = registry_server
    all_versions = version_keys(search_versions(s, order_by=["name", "version_number"]))
    assert all_versions == [("m-a", "1"), ("m-a", "2"), ("m-b", "1")]  # prompt excluded
    assert version_keys(search_versions(s, filter="name = 'm-a'")) == [("m-a", "2"), ("m-a", "1")]
    assert version_keys(search_versions(s, filter=f"run_id = '{'a' * 32}'",
                                        order_by="name")) == [("m-a", "1"), ("m-b", "1")]
    assert version_keys(search_versions(s, filter=f"run_id IN ('{'b' * 32}', 'ZZ')")) == [
        ("m-a", "2")]
    assert version_keys(search_versions(s, filter="source_path = 's3://b/b1'")) == [("m-b", "1")]
    assert version_keys(search_versions(s, filter="name = 'm-a' AND version_number > 1")) == [
        ("m-a", "2")]
    assert version_keys(search_versions(s, filter="version_number >= '2'")) == [("m-a", "2")]
    assert version_keys(search_versions(s, filter="tags.flavor = 'torch'")) == [("m-b", "1")]
    assert version_keys(search_versions(s, filter="name LIKE 'm-%'",
                                        order_by=["creation_timestamp DESC"])) == [
        ("m-b", "1"), ("m-a", "2"), ("m-a", "1")]
    assert version_keys(search_versions(s, filter=f"tags.`{PROMPT_TAG}` = 'true'")) == [
        ("p-1", "1")]
    v = search_versions(s, filter="name = 'm-b'")["model_versions"][0]
    assert v == {**get_version(s, "m-b", 1)}
    s.api("POST", "registered-models/alias", {"name": "m-a", "alias": "x", "version": "1"})
    v = search_versions(s, filter="name = 'm-a' AND version_number = 1")["model_versions"][0]
    assert "aliases" not in v and v["tags"] == [{"key": "flavor", "value": "sk"}]
    # default order: last_updated_timestamp DESC, name ASC, version DESC
    s.api("POST", "model-versions/set-tag", {"name": "m-a", "version": "1", "key": "k",
                                             "value": "v"})  # tags do not touch times
    s.patch(API + "model-versions/update", json={"name": "m-a", "version": "1",
                                                 "description": "newest"})
    assert version_keys(search_versions(s))[0] == ("m-a", "1")


def test_search_model_versions_paging_and_errors(registry_server):
    s = registry_server
    r = search_versions(s, max_results=2, order_by=["name", "version_number"])
    assert version_keys(r) == [("m-a", "1"), ("m-a", "2")] and r["next_page_token"] == token(2)
    r = search_versions(s, max_results=2, order_by=["name", "version_number"],
                        page_token=r["next_page_token"])
    assert version_keys(r) == [("m-b", "1")] and "next_page_token" not in r
    assert search_versions(s, max_results=200000)["model_versions"]
    for params in [{"max_results": "0"}, {"max_results": "-1"}, {"max_results": "200001"},
                   {"filter": "name NOT IN ('a')"}, {"filter": "status = 'READY'"},
                   {"filter": "version_number = 'abc'"}, {"filter": "name > 'a'"},
                   {"order_by": "version_number SIDEWAYS"}, {"order_by": ["name", "name"]},
                   {"order_by": "source_path"}, {"page_token": "%%%"}]:
        assert_error(s.get(API + "model-versions/search", params), 400,
                     "INVALID_PARAMETER_VALUE")
    assert_error(s.post(API + "model-versions/search", {}), 405, "BAD_REQUEST")


# ---- logged models and the client's register_model flow ----------------------------------------


def test_register_logged_model_flow(server):
    exp_id = make_experiment(server)
    run = make_run(server, exp_id)
    lm = make_logged_model(server, exp_id, run["run_id"])
    name = unique("registered")
    # register_model: create (or RESOURCE_ALREADY_EXISTS), then the version
    create_model(server, name)
    assert_error(server.post(API + "registered-models/create", {"name": name}), 400,
                 "RESOURCE_ALREADY_EXISTS")
    source = f"models:/{lm['model_id']}"
    v = create_version(server, name, source, model_id=lm["model_id"])
    assert v["source"] == source and v["run_id"] == run["run_id"] and v["version"] == "1"
    assert get_version(server, name, 1)["status"] == "READY"
    server.api("POST", "registered-models/alias", {"name": name, "alias": "champion",
                                                   "version": v["version"]})
    by_alias = server.api("GET", "registered-models/alias",
                          params={"name": name, "alias": "champion"})["model_version"]
    assert by_alias["version"] == "1" and by_alias["aliases"] == ["champion"]
    dl = server.api("GET", "model-versions/get-download-uri", params={"name": name, "version": "1"})
    assert dl == {"artifact_uri": lm["artifact_uri"]}
    assert lm["artifact_uri"] == f"mlflow-artifacts:/{exp_id}/models/{lm['model_id']}/artifacts"

    def versions_tag():
        info = server.api("GET", f"logged-models/{lm['model_id']}")["model"]["info"]
        tags = {t["key"]: t["value"] for t in info.get("tags", [])}
        return json.loads(tags["mlflow.modelVersions"])

    assert versions_tag() == [{"name": name, "version": 1}]
    other = create_model(server)["name"]
    create_version(server, other, source, model_id=lm["model_id"])
    assert versions_tag() == [{"name": name, "version": 1}, {"name": other, "version": 1}]
    # models:/<name>/<version> sources take that version's download URI
    third = create_model(server)["name"]
    v = create_version(server, third, f"models:/{name}/1")
    assert v["source"] == f"models:/{name}/1"
    dl = server.api("GET", "model-versions/get-download-uri", params={"name": third, "version": "1"})
    assert dl == {"artifact_uri": lm["artifact_uri"]}


def test_one_logged_model_registered_into_many_models_at_once(server):
    """Each version registered from one logged model is appended to its mlflow.modelVersions
    tag; concurrent registrations into different models must not overwrite each other's
    entries (PostgreSQL lost 10 of 24 before the logged model's row was locked)."""
    from concurrent.futures import ThreadPoolExecutor
    exp_id = make_experiment(server)
    lm = make_logged_model(server, exp_id, make_run(server, exp_id)["run_id"])
    names = [create_model(server)["name"] for _ in range(8)]
    source = f"models:/{lm['model_id']}"

    def register(name):
        return [server.post(API + "model-versions/create",
                            {"name": name, "source": source, "model_id": lm["model_id"]}).status_code
                for _ in range(3)]

    with ThreadPoolExecutor(8) as pool:
        statuses = [s for batch in pool.map(register, names) for s in batch]
    assert statuses == [200] * 24
    info = server.api("GET", f"logged-models/{lm['model_id']}")["model"]["info"]
    tags = {t["key"]: t["value"] for t in info.get("tags", [])}
    entries = json.loads(tags["mlflow.modelVersions"])
    assert sorted((e["name"], e["version"]) for e in entries) == \
        sorted((n, v) for n in names for v in (1, 2, 3))


def test_model_id_gives_run_id_and_bad_models_sources(server):
    exp_id = make_experiment(server)
    run = make_run(server, exp_id)
    lm = make_logged_model(server, exp_id, run["run_id"])
    name = create_model(server)["name"]
    v = create_version(server, name, "mlflow-artifacts:/x/y/artifacts", model_id=lm["model_id"])
    assert v["run_id"] == run["run_id"]
    dl = server.api("GET", "model-versions/get-download-uri", params={"name": name, "version": "1"})
    assert dl == {"artifact_uri": "mlflow-artifacts:/x/y/artifacts"}
    v = create_version(server, name, "s3://b/m", run_id="c" * 32, model_id=lm["model_id"])
    assert v["run_id"] == "c" * 32
    assert_error(server.post(API + "model-versions/create",
                             {"name": name, "source": "models:/m-" + "0" * 32}),
                 404, "RESOURCE_DOES_NOT_EXIST", "Unable to fetch model from model URI source")
    assert_error(server.post(API + "model-versions/create",
                             {"name": name, "source": "s3://b/m", "model_id": "m-" + "1" * 32}),
                 404, "RESOURCE_DOES_NOT_EXIST", "Logged model with ID")
    assert_error(server.post(API + "model-versions/create",
                             {"name": name, "source": f"models:/{name}/99"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    for bad in ["models:/", "models:/a/b/c", f"models:/{name}/Production", f"models:/{name}@x"]:
        assert_error(server.post(API + "model-versions/create", {"name": name, "source": bad}),
                     400, "INVALID_PARAMETER_VALUE")
    # a deleted logged model is not found
    server.delete(API + f"logged-models/{lm['model_id']}", json={"model_id": lm["model_id"]})
    assert_error(server.post(API + "model-versions/create",
                             {"name": name, "source": f"models:/{lm['model_id']}"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert [v["version"] for v in search_versions(server, filter=f"name = '{name}'")
            ["model_versions"]] == ["2", "1"]


def test_local_source_inside_logged_model_artifacts(server, tmp_path):
    exp_id = make_experiment(server, artifact_location=str(tmp_path))
    lm = make_logged_model(server, exp_id)
    name = create_model(server)["name"]
    root = lm["artifact_uri"]
    assert root.startswith(str(tmp_path))
    v = create_version(server, name, f"{root}/model", model_id=lm["model_id"])
    assert v["source"] == f"{root}/model" and "run_id" not in v
    assert_error(server.post(API + "model-versions/create",
                             {"name": name, "source": str(tmp_path / "x"),
                              "model_id": lm["model_id"]}),
                 400, "INVALID_PARAMETER_VALUE", "model_id")


def test_search_by_many_tag_keys(make_server):
    """Ten tag keys in one filter: the first eight joined in one list, the rest probed; a
    model (version) matches only with a tag row satisfying every key's clauses."""
    s = make_server()
    tags = [{"key": f"k{i}", "value": f"v{i}"} for i in range(10)]
    for name in ("all", "nine"):
        s.api("POST", "registered-models/create",
              {"name": name, "tags": tags if name == "all" else tags[:9]})
        v = s.api("POST", "model-versions/create", {"name": name, "source": "s3://b/x"})
        s.api("POST", "model-versions/set-tag", {"name": name, "version": v["model_version"]["version"],
                                                 "key": "k9", "value": "v9"})
        for t in tags[:9]:
            s.api("POST", "model-versions/set-tag", {"name": name, "version": "1", **t})
    every = " AND ".join(f"tags.k{i} = 'v{i}'" for i in range(10))
    got = s.api("GET", "registered-models/search", params={"filter": every})
    assert [m["name"] for m in got["registered_models"]] == ["all"]
    got = s.api("GET", "model-versions/search", params={"filter": every})
    assert sorted(v["name"] for v in got["model_versions"]) == ["all", "nine"]
    wrong = every.replace("tags.k9 = 'v9'", "tags.k9 = 'v8'")
    assert s.api("GET", "registered-models/search", params={"filter": wrong}) == {}
    assert s.api("GET", "model-versions/search", params={"filter": wrong}) == {}
    some = every + " AND tags.k0 LIKE 'v%' AND tags.k9 != 'x'"
    got = s.api("GET", "registered-models/search", params={"filter": some})
    assert [m["name"] for m in got["registered_models"]] == ["all"]
