"""Model versions under basic-auth: what a version is made from, and where its files are read
(src/auth/gate.c plan_new_version, src/api/artifact_owner.c). A version's source is whatever
its creator names, so a registered model of one's own must not open another user's run,
logged model or experiment files: creating a version needs READ on its run_id and model_id,
and /model-versions/get-artifact needs READ on the experiment that holds the file, as the
artifact proxy would ask. Upstream checks the registered model only."""
import uuid

import pytest
import requests

from conftest import Server
from test_auth_helpers import ADMIN, auth_env, call, session, write_ini

API = "/api/2.0/mlflow/"
SECRET = b"TOP SECRET"


def pw(name):
    return f"pw-{name}-0123456789"


def as_user(server, user):
    s = requests.Session()
    s.auth = (user, ADMIN[1] if user == "admin" else pw(user))
    return s


def api(server, user, method, endpoint, body=None, params=None, expect=200):
    r = call(as_user(server, user), server, method, API + endpoint, params=params, body=body)
    assert r.status_code == expect, f"{user} {method} {endpoint} -> {r.status_code} {r.text}"
    return r.json() if r.content and expect == 200 else r


def get_artifact(server, user, name, version, path):
    return as_user(server, user).get(server.url + "/model-versions/get-artifact",
                                      params={"name": name, "version": version, "path": path},
                                      timeout=30)


def start(tmp_path, args=(), env=None):
    ini = write_ini(tmp_path, default_permission="NO_PERMISSIONS")
    server = Server(tmp_path, args=["--auth", *args], env=auth_env(ini, **(env or {}))).start()
    for user in ("alice", "bob"):
        r = call(session(server, "admin"), server, "POST", API + "users/create",
                 body={"username": user, "password": pw(user)})
        assert r.status_code == 200, r.text
    return server


def alice_run_with_secret(server):
    """Alice's experiment (proxied artifacts) and run, with secret.txt uploaded in it."""
    exp = api(server, "alice", "POST", "experiments/create",
              {"name": f"alice-{uuid.uuid4().hex[:8]}"})["experiment_id"]
    run = api(server, "alice", "POST", "runs/create", {"experiment_id": exp})["run"]["info"]
    assert run["artifact_uri"] == f"mlflow-artifacts:/{exp}/{run['run_id']}/artifacts"
    r = as_user(server, "alice").put(
        f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{exp}/{run['run_id']}/artifacts/"
        "secret.txt", data=SECRET, timeout=30)
    assert r.status_code == 200, r.text
    return exp, run["run_id"]


def bob_model(server):
    name = f"bob-{uuid.uuid4().hex[:8]}"
    api(server, "bob", "POST", "registered-models/create", {"name": name})
    return name


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = start(tmp_path_factory.mktemp("auth-model-sources"))
    yield s
    s.stop()


def test_a_version_of_ones_own_model_does_not_open_others_files(server):
    exp, run_id = alice_run_with_secret(server)
    # the direct routes refuse bob
    assert as_user(server, "bob").get(
        f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{exp}/{run_id}/artifacts/secret.txt",
        timeout=30).status_code == 403
    name = bob_model(server)
    sources = [f"mlflow-artifacts:/{exp}/{run_id}/artifacts",  # the run's directory
               f"runs:/{run_id}/",                             # the run, by URI
               f"{server.url}/api/2.0/mlflow-artifacts/artifacts"]  # the whole destination
    paths = ["secret.txt", "secret.txt", f"{exp}/{run_id}/artifacts/secret.txt"]
    for version, (source, path) in enumerate(zip(sources, paths), start=1):
        v = api(server, "bob", "POST", "model-versions/create",
                {"name": name, "source": source})["model_version"]
        assert v["version"] == str(version)
        r = get_artifact(server, "bob", name, version, path)
        assert r.status_code == 403 and SECRET not in r.content, (source, r.status_code)
        # the same version serves alice's file to those who may read it there
        r = get_artifact(server, "admin", name, version, path)
        assert r.status_code == 200 and r.content == SECRET, (source, r.status_code)
    api(server, "alice", "POST", "experiments/permissions/create",
        {"experiment_id": exp, "username": "bob", "permission": "READ"})
    for version, path in enumerate(paths, start=1):
        r = get_artifact(server, "bob", name, version, path)
        assert r.status_code == 200 and r.content == SECRET
    # files of the destination outside any experiment follow the default permission
    r = get_artifact(server, "bob", name, 3, "loose.txt")
    assert r.status_code == 403


def test_creating_a_version_needs_read_on_its_run_and_logged_model(server):
    exp, run_id = alice_run_with_secret(server)
    lm = api(server, "alice", "POST", "logged-models",
             {"experiment_id": exp, "source_run_id": run_id})["model"]["info"]["model_id"]
    name = bob_model(server)
    for body in ({"source": "s3://bucket/model", "run_id": run_id},
                 {"source": f"models:/{lm}", "model_id": lm}):
        r = api(server, "bob", "POST", "model-versions/create", {"name": name, **body},
                expect=403)
        assert r.text == "Permission denied"
    # alice's logged model kept no trace of bob's model
    tags = {t["key"]: t["value"] for t in api(server, "alice", "GET", f"logged-models/{lm}")
            ["model"]["info"].get("tags", [])}
    assert "mlflow.modelVersions" not in tags
    # ids that name nothing are the handler's to answer, as before
    v = api(server, "bob", "POST", "model-versions/create",
            {"name": name, "source": "s3://bucket/model", "run_id": "c" * 32})["model_version"]
    assert v["run_id"] == "c" * 32
    # with READ on alice's experiment bob may build on her run and logged model
    api(server, "alice", "POST", "experiments/permissions/create",
        {"experiment_id": exp, "username": "bob", "permission": "READ"})
    api(server, "bob", "POST", "model-versions/create",
        {"name": name, "source": f"models:/{lm}", "model_id": lm})
    v = api(server, "bob", "POST", "model-versions/create",
            {"name": name, "source": f"mlflow-artifacts:/{exp}/{run_id}/artifacts",
             "run_id": run_id})["model_version"]
    assert get_artifact(server, "bob", name, v["version"], "secret.txt").content == SECRET


def test_own_runs_register_and_read_as_before(server):
    exp = api(server, "bob", "POST", "experiments/create",
              {"name": f"bob-{uuid.uuid4().hex[:8]}"})["experiment_id"]
    run_id = api(server, "bob", "POST", "runs/create",
                 {"experiment_id": exp})["run"]["info"]["run_id"]
    r = as_user(server, "bob").put(
        f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{exp}/{run_id}/artifacts/m/MLmodel",
        data=b"flavors: {}\n", timeout=30)
    assert r.status_code == 200
    name = bob_model(server)
    api(server, "bob", "POST", "model-versions/create",
        {"name": name, "source": f"runs:/{run_id}/m", "run_id": run_id})
    r = get_artifact(server, "bob", name, 1, "MLmodel")
    assert r.status_code == 200 and r.content == b"flavors: {}\n"
    # alice may read bob's model only with a grant on it, and then bob's files only with one
    # on his experiment
    assert get_artifact(server, "alice", name, 1, "MLmodel").status_code == 403
    api(server, "bob", "POST", "registered-models/permissions/create",
        {"name": name, "username": "alice", "permission": "READ"})
    assert get_artifact(server, "alice", name, 1, "MLmodel").status_code == 403
    api(server, "bob", "POST", "experiments/permissions/create",
        {"experiment_id": exp, "username": "alice", "permission": "READ"})
    assert get_artifact(server, "alice", name, 1, "MLmodel").content == b"flavors: {}\n"


def test_local_files_outside_experiments_and_other_spellings_are_not_served(server):
    """Prompt versions skip the source checks (as upstream: their source is not a model), so a
    prompt could name any local path: the auth database, /etc/passwd. A local file no
    run or model holds is not served, not even to an admin; and places are compared as the system
    resolves them, so /proc/self/root/<destination>/... is the destination."""
    exp, run_id = alice_run_with_secret(server)
    name = bob_model(server)
    prompt = [{"key": "mlflow.prompt.is_prompt", "value": "true"}]
    dest = f"{server.workdir}/mlartifacts"
    sources = [("/etc", "passwd"), (server.workdir, "basic_auth.db"),
               (f"/proc/self/root{dest}/{exp}/{run_id}/artifacts", "secret.txt"),
               (f"/proc/self/cwd/mlartifacts/{exp}/{run_id}/artifacts", "secret.txt")]
    for version, (source, path) in enumerate(sources, start=1):
        api(server, "bob", "POST", "model-versions/create",
            {"name": name, "source": source, "tags": prompt})
        r = get_artifact(server, "bob", name, version, path)
        assert r.status_code == 403, (source, r.status_code, r.content[:100])
    # the admin reads the runs' files wherever they are, but no more than anyone the server's
    # other files (upstream serves /etc/passwd to anyone allowed the model)
    assert get_artifact(server, "admin", name, 3, "secret.txt").content == SECRET
    for version in (1, 2):
        assert get_artifact(server, "admin", name, version, sources[version - 1][1]).status_code == 403


def test_experiment_locations_never_decide_who_owns_a_file(server, tmp_path):
    """Any user picks an experiment's location: bob's experiment at "/" held every local file
    by the experiment-location rule, and read the server's files through a prompt version; and
    any user's parent experiment locked others out of their own uploads and versions. A file
    belongs to the innermost run or logged model whose directory (the server's choice, ending
    in its id) holds it."""
    api(server, "bob", "POST", "experiments/create",
        {"name": f"bob-root-{uuid.uuid4().hex[:8]}", "artifact_location": "/"})
    name = bob_model(server)
    api(server, "bob", "POST", "model-versions/create",
        {"name": name, "source": "/proc/self/cwd",
         "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]})
    for path in ("basic_auth.ini", "basic_auth.db", "mlflow.db"):
        assert get_artifact(server, "bob", name, 1, path).status_code == 403, path
    # alice's own local experiment (a plain path with "?" in a directory name, as MLflow
    # allows) keeps working for her beside bob's parent experiment
    home = tmp_path / "alice-home"
    home.mkdir()
    exp = api(server, "alice", "POST", "experiments/create",
              {"name": f"alice-local-{uuid.uuid4().hex[:8]}",
               "artifact_location": f"{home}/q?x"})["experiment_id"]
    api(server, "bob", "POST", "experiments/create",
        {"name": f"bob-parent-{uuid.uuid4().hex[:8]}", "artifact_location": str(tmp_path)})
    run = api(server, "alice", "POST", "runs/create", {"experiment_id": exp})["run"]["info"]
    assert run["artifact_uri"] == f"{home}/q?x/{run['run_id']}/artifacts"
    r = as_user(server, "alice").post(f"{server.url}/ajax-api/2.0/mlflow/upload-artifact",
                                      params={"run_uuid": run["run_id"], "path": "m/MLmodel"},
                                      data=b"flavors: {}\n", timeout=30)
    assert r.status_code == 200, r.text
    model = f"alice-{uuid.uuid4().hex[:8]}"
    api(server, "alice", "POST", "registered-models/create", {"name": model})
    api(server, "alice", "POST", "model-versions/create",
        {"name": model, "source": f"runs:/{run['run_id']}/m", "run_id": run["run_id"]})
    assert get_artifact(server, "alice", model, 1, "MLmodel").content == b"flavors: {}\n"
    # and bob's parent experiment gives him nothing of alice's
    api(server, "bob", "POST", "model-versions/create",
        {"name": name, "source": str(tmp_path),
         "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]})
    assert get_artifact(server, "bob", name, 2,
                        f"alice-home/q?x/{run['run_id']}/artifacts/m/MLmodel").status_code == 403


def test_ui_uploads_need_edit_where_the_files_land(server):
    """A run's location is its experiment's, which its creator chose: bob's experiment at
    mlflow-artifacts:/<alice's id> put bob's runs inside alice's experiment directory, and the
    UI's upload-artifact wrote there (the proxy's own rule refuses bob such a write)."""
    exp, run_id = alice_run_with_secret(server)
    url = f"{server.url}/ajax-api/2.0/mlflow/upload-artifact"
    for location in (f"mlflow-artifacts:/{exp}", f"mlflow-artifacts:/{exp}/{run_id}/artifacts"):
        bob_exp = api(server, "bob", "POST", "experiments/create",
                      {"name": f"bob-in-alice-{uuid.uuid4().hex[:8]}",
                       "artifact_location": location})["experiment_id"]
        bob_run = api(server, "bob", "POST", "runs/create",
                      {"experiment_id": bob_exp})["run"]["info"]["run_id"]
        r = as_user(server, "bob").post(url, params={"run_uuid": bob_run, "path": "planted.txt"},
                                        data=b"planted", timeout=30)
        assert r.status_code == 403, r.text
    listing = api(server, "alice", "GET", "artifacts/list", params={"run_id": run_id})
    assert [f["path"] for f in listing["files"]] == ["secret.txt"]
    # bob's own experiment: his upload lands
    own = api(server, "bob", "POST", "experiments/create",
              {"name": f"bob-own-{uuid.uuid4().hex[:8]}"})["experiment_id"]
    own_run = api(server, "bob", "POST", "runs/create",
                  {"experiment_id": own})["run"]["info"]["run_id"]
    r = as_user(server, "bob").post(url, params={"run_uuid": own_run, "path": "mine.txt"},
                                    data=b"mine", timeout=30)
    assert r.status_code == 200, r.text
    r = as_user(server, "bob").get(f"{server.url}/get-artifact",
                                   params={"run_id": own_run, "path": "mine.txt"}, timeout=30)
    assert r.content == b"mine"


def test_writes_need_edit_from_every_run_holding_the_file(server, tmp_path):
    """An experiment can be located inside another user's run directory: bob's runs then lie
    inside alice's run, and by the innermost-holder rule alone his EDIT on his own run let the
    UI upload plant files in alice's run (in her registered model's directory, even)."""
    home = tmp_path / "alice-local"
    exp = api(server, "alice", "POST", "experiments/create",
              {"name": f"alice-local-{uuid.uuid4().hex[:8]}",
               "artifact_location": str(home)})["experiment_id"]
    run = api(server, "alice", "POST", "runs/create", {"experiment_id": exp})["run"]["info"]
    url = f"{server.url}/ajax-api/2.0/mlflow/upload-artifact"
    r = as_user(server, "alice").post(url, params={"run_uuid": run["run_id"], "path": "m/MLmodel"},
                                      data=b"alice", timeout=30)
    assert r.status_code == 200, r.text
    bob_exp = api(server, "bob", "POST", "experiments/create",
                  {"name": f"bob-nested-{uuid.uuid4().hex[:8]}",
                   "artifact_location": f"{home}/{run['run_id']}/artifacts/m"})["experiment_id"]
    bob_run = api(server, "bob", "POST", "runs/create",
                  {"experiment_id": bob_exp})["run"]["info"]["run_id"]
    r = as_user(server, "bob").post(url, params={"run_uuid": bob_run, "path": "planted.txt"},
                                    data=b"planted", timeout=30)
    assert r.status_code == 403, r.text
    assert not (home / run["run_id"] / "artifacts" / "m" / bob_run).exists()


def test_s3_locations_belong_to_the_experiments_that_hold_them(tmp_path, s3_server):
    """Files outside the destination: the experiments whose artifact location holds them."""
    server = start(tmp_path, env=s3_server.env)
    try:
        prefix = f"auth-sources-{uuid.uuid4().hex[:8]}"
        location = f"s3://{s3_server.bucket}/{prefix}/alice"
        exp = api(server, "alice", "POST", "experiments/create",
                  {"name": f"alice-s3-{prefix}", "artifact_location": location})["experiment_id"]
        run_id = api(server, "alice", "POST", "runs/create",
                     {"experiment_id": exp})["run"]["info"]["run_id"]
        key = f"{prefix}/alice/{run_id}/artifacts/secret.txt"
        assert requests.put(s3_server.url(key), data=SECRET, timeout=30).status_code == 200
        name = bob_model(server)
        # an experiment whose location this server will not read (a fragment) still holds
        # the files its clients write there
        hashed = f"s3://{s3_server.bucket}/{prefix}/hashed#"
        exp2 = api(server, "alice", "POST", "experiments/create",
                   {"name": f"alice-s3h-{prefix}", "artifact_location": hashed})["experiment_id"]
        run2 = api(server, "alice", "POST", "runs/create",
                   {"experiment_id": exp2})["run"]["info"]["run_id"]
        assert requests.put(s3_server.url(f"{prefix}/hashed/{run2}/artifacts/secret.txt"),
                            data=SECRET, timeout=30).status_code == 200
        for source, path in ((f"{location}/{run_id}/artifacts", "secret.txt"),
                             (f"s3://{s3_server.bucket}/{prefix}",
                              f"alice/{run_id}/artifacts/secret.txt"),
                             (f"s3://{s3_server.bucket}/{prefix}/hashed/{run2}/artifacts",
                              "secret.txt"),
                             (f"s3://{s3_server.bucket.upper()}/{prefix}/alice/{run_id}/artifacts",
                              "secret.txt")):
            api(server, "bob", "POST", "model-versions/create", {"name": name, "source": source})
        for version, path in ((1, "secret.txt"), (2, f"alice/{run_id}/artifacts/secret.txt"),
                              (3, "secret.txt"), (4, "secret.txt")):
            assert get_artifact(server, "bob", name, version, path).status_code == 403, version
        for version, path in ((1, "secret.txt"), (2, f"alice/{run_id}/artifacts/secret.txt"),
                              (3, "secret.txt")):
            assert get_artifact(server, "admin", name, version, path).content == SECRET
        # a file no experiment holds is served as upstream serves it
        assert requests.put(s3_server.url(f"{prefix}/loose.txt"), data=b"loose",
                            timeout=30).status_code == 200
        assert get_artifact(server, "bob", name, 2, "loose.txt").content == b"loose"
        api(server, "alice", "POST", "experiments/permissions/create",
            {"experiment_id": exp, "username": "bob", "permission": "READ"})
        assert get_artifact(server, "bob", name, 1, "secret.txt").content == SECRET
    finally:
        server.stop()
