"""Values quoted in error messages as MLflow quotes them, with Python's repr(): what Python
does not print (controls, non-breaking and zero-width spaces, C1 controls) is escaped."""
import urllib.parse
import uuid

from conftest import assert_error


def test_param_conflict_repr_escapes_non_printable_unicode(server):
    exp = server.api("POST", "experiments/create", {"name": f"d-{uuid.uuid4().hex[:8]}"})["experiment_id"]
    run = server.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
    for i, (old, new) in enumerate([("nb\u00a0sp", "x"), ("zw\u200b", "y"), ("\x85", "z")]):
        server.api("POST", "runs/log-batch", {"run_id": run, "params": [{"key": f"p{i}", "value": old}]})
        r = server.post("/api/2.0/mlflow/runs/log-batch",
                        json={"run_id": run, "params": [{"key": f"p{i}", "value": new}]})
        body = assert_error(r, 400, "INVALID_PARAMETER_VALUE")
        conflicts = [{"key": f"p{i}", "old_value": old, "new_value": new}]
        # expected e.g. ... 'old_value': 'nb\\xa0sp' ...; actual: the raw U+00A0 byte pair
        assert body["message"] == (f"Changing param values is not allowed. Params were already "
                                   f"logged='{conflicts}' for run ID='{run}'."), body["message"]


def test_missing_logged_model_tag_repr_escapes_control_characters(server):
    exp = server.api("POST", "experiments/create", {"name": f"d-{uuid.uuid4().hex[:8]}"})["experiment_id"]
    model = server.api("POST", "logged-models", {"experiment_id": exp, "name": "m"})["model"]["info"]["model_id"]
    for key in ["ctl\x01", "del\x7f", "nb\u00a0sp"]:
        r = server.delete(f"/api/2.0/mlflow/logged-models/{model}/tags/{urllib.parse.quote(key, safe='')}")
        body = assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
        # expected: "No tag with key 'ctl\\x01' ..."; actual: the raw \x01 byte inside the quotes
        assert body["message"] == f"No tag with key {key!r} found for model with ID {model!r}.", body["message"]
