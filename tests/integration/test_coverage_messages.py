"""Conflict and not-found messages that quote what the user sent do it as MLflow's do,
with Python's repr() (found unrun by measuring coverage): a value holding quotes,
backslashes, newlines, tabs or control characters is shown escaped, so the message is one
line a user can read back exactly."""
import urllib.parse
import uuid

from conftest import assert_error


def new_run(server):
    exp = server.api("POST", "experiments/create", {"name": f"cov-msg-{uuid.uuid4().hex[:10]}"})
    run = server.api("POST", "runs/create", {"experiment_id": exp["experiment_id"]})
    return exp["experiment_id"], run["run"]["info"]["run_id"]


def test_a_param_conflict_quotes_old_and_new_values_as_python_repr(server):
    _, run_id = new_run(server)
    pairs = [("a\nb\t'c\\", "x\"y'z\x01\x7f\r"),  # both quotes: '...' with \' inside
             ("it's", "plain"),                     # a single quote only: "..."
             ("caf\u00e9", "tab\there")]            # printable non-ASCII kept as is
    for i, (old, _) in enumerate(pairs):
        server.api("POST", "runs/log-batch", {"run_id": run_id,
                                              "params": [{"key": f"p{i}", "value": old}]})
    # one batch, all three changed, plus one unchanged: the conflicts in the order sent
    params = [{"key": f"p{i}", "value": new} for i, (_, new) in enumerate(pairs)]
    params.insert(1, {"key": "p0-same", "value": "v"})
    server.api("POST", "runs/log-batch", {"run_id": run_id,
                                          "params": [{"key": "p0-same", "value": "v"}]})
    r = server.post("/api/2.0/mlflow/runs/log-batch", json={"run_id": run_id, "params": params})
    conflicts = [{"key": f"p{i}", "old_value": old, "new_value": new}
                 for i, (old, new) in enumerate(pairs)]
    body = assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert body["message"] == (f"Changing param values is not allowed. Params were already "
                               f"logged='{conflicts}' for run ID='{run_id}'."), body["message"]
    # nothing of the refused batch was written
    got = server.api("GET", "runs/get", params={"run_id": run_id})["run"]["data"]["params"]
    assert {p["key"]: p["value"] for p in got} == {
        **{f"p{i}": old for i, (old, _) in enumerate(pairs)}, "p0-same": "v"}


def test_deleting_a_missing_logged_model_tag_quotes_the_key_as_python_repr(server):
    experiment_id, _ = new_run(server)
    model_id = server.api("POST", "logged-models", {"experiment_id": experiment_id,
                                                     "name": "m"})["model"]["info"]["model_id"]
    for key in ["a\\b", "it's", "x\ty", "q\"'", "line\nbreak"]:
        r = server.delete(f"/api/2.0/mlflow/logged-models/{model_id}/tags/"
                          f"{urllib.parse.quote(key, safe='')}")
        body = assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
        assert body["message"] == f"No tag with key {key!r} found for model with ID {model_id!r}.", key
