"""`mlflow.<flavor>.log_model(..., registered_model_name=...)` end to end, as the
MLflow 3 client sends it (rest-api.md §6 intro, §7.8, §8): logged model, its
files through the artifact proxy, finalize, registration, alias — then
`mlflow.pyfunc.load_model("models:/name@alias")`'s path back: alias -> version
-> download URI -> proxy listing walk -> files, byte-identical."""
import json
import os
import uuid

ART = "/api/2.0/mlflow-artifacts/artifacts"


def proxy_path(uri):
    """What the client does with an mlflow-artifacts:/ URI."""
    assert uri.startswith("mlflow-artifacts:/"), uri
    return uri[len("mlflow-artifacts:/"):].lstrip("/")


def walk(server, path):
    """The client's directory walk: list, recurse into is_dir entries, collect files."""
    r = server.get(ART, params={"path": path})
    assert r.status_code == 200, r.text
    files = []
    for f in r.json().get("files", []):
        child = f"{path}/{f['path']}"
        files += walk(server, child) if f["is_dir"] else [child]
    return files


def test_log_model_register_and_load_by_alias(server):
    exp = server.api("POST", "experiments/create", {"name": "flow-" + uuid.uuid4().hex})
    exp_id = exp["experiment_id"]
    run = server.api("POST", "runs/create", {"experiment_id": exp_id, "run_name": "train"})
    run_id = run["run"]["info"]["run_id"]
    server.api("POST", "runs/log-batch", {"run_id": run_id, "params": [{"key": "alpha", "value": "0.5"}],
                                          "metrics": [{"key": "rmse", "value": 0.25, "timestamp": 1, "step": 0}]})

    lm = server.api("POST", "logged-models", {
        "experiment_id": exp_id, "name": "model", "source_run_id": run_id, "model_type": "",
        "params": [{"key": "alpha", "value": "0.5"}],
        "tags": [{"key": "mlflow.source.name", "value": "train.py"}]})["model"]
    model_id = lm["info"]["model_id"]
    assert lm["info"]["status"] == "LOGGED_MODEL_PENDING"
    server.api("POST", "runs/outputs", {"run_id": run_id, "models": [{"model_id": model_id, "step": 0}]})

    files = {
        "MLmodel": b"artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
                   b"model_id: " + model_id.encode() + b"\n",
        "model.pkl": os.urandom(300_000),
        "conda.yaml": b"name: mlflow-env\ndependencies:\n- python=3.11\n",
        "requirements.txt": b"mlflow==3.6.0\nscikit-learn\n",
        "metadata/MLmodel": b"nested copy\n",
        "serving input/input_example.json": b'{"inputs": [[1, 2]]}',
    }
    root = proxy_path(lm["info"]["artifact_uri"])
    assert root == f"{exp_id}/models/{model_id}/artifacts"
    for name, data in files.items():
        r = server.put(f"{ART}/{root}/{name}", data=data,
                       headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 200 and r.json() == {}, r.text

    done = server.api("PATCH", f"logged-models/{model_id}",
                      {"model_id": model_id, "status": "LOGGED_MODEL_READY"})["model"]
    assert done["info"]["status"] == "LOGGED_MODEL_READY"

    name = "flow-model-" + uuid.uuid4().hex[:8]
    server.api("POST", "registered-models/create", {"name": name})
    r = server.post("/api/2.0/mlflow/registered-models/create", {"name": name})
    assert r.status_code == 400 and r.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    mv = server.api("POST", "model-versions/create", {
        "name": name, "source": f"models:/{model_id}", "run_id": run_id, "model_id": model_id})
    assert mv["model_version"]["version"] == "1" and mv["model_version"]["status"] == "READY"
    server.api("POST", "registered-models/alias", {"name": name, "alias": "champion", "version": "1"})

    # load_model("models:/<name>@champion")
    got = server.api("GET", "registered-models/alias", params={"name": name, "alias": "champion"})
    version = got["model_version"]["version"]
    uri = server.api("GET", "model-versions/get-download-uri",
                     params={"name": name, "version": version})["artifact_uri"]
    base = proxy_path(uri)
    found = sorted(p[len(base) + 1:] for p in walk(server, base))
    assert found == sorted(files)
    for rel in found:
        r = server.get(f"{ART}/{base}/{rel}")
        assert r.status_code == 200
        assert r.content == files[rel], rel
    # the logged model knows its registration
    info = server.api("GET", f"logged-models/{model_id}")["model"]["info"]
    tags = {t["key"]: t["value"] for t in info.get("tags", [])}
    assert json.loads(tags["mlflow.modelVersions"]) == [{"name": name, "version": 1}]
