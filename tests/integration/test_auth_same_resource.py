"""The permission check and the handler act on the same resource.

MLflow 3.5's basic-auth reads some resource ids from another place than the handler does,
so a user can pass the check on a resource of their own and act on someone else's. mlflowd
closes each of those holes without changing what the mlflow client sends or receives:

  * a DELETE's body is where its parameters are read whatever its Content-Type (the
    handlers read it so), not the query string;
  * the UI's upload-artifact is checked on `run_uuid`, the run it writes to;
  * finalizing a logged model needs the body's `model_id` to be the path's;
  * an artifact path names its experiment after normalisation (`./1/...` is experiment 1);
  * experiment ids the stores read as integers (`01`, `+1`, ` 1`) meet the rows of `1`;
  * a deleted logged model is 404 to everyone, not its experiment's 403.

In each case `dave` owns resources of his own (anyone may create them and gets MANAGE) and
has an explicit NO_PERMISSIONS row on `alice`'s, under a default permission of READ."""
import base64
import http.client

import pytest

from test_auth_helpers import admin_api, call, create_users, grant, session, start_auth_server

API = "/api/2.0/mlflow/"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    server = start_auth_server(tmp_path_factory.mktemp("same"), default_permission="READ")
    create_users(server, {"alice": None, "dave": None})
    alice, dave = session(server, "alice"), session(server, "dave")
    w = {"server": server, "alice": alice, "dave": dave}
    for who in ("alice", "dave"):
        s = w[who]

        def ok(method, endpoint, body=None, params=None, s=s):
            r = call(s, server, method, API + endpoint, body=body, params=params)
            assert r.status_code == 200, r.text
            return r.json()

        exp = ok("POST", "experiments/create", {"name": f"{who}-exp"})["experiment_id"]
        run = ok("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
        model = f"{who}-model"
        ok("POST", "registered-models/create", {"name": model})
        ok("POST", "model-versions/create", {"name": model, "source": f"runs:/{run}/m",
                                             "run_id": run})
        ok("POST", "registered-models/alias", {"name": model, "alias": "champ", "version": "1"})
        ok("POST", "registered-models/set-tag", {"name": model, "key": "k", "value": "v"})
        lm = ok("POST", "logged-models", {"experiment_id": exp})["model"]["info"]["model_id"]
        r = call(s, server, "PUT",
                 f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/secret.txt",
                 data=f"{who}'s secret".encode())
        assert r.status_code == 200, r.text
        w[who + "_ids"] = {"exp": exp, "run": run, "model": model, "lm": lm}
    grant(server, "exp", w["alice_ids"]["exp"], "dave", "NO_PERMISSIONS")
    grant(server, "model", w["alice_ids"]["model"], "dave", "NO_PERMISSIONS")
    yield w
    server.stop()


def raw(world, user, method, path, body=b"", headers=None):
    """A request with the path exactly as given (requests would remove `./` segments)."""
    server = world["server"]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    auth = base64.b64encode(f"{user}:pw-{user}-0123456789".encode()).decode()
    conn.request(method, path, body=body, headers={"Authorization": f"Basic {auth}",
                                                   **(headers or {})})
    r = conn.getresponse()
    out = (r.status, r.read())
    conn.close()
    return out


def model_exists(world, name):
    r = call(session(world["server"], "admin"), world["server"], "GET",
             API + "registered-models/get", params={"name": name})
    return r.status_code == 200


@pytest.mark.parametrize("content_type", ["text/plain", None])
@pytest.mark.parametrize("endpoint, query, body", [
    ("registered-models/delete-tag", {"key": "k"}, {"key": "k"}),
    ("model-versions/delete-tag", {"version": "1", "key": "k"}, {"version": "1", "key": "k"}),
    ("registered-models/alias", {"alias": "champ"}, {"alias": "champ"}),
    ("model-versions/delete", {"version": "1"}, {"version": "1"}),
    ("registered-models/delete", {}, {}),
])
def test_a_delete_is_checked_on_the_body_it_acts_on(world, endpoint, query, body, content_type):
    """`?name=<dave's>` with a non-JSON Content-Type and `{"name": <alice's>}` in the body:
    the handler reads the body, so that is what is checked (403), and nothing of alice's
    changes."""
    import json
    import urllib.parse
    mine, theirs = world["dave_ids"]["model"], world["alice_ids"]["model"]
    qs = urllib.parse.urlencode({"name": mine, **query})
    headers = {"Content-Type": content_type} if content_type else {}
    status, text = raw(world, "dave", "DELETE", f"{API}{endpoint}?{qs}",
                       json.dumps({"name": theirs, **body}).encode(), headers)
    assert status == 403, text
    assert model_exists(world, theirs)
    alice_model = admin_api(world["server"], "GET", "registered-models/get",
                            params={"name": theirs})["registered_model"]
    assert alice_model.get("aliases"), alice_model
    assert alice_model.get("tags"), alice_model


def test_a_delete_with_a_text_body_on_ones_own_model_is_checked_and_done(world):
    """The same spelling on dave's own model: checked on the body, allowed, done."""
    import json
    status, text = raw(world, "dave", "DELETE",
                       f"{API}registered-models/delete-tag?name=nobody",
                       json.dumps({"name": world["dave_ids"]["model"], "key": "k"}).encode(),
                       {"Content-Type": "text/plain"})
    assert status == 200, text
    got = admin_api(world["server"], "GET", "registered-models/get",
                    params={"name": world["dave_ids"]["model"]})["registered_model"]
    assert not got.get("tags")


def test_ui_upload_is_checked_on_the_run_it_writes(world):
    server, dave = world["server"], world["dave"]
    alice_run, dave_run = world["alice_ids"]["run"], world["dave_ids"]["run"]
    r = call(dave, server, "POST", "/ajax-api/2.0/mlflow/upload-artifact",
             params={"run_id": dave_run, "run_uuid": alice_run, "path": "secret.txt"},
             data=b"overwritten", headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 403, r.text
    exp = world["alice_ids"]["exp"]
    got = call(session(server, "admin"), server, "GET",
               f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{alice_run}/artifacts/secret.txt")
    assert got.content == b"alice's secret"
    r = call(dave, server, "POST", "/ajax-api/2.0/mlflow/upload-artifact",
             params={"run_uuid": dave_run, "path": "mine.txt"}, data=b"mine",
             headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text


def test_finalize_needs_the_body_model_to_be_the_paths(world):
    server, dave = world["server"], world["dave"]
    theirs, mine = world["alice_ids"]["lm"], world["dave_ids"]["lm"]
    r = call(dave, server, "PATCH", API + f"logged-models/{mine}",
             body={"model_id": theirs, "status": "LOGGED_MODEL_READY"})
    assert r.status_code == 400, r.text
    assert theirs not in r.text or "not the one in the path" in r.text
    got = admin_api(server, "GET", f"logged-models/{theirs}")["model"]["info"]
    assert got["status"] != "LOGGED_MODEL_READY"
    r = call(dave, server, "PATCH", API + f"logged-models/{mine}",
             body={"model_id": mine, "status": "LOGGED_MODEL_READY"})
    assert r.status_code == 200, r.text
    assert r.json()["model"]["info"]["status"] == "LOGGED_MODEL_READY"


@pytest.mark.parametrize("prefix", ["/api", "/ajax-api"])
@pytest.mark.parametrize("spelling", ["./{exp}/{run}", "{exp}//{run}", "././/{exp}/./{run}"])
def test_artifact_paths_name_their_experiment_after_normalising(world, prefix, spelling):
    exp, run = world["alice_ids"]["exp"], world["alice_ids"]["run"]
    path = spelling.format(exp=exp, run=run)
    status, body = raw(world, "dave", "GET",
                       f"{prefix}/2.0/mlflow-artifacts/artifacts/{path}/artifacts/secret.txt")
    assert status == 403, body
    assert b"secret" not in body
    status, body = raw(world, "alice", "GET",
                       f"{prefix}/2.0/mlflow-artifacts/artifacts/{path}/artifacts/secret.txt")
    assert (status, body) == (200, b"alice's secret")


@pytest.mark.parametrize("path", ["{exp}", "./{exp}", "./{exp}/{run}/artifacts"])
def test_artifact_listings_name_their_experiment_after_normalising(world, path):
    exp, run = world["alice_ids"]["exp"], world["alice_ids"]["run"]
    r = call(world["dave"], world["server"], "GET", "/api/2.0/mlflow-artifacts/artifacts",
             params={"path": path.format(exp=exp, run=run)})
    assert r.status_code == 403, r.text
    assert run not in r.text


@pytest.mark.parametrize("spelling", ["0{id}", "+{id}", " {id}", "00{id}"])
def test_experiment_ids_in_any_spelling_meet_the_same_rows(world, spelling):
    server, dave = world["server"], world["dave"]
    exp = world["alice_ids"]["exp"]
    other = spelling.format(id=exp)
    r = call(dave, server, "GET", API + "experiments/get", params={"experiment_id": other})
    assert r.status_code == 403, r.text
    r = call(dave, server, "POST", API + "runs/search", body={"experiment_ids": [other]})
    assert r.status_code == 200 and r.json() == {}, r.text
    r = call(dave, server, "POST", API + "runs/create", body={"experiment_id": other})
    assert r.status_code == 403, r.text
    # alice's own rows hold in every spelling the store serves (all of them, as Python's int())
    r = call(world["alice"], server, "GET", API + "experiments/get",
             params={"experiment_id": other})
    assert r.status_code == 200 and r.json()["experiment"]["experiment_id"] == exp, r.text
    r = call(world["alice"], server, "POST", API + "runs/search", body={"experiment_ids": [other]})
    assert [x["info"]["run_id"] for x in r.json()["runs"]] == [world["alice_ids"]["run"]]


def test_a_grant_written_as_01_is_the_grant_of_1(world):
    """Permission rows hold the experiment id as the checks read it: a grant created for
    "01" is stored, listed and applied as the grant of experiment 1 (it was stored as "01",
    listed, and never applied)."""
    server, exp = world["server"], world["alice_ids"]["exp"]
    tag = {"experiment_id": exp, "key": "by-dave", "value": "v"}
    r = call(world["dave"], server, "POST", API + "experiments/set-experiment-tag", body=tag)
    assert r.status_code == 403, r.text
    got = admin_api(server, "PATCH", "experiments/permissions/update",
                    {"experiment_id": "0" + exp, "username": "dave", "permission": "EDIT"})
    assert got == {}
    row = admin_api(server, "GET", "experiments/permissions/get",
                    params={"experiment_id": exp, "username": "dave"})
    assert row["experiment_permission"]["permission"] == "EDIT"
    assert row["experiment_permission"]["experiment_id"] == exp
    r = call(world["dave"], server, "POST", API + "experiments/set-experiment-tag", body=tag)
    assert r.status_code == 200, r.text
    admin_api(server, "PATCH", "experiments/permissions/update",
              {"experiment_id": "+" + exp, "username": "dave", "permission": "NO_PERMISSIONS"})
    r = call(world["dave"], server, "POST", API + "experiments/set-experiment-tag", body=tag)
    assert r.status_code == 403, r.text


def test_a_deleted_logged_model_is_404_to_everyone(world):
    server = world["server"]
    exp = world["alice_ids"]["exp"]
    lm = call(world["alice"], server, "POST", API + "logged-models",
              body={"experiment_id": exp}).json()["model"]["info"]["model_id"]
    # dave is refused while it exists (and the server has looked its experiment up)
    assert call(world["dave"], server, "GET", API + f"logged-models/{lm}").status_code == 403
    r = call(world["alice"], server, "DELETE", API + f"logged-models/{lm}")
    assert r.status_code == 200, r.text
    for who in ("dave", "alice"):
        r = call(world[who], server, "GET", API + f"logged-models/{lm}")
        assert r.status_code == 404, (who, r.text)
        assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_head_is_checked_as_the_get_it_is(world):
    exp, run = world["alice_ids"]["exp"], world["alice_ids"]["run"]
    for path in (f"{API}experiments/get?experiment_id={exp}",
                 f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/secret.txt"):
        assert raw(world, "dave", "HEAD", path)[0] == 403, path
        assert raw(world, "alice", "HEAD", path) == (200, b""), path


@pytest.mark.parametrize("action", ["rename", "delete"])
def test_a_name_made_again_meanwhile_keeps_its_creators_grant(tmp_path, action):
    """alice renames (or deletes) her model while bob makes a model of the old name, as soon
    as it is free: the permission rows the rename moves (or the delete removes) are those the
    model had before, not bob's creator grant written in between. Before, bob's MANAGE went
    to alice's renamed model in a few rounds of a hundred (he could delete it), or was
    deleted (he could no longer manage his model)."""
    import threading
    server = start_auth_server(tmp_path / "srv", default_permission="READ")
    try:
        create_users(server, {"alice": None, "bob": None})
        alice, bob = session(server, "alice"), session(server, "bob")
        wrong = []
        for i in range(150):
            old, new = f"m{i}", f"m{i}-renamed"
            assert call(alice, server, "POST", API + "registered-models/create",
                        body={"name": old}).status_code == 200
            barrier = threading.Barrier(2)

            def change():
                barrier.wait()
                if action == "rename":
                    r = call(alice, server, "POST", API + "registered-models/rename",
                             body={"name": old, "new_name": new})
                else:
                    r = call(alice, server, "DELETE", API + "registered-models/delete",
                             body={"name": old})
                assert r.status_code == 200, r.text

            def make_again():  # until the name is free
                barrier.wait()
                for _ in range(2000):
                    r = call(bob, server, "POST", API + "registered-models/create",
                             body={"name": old})
                    if r.status_code == 200:
                        return
                    assert r.json()["error_code"] == "RESOURCE_ALREADY_EXISTS", r.text
                raise AssertionError("the name never came free")

            threads = [threading.Thread(target=f) for f in (change, make_again)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            admin = session(server, "admin")
            on_old, on_new = (call(admin, server, "GET", API + "registered-models/permissions/get",
                                   params={"name": name, "username": "bob"}) for name in (old, new))
            if on_old.status_code != 200 or on_new.status_code != 404 or \
                    on_old.json()["registered_model_permission"]["permission"] != "MANAGE":
                wrong.append((i, on_old.text, on_new.status_code))
        assert not wrong, wrong[:3]
    finally:
        server.stop()


@pytest.mark.parametrize("prefix", ["/api", "/ajax-api"])
def test_an_artifact_listing_with_its_path_in_a_get_body_is_checked_on_it(world, prefix):
    """A GET without a query string is read from its JSON body (rest-api.md §1.1); the
    check read only the query string, found no path and let the default permission
    decide, so dave listed the files of alice's runs. The body's path is checked now."""
    import json
    alice, dave = world["alice_ids"], world["dave_ids"]
    for path in (f"{alice['exp']}/{alice['run']}/artifacts", alice["exp"]):
        status, text = raw(world, "dave", "GET", f"{prefix}/2.0/mlflow-artifacts/artifacts",
                           json.dumps({"path": path}).encode(),
                           {"Content-Type": "application/json"})
        assert status == 403, text
        assert b"secret" not in text and alice["run"].encode() not in text
    status, text = raw(world, "dave", "GET", f"{prefix}/2.0/mlflow-artifacts/artifacts",
                       json.dumps({"path": f"{dave['exp']}/{dave['run']}/artifacts"}).encode(),
                       {"Content-Type": "application/json"})
    assert status == 200, text
    assert "secret.txt" in [f["path"] for f in json.loads(text)["files"]], text


def test_a_get_with_its_message_in_the_body_is_checked_on_it(world):
    """The same for any GET: experiments/get with {"experiment_id"} as its body is checked
    on that experiment (it was refused as missing the parameter)."""
    import json
    for who, status in (("alice", 403), ("dave", 200)):
        got, text = raw(world, "dave", "GET", f"{API}experiments/get",
                        json.dumps({"experiment_id": world[who + "_ids"]["exp"]}).encode())
        assert got == status, text


@pytest.mark.parametrize("source", ["models:/{lm}", "models:/{model}/1"])
def test_a_version_made_from_a_models_uri_needs_read_on_what_it_names(world, source):
    """model-versions/create with source models:/<logged model> (or models:/<name>/<version>)
    copies where that model's files are into the new version and links it: dave did so with
    alice's, and learned where her files are. READ on what the source names is needed now."""
    alice, dave = world["alice_ids"], world["dave_ids"]
    s, server = world["dave"], world["server"]
    r = call(s, server, "POST", API + "model-versions/create",
             body={"name": dave["model"], "source": source.format(**alice)})
    assert r.status_code == 403, r.text
    r = call(s, server, "POST", API + "model-versions/create",
             body={"name": dave["model"], "source": source.format(**dave)})
    assert r.status_code == 200, r.text


def test_runs_create_is_checked_on_the_experiment_it_writes_to(tmp_path):
    """runs/create with experiment_id "" makes the run in experiment 0; the check read ""
    as an experiment of its own, with no rows, so under default_permission EDIT a user with
    READ on experiment 0 still made runs there. It is checked on 0 now."""
    body = {"experiment_id": ""}
    server = start_auth_server(tmp_path / "srv", default_permission="EDIT")
    try:
        create_users(server, {"erin": None})
        grant(server, "exp", "0", "erin", "READ")
        erin = session(server, "erin")
        for sent in (body, {"experiment_id": "0"}):
            r = call(erin, server, "POST", API + "runs/create", body=sent)
            assert r.status_code == 403, (sent, r.text)
        admin_api(server, "PATCH", "experiments/permissions/update",
                  {"experiment_id": "0", "username": "erin", "permission": "EDIT"})
        r = call(erin, server, "POST", API + "runs/create", body=body)
        assert r.status_code == 200 and r.json()["run"]["info"]["experiment_id"] == "0", r.text
    finally:
        server.stop()


def test_an_access_token_cannot_change_its_users_password(tmp_path):
    """A personal access token that could set its user's password would outlive its expiry
    and revocation (the new password makes new tokens; the owner is locked out), as one
    that made tokens would. The password still changes with the password."""
    server = start_auth_server(tmp_path / "srv")
    try:
        create_users(server, {"fay": None})
        fay = session(server, "fay")
        r = call(fay, server, "POST", "/api/2.0/mlflowd/tokens/create", body={"name": "ci"})
        assert r.status_code == 200, r.text
        token = session(server, "fay", r.json()["token"])
        new = {"username": "fay", "password": "a-new-password-0123"}
        r = call(token, server, "PATCH", "/api/2.0/mlflow/users/update-password", body=new)
        assert r.status_code == 403 and "cannot change" in r.json()["message"], r.text
        assert call(fay, server, "GET", API + "experiments/get",
                    params={"experiment_id": "0"}).status_code == 200
        r = call(fay, server, "PATCH", "/api/2.0/mlflow/users/update-password", body=new)
        assert r.status_code == 200, r.text
    finally:
        server.stop()
