"""Experiments service (rest-api.md §4, search-grammar.md §3, §6, §9) over HTTP,
sent the way the mlflow client sends it: POST with JSON bodies, GET with query
parameters, experiment ids as strings (or numbers, which protobuf accepts)."""
import base64
import json
import os
import time
import uuid

import pytest
import requests

from conftest import assert_error, db_connect

API = "/api/2.0/mlflow/experiments/"


def unique(prefix="exp"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(server, name=None, **fields):
    body = {"name": name or unique(), **fields}
    return server.api("POST", "experiments/create", body)["experiment_id"]


def get(server, experiment_id):
    return server.api("GET", "experiments/get", params={"experiment_id": experiment_id})["experiment"]


def db(server):
    """The server's tracking database (SQLite or PostgreSQL), autocommitting."""
    conn = db_connect(server)
    conn.isolation_level = None
    return conn


def insert_run(server, experiment_id, lifecycle="active", deleted_time=None):
    run_id = uuid.uuid4().hex
    conn = db(server)
    conn.execute(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, "
        "status, start_time, source_version, lifecycle_stage, artifact_uri, experiment_id, "
        "deleted_time) VALUES (?, 'r', 'UNKNOWN', '', '', 'u', 'RUNNING', 1, '', ?, 'x', ?, ?)",
        (run_id, lifecycle, int(experiment_id), deleted_time))
    conn.close()
    return run_id


def run_rows(server, experiment_id):
    conn = db(server)
    rows = conn.execute("SELECT run_uuid, lifecycle_stage, deleted_time FROM runs "
                        "WHERE experiment_id = ?", (int(experiment_id),)).fetchall()
    conn.close()
    return {r[0]: (r[1], r[2]) for r in rows}


def token(offset):
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


# ---- create / get ------------------------------------------------------------------------------


def test_create_and_get_has_every_field(server):
    before = int(time.time() * 1000)
    name = unique()
    exp_id = create(server, name, tags=[{"key": "team", "value": "ml"},
                                         {"key": "mlflow.note.content", "value": "hello"}])
    after = int(time.time() * 1000)
    assert isinstance(exp_id, str) and exp_id.isdigit() and exp_id != "0"
    exp = get(server, exp_id)
    assert exp["experiment_id"] == exp_id
    assert exp["name"] == name
    assert exp["artifact_location"] == f"mlflow-artifacts:/{exp_id}"
    assert exp["lifecycle_stage"] == "active"
    assert isinstance(exp["creation_time"], int) and before <= exp["creation_time"] <= after
    assert exp["last_update_time"] == exp["creation_time"]
    assert exp["tags"] == [{"key": "mlflow.note.content", "value": "hello"},
                           {"key": "team", "value": "ml"}]
    assert set(exp) == {"experiment_id", "name", "artifact_location", "lifecycle_stage",
                        "creation_time", "last_update_time", "tags"}


def test_ids_increase_and_no_tags_means_no_tags_field(server):
    a = int(create(server))
    b = int(create(server))
    assert b == a + 1
    assert "tags" not in get(server, str(b))


def test_default_experiment_is_served(server):
    exp = get(server, "0")
    assert exp["name"] == "Default"
    assert exp["artifact_location"] == "mlflow-artifacts:/0"
    assert exp["lifecycle_stage"] == "active"


def test_get_accepts_ajax_path_and_numeric_json_id(server):
    exp_id = create(server)
    r = server.get("/ajax-api/2.0/mlflow/experiments/get", params={"experiment_id": exp_id})
    assert r.status_code == 200 and r.json()["experiment"]["experiment_id"] == exp_id
    # GET without a query string reads a JSON body; a number is converted to its string.
    r = server.session.get(server.url + API + "get", json={"experiment_id": int(exp_id)})
    assert r.status_code == 200 and r.json()["experiment"]["experiment_id"] == exp_id


def test_create_tags_duplicate_key_last_wins(server):
    exp_id = create(server, tags=[{"key": "k", "value": "1"}, {"key": "k", "value": "2"},
                                  {"key": "empty"}])
    assert get(server, exp_id)["tags"] == [{"key": "empty", "value": ""}, {"key": "k", "value": "2"}]


def test_create_name_errors(server):
    assert_error(server.post(API + "create", {}), 400, "INVALID_PARAMETER_VALUE",
                 "Missing value for required parameter 'name'")
    assert_error(server.post(API + "create", {"name": ""}), 400, "INVALID_PARAMETER_VALUE",
                 "Missing value for required parameter 'name'")
    assert_error(server.post(API + "create", {"name": 5}), 400, "INVALID_PARAMETER_VALUE",
                 "Invalid value 5 for parameter 'name'")
    assert_error(server.post(API + "create", {"name": "x" * 501}), 400,
                 "INVALID_PARAMETER_VALUE", "exceeded length limit of 500")
    # lengths count characters, not bytes (PostgreSQL's VARCHAR(256) column caps names there)
    name = "é" * 256
    assert get(server, create(server, name))["name"] == name


def test_create_duplicate_name_active_or_deleted(server):
    name = unique()
    exp_id = create(server, name)
    assert_error(server.post(API + "create", {"name": name}), 400, "RESOURCE_ALREADY_EXISTS",
                 f"Experiment(name={name}) already exists")
    server.api("POST", "experiments/delete", {"experiment_id": exp_id})
    assert_error(server.post(API + "create", {"name": name}), 400, "RESOURCE_ALREADY_EXISTS")


def test_create_requires_json_content_type(server):
    r = server.session.post(server.url + API + "create", data='{"name": "ct"}',
                            headers={"Content-Type": "text/plain"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Content-Type")


def test_artifact_location_given_is_kept(server):
    for loc in ["s3://bucket/some/path", "/abs/dir/mlruns", "mlflow-artifacts:/custom/loc",
                "file:///abs/file/dir", "http://host/a?x=1"]:
        exp_id = create(server, artifact_location=loc)
        assert get(server, exp_id)["artifact_location"] == loc


def test_artifact_locations_leave_room_for_run_uris(server):
    """A location of 157 characters takes runs on either engine; on PostgreSQL a longer one
    is refused at creation (runs.artifact_uri is VARCHAR(200) there, and every runs/create
    in such an experiment used to fail with SQL text); SQLite keeps taking it."""
    from conftest import TEST_DB
    fits = "s3://b/" + "d" * 150
    exp_id = create(server, artifact_location=fits)
    run = server.api("POST", "runs/create", {"experiment_id": exp_id})["run"]["info"]
    assert run["artifact_uri"] == f"{fits}/{run['run_id']}/artifacts"
    longer = "s3://b/" + "d" * 151
    r = server.post("/api/2.0/mlflow/experiments/create",
                    json={"name": f"long-{uuid.uuid4().hex[:8]}", "artifact_location": longer})
    if TEST_DB == "postgres":
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", "may have at most 157")
    else:
        assert r.status_code == 200, r.text
        server.api("POST", "runs/create", {"experiment_id": r.json()["experiment_id"]})


def test_artifact_location_relative_paths_are_made_absolute(server):
    cwd = os.path.realpath(server.workdir)
    exp_id = create(server, artifact_location="rel/./dir//sub/")
    assert get(server, exp_id)["artifact_location"] == f"{cwd}/rel/dir/sub"
    exp_id = create(server, artifact_location="file:relfile/x")
    assert get(server, exp_id)["artifact_location"] == f"file://{cwd}/relfile/x"
    # an empty location is the default one
    exp_id = create(server, artifact_location="")
    assert get(server, exp_id)["artifact_location"] == f"mlflow-artifacts:/{exp_id}"


@pytest.mark.parametrize("loc, message", [
    ("s3://bucket/path#frag", "can't include fragments or params"),
    ("http://host/path;params", "can't include fragments or params"),
    ("/local/dir;p", "can't include fragments or params"),
    ("s3://bucket/path?x=..", "Invalid query string"),
    ("s3://bucket/path?x=%2E%2E/y", "Invalid query string"),
    ("s3://bucket/path?x=%252E%252E", "Invalid query string"),
    ("s3://b/" + "x" * 2100, "Invalid artifact path length"),
    ("file://remotehost/path", "is not a valid remote uri"),
])
def test_artifact_location_rejected(server, loc, message):
    name = unique()
    assert_error(server.post(API + "create", {"name": name, "artifact_location": loc}), 400,
                 "INVALID_PARAMETER_VALUE", message)
    # nothing was created
    assert_error(server.get(API + "get-by-name", {"experiment_name": name}), 404,
                 "RESOURCE_DOES_NOT_EXIST")


def test_artifact_location_semicolon_in_s3_key_is_fine(server):
    exp_id = create(server, artifact_location="s3://bucket/a;b")
    assert get(server, exp_id)["artifact_location"] == "s3://bucket/a;b"


def test_get_errors(server):
    assert_error(server.get(API + "get", {"experiment_id": "987654"}), 404,
                 "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=987654 exists")
    assert_error(server.get(API + "get", {"experiment_id": "abc"}), 404,
                 "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=abc exists")
    assert_error(server.get(API + "get", {"experiment_id": "1.5"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.get(API + "get", {"other": "1"}), 400, "INVALID_PARAMETER_VALUE",
                 "Missing value for required parameter 'experiment_id'")
    assert_error(server.get(API + "get"), 400, "INVALID_PARAMETER_VALUE")
    assert_error(server.post(API + "get", {"experiment_id": "0"}), 405, "BAD_REQUEST")


def test_get_returns_deleted_experiments(server):
    exp_id = create(server)
    server.api("POST", "experiments/delete", {"experiment_id": exp_id})
    assert get(server, exp_id)["lifecycle_stage"] == "deleted"


def test_get_by_name(server):
    name = unique("by name with spaces")
    exp_id = create(server, name, tags=[{"key": "a", "value": "b"}])
    r = server.api("GET", "experiments/get-by-name", params={"experiment_name": name})
    assert r["experiment"] == get(server, exp_id)
    assert r["experiment"]["tags"] == [{"key": "a", "value": "b"}]
    server.api("POST", "experiments/delete", {"experiment_id": exp_id})
    r = server.api("GET", "experiments/get-by-name", params={"experiment_name": name})
    assert r["experiment"]["lifecycle_stage"] == "deleted"
    assert_error(server.get(API + "get-by-name", {"experiment_name": "no such experiment"}), 404,
                 "RESOURCE_DOES_NOT_EXIST", "Could not find experiment with name 'no such experiment'")
    assert_error(server.get(API + "get-by-name", {"x": "y"}), 400, "INVALID_PARAMETER_VALUE",
                 "experiment_name")
    # names are case-sensitive
    assert_error(server.get(API + "get-by-name", {"experiment_name": name.upper()}), 404,
                 "RESOURCE_DOES_NOT_EXIST")


# ---- update / delete / restore -----------------------------------------------------------------


def test_rename(server):
    exp_id = create(server)
    created = get(server, exp_id)
    time.sleep(0.01)
    new_name = unique("renamed")
    assert server.api("POST", "experiments/update",
                      {"experiment_id": exp_id, "new_name": new_name}) == {}
    exp = get(server, exp_id)
    assert exp["name"] == new_name
    assert exp["creation_time"] == created["creation_time"]
    assert exp["last_update_time"] > created["last_update_time"]
    # same name again is fine
    server.api("POST", "experiments/update", {"experiment_id": exp_id, "new_name": new_name})


def test_rename_errors(server):
    taken = unique()
    create(server, taken)
    exp_id = create(server)
    assert_error(server.post(API + "update", {"experiment_id": exp_id, "new_name": taken}), 400,
                 "RESOURCE_ALREADY_EXISTS", taken)
    assert_error(server.post(API + "update", {"experiment_id": exp_id}), 400,
                 "INVALID_PARAMETER_VALUE", "new_name")
    assert_error(server.post(API + "update", {"experiment_id": exp_id, "new_name": ""}), 400,
                 "INVALID_PARAMETER_VALUE", "new_name")
    assert_error(server.post(API + "update", {"new_name": "x"}), 400, "INVALID_PARAMETER_VALUE",
                 "experiment_id")
    assert_error(server.post(API + "update", {"experiment_id": "424242", "new_name": unique()}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.post(API + "update", {"experiment_id": "nope", "new_name": unique()}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.post(API + "update", {"experiment_id": exp_id, "new_name": "y" * 501}),
                 400, "INVALID_PARAMETER_VALUE")
    server.api("POST", "experiments/delete", {"experiment_id": exp_id})
    assert_error(server.post(API + "update", {"experiment_id": exp_id, "new_name": unique()}),
                 400, "INVALID_PARAMETER_VALUE", "Cannot rename a non-active experiment")


def test_delete_marks_runs_deleted_and_restore_brings_them_back(server):
    exp_id = create(server)
    r1 = insert_run(server, exp_id)
    r2 = insert_run(server, exp_id, lifecycle="deleted", deleted_time=5)
    other_exp = create(server)
    r3 = insert_run(server, other_exp)
    created = get(server, exp_id)
    time.sleep(0.01)
    before = int(time.time() * 1000)
    assert server.api("POST", "experiments/delete", {"experiment_id": exp_id}) == {}
    after = int(time.time() * 1000)
    exp = get(server, exp_id)
    assert exp["lifecycle_stage"] == "deleted"
    assert before <= exp["last_update_time"] <= after
    assert exp["creation_time"] == created["creation_time"]
    rows = run_rows(server, exp_id)
    assert rows[r1][0] == "deleted" and before <= rows[r1][1] <= after
    assert rows[r2][0] == "deleted" and before <= rows[r2][1] <= after
    assert run_rows(server, other_exp)[r3] == ("active", None)
    # delete again: only active experiments are found
    assert_error(server.post(API + "delete", {"experiment_id": exp_id}), 404,
                 "RESOURCE_DOES_NOT_EXIST", f"No Experiment with id={exp_id} exists")

    assert server.api("POST", "experiments/restore", {"experiment_id": exp_id}) == {}
    exp = get(server, exp_id)
    assert exp["lifecycle_stage"] == "active" and exp["last_update_time"] >= before
    assert run_rows(server, exp_id) == {r1: ("active", None), r2: ("active", None)}
    assert_error(server.post(API + "restore", {"experiment_id": exp_id}), 404,
                 "RESOURCE_DOES_NOT_EXIST")


def test_delete_restore_errors(server):
    for op in ["delete", "restore"]:
        assert_error(server.post(API + op, {}), 400, "INVALID_PARAMETER_VALUE", "experiment_id")
        assert_error(server.post(API + op, {"experiment_id": "31337"}), 404,
                     "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=31337 exists")
        assert_error(server.post(API + op, {"experiment_id": "x1"}), 404,
                     "RESOURCE_DOES_NOT_EXIST")


def test_default_experiment_can_be_deleted_and_restored(make_server):
    s = make_server()
    s.api("POST", "experiments/delete", {"experiment_id": "0"})
    assert get(s, "0")["lifecycle_stage"] == "deleted"
    s.api("POST", "experiments/restore", {"experiment_id": 0})
    assert get(s, "0")["lifecycle_stage"] == "active"


# ---- tags --------------------------------------------------------------------------------------


def test_set_and_delete_experiment_tag(server):
    exp_id = create(server)
    before = get(server, exp_id)
    server.api("POST", "experiments/set-experiment-tag",
               {"experiment_id": exp_id, "key": "a.b/c d-e:f", "value": "v1"})
    server.api("POST", "experiments/set-experiment-tag",
               {"experiment_id": exp_id, "key": "a.b/c d-e:f", "value": "v2"})
    server.api("POST", "experiments/set-experiment-tag", {"experiment_id": exp_id, "key": "novalue"})
    server.api("POST", "experiments/set-experiment-tag",
               {"experiment_id": exp_id, "key": "long", "value": "x" * 5000})
    exp = get(server, exp_id)
    assert exp["tags"] == [{"key": "a.b/c d-e:f", "value": "v2"}, {"key": "long", "value": "x" * 5000},
                           {"key": "novalue", "value": ""}]
    assert exp["last_update_time"] == before["last_update_time"]  # tags do not bump it
    assert server.api("POST", "experiments/delete-experiment-tag",
                      {"experiment_id": exp_id, "key": "novalue"}) == {}
    assert [t["key"] for t in get(server, exp_id)["tags"]] == ["a.b/c d-e:f", "long"]
    assert_error(server.post(API + "delete-experiment-tag", {"experiment_id": exp_id,
                                                             "key": "novalue"}),
                 404, "RESOURCE_DOES_NOT_EXIST", "No tag with name: novalue")


@pytest.mark.parametrize("body, message", [
    ({"key": "k"}, "experiment_id"),
    ({"experiment_id": "0"}, "key"),
    ({"experiment_id": "0", "key": ""}, "key"),
    ({"experiment_id": "0", "key": "bad*key"}, "Invalid tag name"),
    ({"experiment_id": "0", "key": "/abs"}, "Invalid tag name"),
    ({"experiment_id": "0", "key": "a/../b"}, "Invalid tag name"),
    ({"experiment_id": "0", "key": "k" * 251}, "exceeded length limit of 250"),
    ({"experiment_id": "0", "key": "k", "value": "v" * 5001}, "exceeded length limit of 5000"),
])
def test_set_experiment_tag_validation(server, body, message):
    assert_error(server.post(API + "set-experiment-tag", body), 400, "INVALID_PARAMETER_VALUE",
                 message)


def test_experiment_tags_need_an_active_experiment(server):
    assert_error(server.post(API + "set-experiment-tag", {"experiment_id": "999999", "key": "k",
                                                          "value": "v"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.post(API + "delete-experiment-tag", {"experiment_id": "999999",
                                                             "key": "k"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    exp_id = create(server, tags=[{"key": "k", "value": "v"}])
    server.api("POST", "experiments/delete", {"experiment_id": exp_id})
    assert_error(server.post(API + "set-experiment-tag", {"experiment_id": exp_id, "key": "k",
                                                          "value": "w"}),
                 400, "INVALID_PARAMETER_VALUE", f"The experiment {exp_id} must be in the 'active' state")
    assert_error(server.post(API + "delete-experiment-tag", {"experiment_id": exp_id, "key": "k"}),
                 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state")
    assert_error(server.post(API + "delete-experiment-tag", {"experiment_id": exp_id}), 400,
                 "INVALID_PARAMETER_VALUE", "key")
    assert get(server, exp_id)["tags"] == [{"key": "k", "value": "v"}]


# ---- search ------------------------------------------------------------------------------------


@pytest.fixture
def search_server(make_server):
    """A fresh server with five experiments (ids 1..5) created in order; 2 and 4 deleted."""
    s = make_server()
    ids = []
    for i, name in enumerate(["alpha", "Beta", "gamma", "delta", "alphabet"], start=1):
        ids.append(create(s, name, tags=[{"key": "n", "value": str(i)},
                                         {"key": "group", "value": "even" if i % 2 == 0 else "odd"}]))
        time.sleep(0.005)
    s.api("POST", "experiments/delete", {"experiment_id": ids[1]})
    time.sleep(0.005)  # distinct last_update_time: the order tests rely on it
    s.api("POST", "experiments/delete", {"experiment_id": ids[3]})
    return s


def search(server, method="POST", **body):
    body.setdefault("max_results", 1000)
    if method == "POST":
        return server.api("POST", "experiments/search", body)
    return server.api("GET", "experiments/search", params=body)


def names(resp):
    return [e["name"] for e in resp.get("experiments", [])]


def test_search_default_order_and_view_types(search_server):
    s = search_server
    # creation_time DESC, experiment_id ASC; active only by default
    assert names(search(s)) == ["alphabet", "gamma", "alpha", "Default"]
    assert names(search(s, view_type="ACTIVE_ONLY")) == ["alphabet", "gamma", "alpha", "Default"]
    assert names(search(s, view_type="DELETED_ONLY")) == ["delta", "Beta"]
    assert names(search(s, view_type="ALL")) == ["alphabet", "delta", "gamma", "Beta", "alpha",
                                                 "Default"]
    assert names(search(s, view_type=3)) == names(search(s, view_type="ALL"))
    # GET with query parameters, as the UI/other clients send it
    assert names(search(s, "GET", view_type="DELETED_ONLY")) == ["delta", "Beta"]
    r = search(s)
    assert "next_page_token" not in r
    full = get(s, r["experiments"][0]["experiment_id"])
    assert r["experiments"][0] == full


def test_search_filters(search_server):
    s = search_server
    assert names(search(s, filter="name = 'alpha'")) == ["alpha"]
    assert names(search(s, filter="name LIKE 'alpha%'")) == ["alphabet", "alpha"]
    assert names(search(s, filter="name LIKE 'ALPHA%'")) == []
    assert names(search(s, filter="name ILIKE 'ALPHA%'")) == ["alphabet", "alpha"]
    assert names(search(s, filter="name != 'alpha'", view_type="ALL")) == [
        "alphabet", "delta", "gamma", "Beta", "Default"]
    assert names(search(s, filter="tags.group = 'odd'")) == ["alphabet", "gamma", "alpha"]
    assert names(search(s, filter="tags.group = 'even'", view_type="ALL")) == ["delta", "Beta"]
    assert names(search(s, filter="tags.`group` = 'odd' AND tags.n != '1'")) == ["alphabet", "gamma"]
    assert names(search(s, filter="tags.missing != 'x'")) == []
    created = get(s, "3")["creation_time"]
    assert names(search(s, filter=f"creation_time >= {created}")) == ["alphabet", "gamma"]
    assert names(search(s, filter=f"attribute.creation_time < {created}")) == ["alpha", "Default"]
    assert names(search(s, "GET", filter="name LIKE '%a' AND tags.n = '3'")) == ["gamma"]


@pytest.mark.parametrize("flt", [
    "name like 'a%'",  # experiment comparators are case-sensitive
    "name IN ('alpha')",
    "lifecycle_stage = 'active'",
    "experiment_id = '1'",
    "metrics.x > 1",
    "name = 'a' OR name = 'b'",
    "name = alpha",
    "creation_time > 'abc'",
])
def test_search_bad_filters(search_server, flt):
    assert_error(search_server.post(API + "search", {"max_results": 10, "filter": flt}), 400,
                 "INVALID_PARAMETER_VALUE")


def test_search_order_by(search_server):
    s = search_server
    assert names(search(s, order_by=["name"])) == ["Default", "alpha", "alphabet", "gamma"]
    assert names(search(s, order_by=["name DESC"])) == ["gamma", "alphabet", "alpha", "Default"]
    assert names(search(s, order_by=["experiment_id DESC"])) == ["alphabet", "gamma", "alpha",
                                                                "Default"]
    assert names(search(s, order_by=["creation_time ASC"])) == ["Default", "alpha", "gamma",
                                                               "alphabet"]
    assert names(search(s, "GET", order_by=["last_update_time DESC", "name ASC"],
                        view_type="ALL"))[0:2] == ["delta", "Beta"]
    for bad in [["tags.n"], ["lifecycle_stage"], ["name SIDEWAYS"], ["metrics.m"]]:
        assert_error(s.post(API + "search", {"max_results": 10, "order_by": bad}), 400,
                     "INVALID_PARAMETER_VALUE")


def test_search_paging_fetches_one_more(search_server):
    s = search_server
    r = search(s, max_results=2)
    assert names(r) == ["alphabet", "gamma"]
    assert r["next_page_token"] == token(2)
    r = search(s, max_results=2, page_token=r["next_page_token"])
    assert names(r) == ["alpha", "Default"]
    assert "next_page_token" not in r  # exactly full, nothing after: no token
    r = search(s, "GET", max_results=3, page_token=token(1))
    assert names(r) == ["gamma", "alpha", "Default"]
    assert "next_page_token" not in r
    r = search(s, max_results=1, page_token=token(10))
    assert r == {}
    r = search(s, max_results="1")  # int64 may come as a string
    assert names(r) == ["alphabet"] and r["next_page_token"] == token(1)


def test_search_max_results_and_token_errors(search_server):
    s = search_server
    assert_error(s.post(API + "search", {}), 400, "INVALID_PARAMETER_VALUE",
                 "Invalid value 0 for parameter 'max_results'")
    assert_error(s.post(API + "search", {"max_results": 0}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(s.post(API + "search", {"max_results": -5}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(s.post(API + "search", {"max_results": 50001}), 400, "INVALID_PARAMETER_VALUE",
                 "50000")
    assert search(s, max_results=50000)["experiments"]
    assert_error(s.post(API + "search", {"max_results": "ten"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(s.get(API + "search", {"max_results": "ten"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(s.post(API + "search", {"max_results": 5, "view_type": "SOME"}), 400,
                 "INVALID_PARAMETER_VALUE")
    assert_error(s.post(API + "search", {"max_results": 5, "page_token": "!!!"}), 400,
                 "INVALID_PARAMETER_VALUE")
    bad = base64.b64encode(b'{"offset": "x"}').decode()
    assert_error(s.post(API + "search", {"max_results": 5, "page_token": bad}), 400,
                 "INVALID_PARAMETER_VALUE")
    assert_error(s.post(API + "search", {"max_results": 5, "order_by": "name"}), 400,
                 "INVALID_PARAMETER_VALUE")


def test_search_includes_tags_of_every_experiment(search_server):
    r = search(search_server, view_type="ALL")
    for e in r["experiments"]:
        if e["name"] == "Default":
            assert "tags" not in e
        else:
            assert sorted(t["key"] for t in e["tags"]) == ["group", "n"]


def test_deleting_an_experiment_while_runs_are_created_in_it_leaves_none_active(server):
    """rest-api.md §4.6: a delete marks every run of the experiment deleted. On PostgreSQL a
    run created during the delete (inserted, not yet committed) escaped its UPDATE and stayed
    active in the deleted experiment (12 of 20 trials). Creates answer 200 or 400, never 5xx."""
    import threading
    session_url = f"{server.url}/api/2.0/mlflow/"
    statuses = []
    for trial in range(8):
        exp = server.api("POST", "experiments/create",
                         {"name": f"deleted-while-busy-{uuid.uuid4().hex[:8]}"})["experiment_id"]
        stop = threading.Event()

        def creator():
            with requests.Session() as s:
                while not stop.is_set():
                    r = s.post(session_url + "runs/create", json={"experiment_id": exp}, timeout=60)
                    statuses.append(r.status_code)

        threads = [threading.Thread(target=creator) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.05)
        server.api("POST", "experiments/delete", {"experiment_id": exp})
        time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join()
        active = server.api("POST", "runs/search", {"experiment_ids": [exp],
                                                    "run_view_type": "ACTIVE_ONLY",
                                                    "max_results": 1000}).get("runs", [])
        assert active == [], (trial, [r["info"]["run_id"] for r in active])
    assert set(statuses) <= {200, 400} and 200 in statuses and 400 in statuses
