"""Runs written by older MLflow versions, whose `runs.name` column is empty and whose name
lives only in the mlflow.runName tag (found unrun by measuring coverage): get, search and
update all report the tag's name, and renaming one writes both places."""
import time
import uuid

from conftest import db_query


def legacy_run(server, name_column, tag):
    run_id = uuid.uuid4().hex
    db_query(server,
             "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id,"
             " status, start_time, source_version, lifecycle_stage, artifact_uri, experiment_id)"
             " VALUES (?, ?, 'UNKNOWN', '', '', 'u', 'RUNNING', ?, '', 'active', ?, 0)",
             (run_id, name_column, int(time.time() * 1000), f"mlflow-artifacts:/0/{run_id}/artifacts"))
    if tag is not None:
        db_query(server, "INSERT INTO tags (key, value, run_uuid) VALUES ('mlflow.runName', ?, ?)",
                 (tag, run_id))
    return run_id


def test_a_run_named_only_by_its_tag_reports_that_name(server):
    for name_column in (None, ""):
        name = f"legacy-{uuid.uuid4().hex[:6]}"
        run_id = legacy_run(server, name_column, name)
        assert server.api("GET", "runs/get", params={"run_id": run_id})["run"]["info"]["run_name"] == name
        found = server.api("POST", "runs/search", {"experiment_ids": ["0"],
                                                   "filter": f"attributes.run_id = '{run_id}'"})["runs"]
        assert [r["info"]["run_name"] for r in found] == [name]
        updated = server.api("POST", "runs/update", {"run_id": run_id, "status": "FINISHED",
                                                     "end_time": 5})["run_info"]
        assert updated["run_name"] == name and updated["status"] == "FINISHED"


def test_renaming_a_legacy_run_writes_the_column_and_the_tag(server):
    run_id = legacy_run(server, None, "old-name")
    updated = server.api("POST", "runs/update", {"run_id": run_id, "run_name": "new-name"})["run_info"]
    assert updated["run_name"] == "new-name"
    run = server.api("GET", "runs/get", params={"run_id": run_id})["run"]
    assert run["info"]["run_name"] == "new-name"
    assert {t["key"]: t["value"] for t in run["data"]["tags"]}["mlflow.runName"] == "new-name"
    assert db_query(server, "SELECT name FROM runs WHERE run_uuid = ?", (run_id,))[0][0] == "new-name"


def test_a_run_with_no_name_anywhere_reports_none(server):
    run_id = legacy_run(server, None, None)
    info = server.api("GET", "runs/get", params={"run_id": run_id})["run"]["info"]
    assert info.get("run_name", "") == ""
    updated = server.api("POST", "runs/update", {"run_id": run_id, "status": "KILLED"})["run_info"]
    assert updated.get("run_name", "") == "" and updated["status"] == "KILLED"
