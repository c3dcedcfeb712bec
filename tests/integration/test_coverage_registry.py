"""Registry paths no other test ran (found by measuring coverage): a model version made from
a logged model that does not exist is a 404 that leaves nothing behind (no version number
used up, no half-made version), and a version number is read as Python's int() reads it."""
import uuid

from conftest import assert_error, db_query


def test_a_version_from_a_missing_logged_model_is_404_and_leaves_nothing(server):
    name = f"cov-rm-{uuid.uuid4().hex[:8]}"
    server.api("POST", "registered-models/create", {"name": name})
    missing = "m-" + uuid.uuid4().hex
    r = server.post("/api/2.0/mlflow/model-versions/create",
                    json={"name": name, "source": "s3://bucket/x", "model_id": missing})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{missing}' not found.")
    r = server.post("/api/2.0/mlflow/model-versions/create",
                    json={"name": name, "source": f"models:/{missing}"})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{missing}' not found.")
    assert db_query(server, "SELECT COUNT(*) FROM model_versions WHERE name = ?", (name,))[0][0] == 0
    created = server.api("POST", "model-versions/create", {"name": name, "source": "s3://bucket/x"})
    assert created["model_version"]["version"] == "1"
    got = server.api("GET", "registered-models/get", params={"name": name})["registered_model"]
    assert [v["version"] for v in got["latest_versions"]] == ["1"]


def test_a_version_number_is_read_as_python_int_reads_it(server):
    name = f"cov-rm-{uuid.uuid4().hex[:8]}"
    server.api("POST", "registered-models/create", {"name": name})
    server.api("POST", "model-versions/create", {"name": name, "source": "s3://bucket/x"})
    for text in ["1", " 1", "1 ", "\t1\n", "+1", "01"]:
        got = server.api("GET", "model-versions/get", params={"name": name, "version": text})
        assert got["model_version"]["version"] == "1", repr(text)
    for text in ["1.0", "1 1", "", " ", "one", "0x1", "1_"]:
        r = server.get("/api/2.0/mlflow/model-versions/get", params={"name": name, "version": text})
        assert r.status_code == 400, (repr(text), r.text)
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE", (repr(text), r.text)
