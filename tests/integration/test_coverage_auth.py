"""Auth paths a user can reach that no other test ran (found by measuring coverage): an
experiment id sent as a JSON number is checked as the same experiment, is_admin given as
text, the signup form sent as anything but a plain form, and a non-admin's logged-model
search, whose results are cut to the experiments that user may read."""
import re

import pytest

from conftest import assert_error
from test_auth_helpers import (ADMIN, admin_api, assert_forbidden, call, create_users, session,
                               start_auth_server, unique)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = start_auth_server(tmp_path_factory.mktemp("auth-cov"))
    create_users(s, {"carol": None, "dave": None, "erin": None})
    yield s
    s.stop()


def experiment_of(server, user):
    r = call(session(server, user), server, "POST", "/api/2.0/mlflow/experiments/create",
             body={"name": unique(f"cov-{user}")})
    assert r.status_code == 200, r.text
    return r.json()["experiment_id"]


def test_an_experiment_id_sent_as_a_number_is_checked_as_the_same_experiment(server):
    """MLflow's clients send ids as strings, but JSON numbers reach the permission check
    too: it must read 7 as "7", not as no experiment at all (the default permission)."""
    eid = experiment_of(server, "carol")
    admin_api(server, "POST", "experiments/permissions/create",
              {"experiment_id": eid, "username": "dave", "permission": "NO_PERMISSIONS"})
    dave, carol = session(server, "dave"), session(server, "carol")
    for body in ({"experiment_id": int(eid), "new_name": unique("renamed")},
                 {"experiment_id": int(eid), "key": "k", "value": "v"}):
        path = ("/api/2.0/mlflow/experiments/update" if "new_name" in body
                else "/api/2.0/mlflow/experiments/set-experiment-tag")
        assert_forbidden(call(dave, server, "POST", path, body=body))
        # a grant of EDIT lets the same request through the gate
    admin_api(server, "PATCH", "experiments/permissions/update",
              {"experiment_id": eid, "username": "dave", "permission": "EDIT"})
    r = call(dave, server, "POST", "/api/2.0/mlflow/experiments/set-experiment-tag",
             body={"experiment_id": int(eid), "key": "k", "value": "v"})
    assert r.status_code not in (401, 403), r.text
    # the owner is let through with a number as with a string
    r = call(carol, server, "POST", "/api/2.0/mlflow/runs/create", body={"experiment_id": int(eid)})
    assert r.status_code not in (401, 403), r.text
    # a number that is not an integer names no experiment: a 400, not the default permission
    for bad in (float(eid) + 0.5, [eid], {"id": eid}, True):
        r = call(dave, server, "POST", "/api/2.0/mlflow/experiments/update",
                 body={"experiment_id": bad, "new_name": unique("x")})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", "experiment_id")
    got = admin_api(server, "GET", "experiments/get", params={"experiment_id": eid})
    assert not got["experiment"]["name"].startswith("x-"), got


def test_is_admin_given_as_text_and_refused_forms(server):
    def is_admin(name):
        got = admin_api(server, "GET", "users/get", params={"username": name})
        return got["user"]["is_admin"]

    for value, expected in (("True", True), ("false", False), ("TRUE", True), ("False", False)):
        admin_api(server, "PATCH", "users/update-admin", {"username": "erin", "is_admin": value})
        assert is_admin("erin") is expected, value
    for value, says in ((None, "Missing value for required parameter 'is_admin'"),
                        ("yes", "expected a boolean"), (1, "expected a boolean"),
                        ("", "expected a boolean"), ([True], "expected a boolean")):
        body = {"username": "erin"} if value is None else {"username": "erin", "is_admin": value}
        r = call(session(server, *ADMIN), server, "PATCH", "/api/2.0/mlflow/users/update-admin",
                 body=body)
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", says)
        assert is_admin("erin") is False, value  # a refused call changes nothing


def test_signup_form_sent_as_json_or_without_fields_is_refused(server):
    admin = session(server, *ADMIN)
    page = admin.get(server.url + "/signup")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    url = server.url + "/api/2.0/mlflow/users/create-ui"
    name = unique("cov-signup")
    # a valid token in the header, but a JSON body: not the form the page posts
    r = admin.post(url, json={"username": name, "password": "signup-password"},
                   headers={"X-CSRFToken": token})
    assert r.status_code == 400, r.text
    assert r.text == "Invalid content type. Must be application/x-www-form-urlencoded"
    # a form type with a parameter is not the plain form type either
    r = admin.post(url, data=f"username={name}&password=signup-password&csrf_token={token}",
                   headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert r.status_code == 400 and r.text.startswith("Invalid content type"), r.text
    for form in ({"username": name, "csrf_token": token}, {"password": "signup-password",
                                                           "csrf_token": token}):
        r = admin.post(url, data=form)
        assert r.status_code == 400, r.text
        assert r.text == "Bad Request: the form needs username and password."
    assert_error(call(admin, server, "GET", "/api/2.0/mlflow/users/get", params={"username": name}),
                 404, "RESOURCE_DOES_NOT_EXIST")


def test_a_non_admin_logged_model_search_shows_only_readable_experiments(server):
    mine = experiment_of(server, "carol")
    hidden = experiment_of(server, "dave")
    admin_api(server, "POST", "experiments/permissions/create",
              {"experiment_id": hidden, "username": "carol", "permission": "NO_PERMISSIONS"})
    for eid, user in ((mine, "carol"), (hidden, "dave")):
        r = call(session(server, user), server, "POST", "/api/2.0/mlflow/logged-models",
                 body={"experiment_id": eid, "name": f"model-{user}"})
        assert r.status_code == 200, r.text
    r = call(session(server, "carol"), server, "POST", "/api/2.0/mlflow/logged-models/search",
             body={"experiment_ids": [mine, hidden]})
    assert r.status_code == 200, r.text
    models = r.json().get("models", [])
    assert [(m["info"]["experiment_id"], m["info"]["name"]) for m in models] == [
        (mine, "model-carol")]
    r = call(session(server, "carol"), server, "POST", "/api/2.0/mlflow/logged-models/search",
             body={"experiment_ids": [hidden]})
    assert r.status_code == 200 and r.json().get("models", []) == [], r.text
    r = call(session(server, *ADMIN), server, "POST", "/api/2.0/mlflow/logged-models/search",
             body={"experiment_ids": [mine, hidden]})
    assert {m["info"]["name"] for m in r.json()["models"]} == {"model-carol", "model-dave"}
