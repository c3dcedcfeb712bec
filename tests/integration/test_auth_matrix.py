"""The endpoint x permission matrix of auth.md §3: every route class, called
by users holding each level on the resource (NO_PERMISSIONS, READ, no row =
default READ, EDIT, MANAGE), by an admin, anonymously and with a wrong
password. Allowed calls must not be refused (the handler's own answer is not
judged here); refused ones get the exact 403 of §2.1; anonymous and wrong
credentials the exact 401.

Each row gets fresh resources (experiment, run, registered model, logged
model) made by the admin. Users are tried from the least to the most
privileged, so a destructive call that succeeds comes after every refusal.
A route that is not served yet (404 ENDPOINT_NOT_FOUND for the admin) is
skipped: add a row here for every route that needs a permission."""
import pytest

from test_auth_helpers import (USERS, admin_api, assert_forbidden, assert_unauthenticated, call,
                               create_users, grant, session, start_auth_server, unique)

LEVEL = {"NO_PERMISSIONS": 0, "READ": 1, "EDIT": 2, "MANAGE": 3}
DEFAULT = "READ"  # default_permission of the server below


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = start_auth_server(tmp_path_factory.mktemp("auth-matrix"), default_permission=DEFAULT)
    create_users(s)
    yield s
    s.stop()


def make_world(server):
    """Fresh resources for one row, with every user's level granted on them."""
    w = {}
    w["exp"] = admin_api(server, "POST", "experiments/create",
                         {"name": unique("mx")})["experiment_id"]
    w["exp_name"] = admin_api(server, "GET", "experiments/get",
                              params={"experiment_id": w["exp"]})["experiment"]["name"]
    w["run"] = admin_api(server, "POST", "runs/create",
                         {"experiment_id": w["exp"]})["run"]["info"]["run_id"]
    w["model"] = unique("mxmodel")
    r = call(session(server, "admin"), server, "POST", "/api/2.0/mlflow/registered-models/create",
             body={"name": w["model"]})
    w["has_registry"] = r.status_code == 200
    r = call(session(server, "admin"), server, "POST", "/api/2.0/mlflow/logged-models",
             body={"experiment_id": w["exp"], "name": "lm"})
    w["logged_model"] = r.json()["model"]["info"]["model_id"] if r.status_code == 200 else "none"
    for user, level in USERS.items():
        if level is None:
            continue
        grant(server, "exp", w["exp"], user, level)
        if w["has_registry"]:
            grant(server, "model", w["model"], user, level)
    return w


def api(path):
    return "/api/2.0/mlflow/" + path


# (id, method, path(w), required level, params(w), body(w))
ROWS = [
    # experiments
    ("exp-get", "GET", lambda w: api("experiments/get"), "READ",
     lambda w: {"experiment_id": w["exp"]}, None),
    ("exp-get-ajax", "GET", lambda w: "/ajax-api/2.0/mlflow/experiments/get", "READ",
     lambda w: {"experiment_id": w["exp"]}, None),
    ("exp-get-by-name", "GET", lambda w: api("experiments/get-by-name"), "READ",
     lambda w: {"experiment_name": w["exp_name"]}, None),
    ("exp-update", "POST", lambda w: api("experiments/update"), "EDIT", None,
     lambda w: {"experiment_id": w["exp"], "new_name": unique("renamed")}),
    ("exp-set-tag", "POST", lambda w: api("experiments/set-experiment-tag"), "EDIT", None,
     lambda w: {"experiment_id": w["exp"], "key": "k", "value": "v"}),
    ("exp-delete-tag", "POST", lambda w: api("experiments/delete-experiment-tag"), "EDIT", None,
     lambda w: {"experiment_id": w["exp"], "key": "k"}),
    ("exp-delete", "POST", lambda w: api("experiments/delete"), "MANAGE", None,
     lambda w: {"experiment_id": w["exp"]}),
    ("exp-restore", "POST", lambda w: api("experiments/restore"), "MANAGE", None,
     lambda w: {"experiment_id": w["exp"]}),
    # runs
    ("run-create", "POST", lambda w: api("runs/create"), "EDIT", None,
     lambda w: {"experiment_id": w["exp"]}),
    ("run-get", "GET", lambda w: api("runs/get"), "READ", lambda w: {"run_id": w["run"]}, None),
    ("run-get-uuid", "GET", lambda w: api("runs/get"), "READ", lambda w: {"run_uuid": w["run"]},
     None),
    ("metric-history", "GET", lambda w: api("metrics/get-history"), "READ",
     lambda w: {"run_id": w["run"], "metric_key": "m"}, None),
    ("metric-bulk-interval", "GET", lambda w: api("metrics/get-history-bulk-interval"), "READ",
     lambda w: {"run_ids": w["run"], "metric_key": "m"}, None),
    ("metric-bulk-ajax", "GET", lambda w: "/ajax-api/2.0/mlflow/metrics/get-history-bulk",
     "READ", lambda w: {"run_id": w["run"], "metric_key": "m"}, None),
    ("artifacts-list", "GET", lambda w: api("artifacts/list"), "READ",
     lambda w: {"run_id": w["run"]}, None),
    ("run-update", "POST", lambda w: api("runs/update"), "EDIT", None,
     lambda w: {"run_id": w["run"], "status": "RUNNING"}),
    ("run-log-metric", "POST", lambda w: api("runs/log-metric"), "EDIT", None,
     lambda w: {"run_id": w["run"], "key": "m", "value": 1.0, "timestamp": 1, "step": 0}),
    ("run-log-param", "POST", lambda w: api("runs/log-parameter"), "EDIT", None,
     lambda w: {"run_id": w["run"], "key": unique("p"), "value": "v"}),
    ("run-log-batch", "POST", lambda w: api("runs/log-batch"), "EDIT", None,
     lambda w: {"run_id": w["run"], "metrics": [], "params": [], "tags": []}),
    ("run-set-tag", "POST", lambda w: api("runs/set-tag"), "EDIT", None,
     lambda w: {"run_id": w["run"], "key": "t", "value": "v"}),
    ("run-delete-tag", "POST", lambda w: api("runs/delete-tag"), "EDIT", None,
     lambda w: {"run_id": w["run"], "key": "t"}),
    ("run-log-inputs", "POST", lambda w: api("runs/log-inputs"), "EDIT", None,
     lambda w: {"run_id": w["run"], "datasets": []}),
    ("run-delete", "POST", lambda w: api("runs/delete"), "MANAGE", None,
     lambda w: {"run_id": w["run"]}),
    ("run-restore", "POST", lambda w: api("runs/restore"), "MANAGE", None,
     lambda w: {"run_id": w["run"]}),
    ("get-artifact", "GET", lambda w: "/get-artifact", "READ",
     lambda w: {"run_uuid": w["run"], "path": "x.txt"}, None),
    # registry
    ("model-get", "GET", lambda w: api("registered-models/get"), "READ",
     lambda w: {"name": w["model"]}, None),
    ("model-latest", "POST", lambda w: api("registered-models/get-latest-versions"), "READ",
     None, lambda w: {"name": w["model"]}),
    ("model-update", "PATCH", lambda w: api("registered-models/update"), "EDIT", None,
     lambda w: {"name": w["model"], "description": "d"}),
    ("model-set-tag", "POST", lambda w: api("registered-models/set-tag"), "EDIT", None,
     lambda w: {"name": w["model"], "key": "k", "value": "v"}),
    ("model-delete-tag", "DELETE", lambda w: api("registered-models/delete-tag"), "EDIT", None,
     lambda w: {"name": w["model"], "key": "k"}),
    ("version-create", "POST", lambda w: api("model-versions/create"), "EDIT", None,
     lambda w: {"name": w["model"], "source": "s3://bucket/model"}),
    ("version-get", "GET", lambda w: api("model-versions/get"), "READ",
     lambda w: {"name": w["model"], "version": "1"}, None),
    ("version-delete-tag", "DELETE", lambda w: api("model-versions/delete-tag"), "MANAGE", None,
     lambda w: {"name": w["model"], "version": "1", "key": "k"}),
    ("alias-delete", "DELETE", lambda w: api("registered-models/alias"), "MANAGE", None,
     lambda w: {"name": w["model"], "alias": "a"}),
    ("model-delete", "DELETE", lambda w: api("registered-models/delete"), "MANAGE", None,
     lambda w: {"name": w["model"]}),
    ("version-artifact", "GET", lambda w: "/model-versions/get-artifact", "READ",
     lambda w: {"name": w["model"], "version": "1", "path": "MLmodel"}, None),
    # logged models
    ("lm-create", "POST", lambda w: api("logged-models"), "EDIT", None,
     lambda w: {"experiment_id": w["exp"], "name": "lm2"}),
    ("lm-get", "GET", lambda w: api(f"logged-models/{w['logged_model']}"), "READ", None, None),
    ("lm-finalize", "PATCH", lambda w: api(f"logged-models/{w['logged_model']}"), "EDIT", None,
     lambda w: {"model_id": w["logged_model"], "status": "LOGGED_MODEL_READY"}),
    ("lm-set-tags", "PATCH", lambda w: api(f"logged-models/{w['logged_model']}/tags"), "EDIT",
     None, lambda w: {"tags": [{"key": "k", "value": "v"}]}),
    ("lm-params", "POST", lambda w: api(f"logged-models/{w['logged_model']}/params"), "EDIT",
     None, lambda w: {"params": [{"key": unique("p"), "value": "v"}]}),
    ("lm-delete-tag", "DELETE", lambda w: api(f"logged-models/{w['logged_model']}/tags/k"),
     "MANAGE", None, None),
    ("lm-delete", "DELETE", lambda w: api(f"logged-models/{w['logged_model']}"), "MANAGE", None,
     None),
    # artifact proxy: the experiment is the path's first segment
    ("proxy-get", "GET",
     lambda w: f"/api/2.0/mlflow-artifacts/artifacts/{w['exp']}/{w['run']}/artifacts/x.txt",
     "READ", None, None),
    ("proxy-put", "PUT",
     lambda w: f"/api/2.0/mlflow-artifacts/artifacts/{w['exp']}/{w['run']}/artifacts/y.txt",
     "EDIT", None, "data"),
    ("proxy-delete", "DELETE",
     lambda w: f"/api/2.0/mlflow-artifacts/artifacts/{w['exp']}/{w['run']}/artifacts/y.txt",
     "MANAGE", None, None),
    # permission management needs MANAGE on the resource
    ("exp-permission-get", "GET", lambda w: api("experiments/permissions/get"), "MANAGE",
     lambda w: {"experiment_id": w["exp"], "username": "reader"}, None),
    ("model-permission-get", "GET", lambda w: api("registered-models/permissions/get"), "MANAGE",
     lambda w: {"name": w["model"], "username": "reader"}, None),
]

ORDER = ["anonymous", "wrong-password", "noperm", "reader", "plain", "editor", "manager", "admin"]


def level_of(user):
    if user == "plain":
        return LEVEL[DEFAULT]
    return LEVEL[USERS[user]]


def send(server, who, row, w):
    _, method, path, _, params, body = row
    if who == "anonymous":
        s = session(server)
    elif who == "wrong-password":
        s = session(server, "reader", "not-the-password")
    else:
        s = session(server, who)
    kw = {"params": params(w) if params else None}
    if method == "PUT":
        return s.put(server.url + path(w), data=b"hello", params=kw["params"], timeout=60)
    b = body(w) if body else None
    return call(s, server, method, path(w), params=kw["params"], body=b)


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_endpoint_permission_matrix(server, row):
    w = make_world(server)
    assert w["has_registry"] or not row[0].startswith(("model-", "version-", "alias-"))
    assert w["logged_model"] != "none" or not row[0].startswith("lm-")
    required = LEVEL[row[3]]
    for who in ORDER:
        r = send(server, who, row, w)
        assert not (r.status_code == 404 and "ENDPOINT_NOT_FOUND" in r.text), \
            f"{row[1]} {row[2](w)} is not served"
        if who in ("anonymous", "wrong-password"):
            assert_unauthenticated(r)
        elif who != "admin" and level_of(who) < required:
            assert_forbidden(r)
        else:
            assert r.status_code not in (401, 403), f"{who}: {r.status_code} {r.text}"


def test_no_rule_means_any_authenticated_user(server):
    for who in ("noperm", "reader"):
        r = call(session(server, who), server, "POST", api("experiments/search"),
                 body={"max_results": 10})
        assert r.status_code == 200, r.text
    assert_unauthenticated(call(session(server), server, "POST", api("experiments/search"),
                                body={"max_results": 10}))


def test_artifact_path_without_an_experiment_uses_the_default(server):
    r = session(server, "noperm").get(server.url +
                                      "/api/2.0/mlflow-artifacts/artifacts/not-an-exp/x.txt")
    assert r.status_code not in (401, 403), r.text
