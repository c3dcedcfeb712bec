"""KServe hand-off (sso-and-deploy.md §5, R-KS-1 … R-KS-4): the InferenceService manifest of
GET /api/2.0/mlflowd/kserve/manifest and `mlflowd kserve manifest` for model versions whose
sources are mlflow-artifacts:/, runs:/ and models:/ URIs (resolved to s3:// through the S3
artifacts destination), the DNS-1035 names, READ/MANAGE through the auth layer, and the
server-side apply against a fake Kubernetes API that records what it was sent."""
import json
import os
import re
import subprocess
import urllib.parse
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import yaml

from conftest import BIN, assert_error
from test_auth_helpers import start_auth_server

DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def make_run(server):
    exp = server.api("POST", "experiments/create", {"name": "ks-" + uuid.uuid4().hex[:8]})[
        "experiment_id"]
    run = server.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]
    return exp, run["run_id"], run["artifact_uri"]


def make_version(server, source, run_id=None, name=None):
    name = name or "wine-" + uuid.uuid4().hex[:6]
    if server.get("/api/2.0/mlflow/registered-models/get", {"name": name}).status_code == 404:
        server.api("POST", "registered-models/create", {"name": name})
    body = {"name": name, "source": source}
    if run_id:
        body["run_id"] = run_id
    mv = server.api("POST", "model-versions/create", body)["model_version"]
    return name, mv["version"]


def manifest(server, **params):
    r = server.get("/api/2.0/mlflowd/kserve/manifest", params)
    assert r.status_code == 200, r.text
    return r.json()


def check_isvc(isvc, storage_uri, namespace="models", service_account="sa-kserve"):
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert isvc["kind"] == "InferenceService"
    name = isvc["metadata"]["name"]
    assert DNS_1035.match(name) and len(name) <= 45, name
    assert isvc["metadata"]["namespace"] == namespace
    predictor = isvc["spec"]["predictor"]
    assert predictor["serviceAccountName"] == service_account
    model = predictor["model"]
    assert model["modelFormat"] == {"name": "mlflow"}
    assert model["protocolVersion"] == "v2"
    assert model["runtime"] == "kserve-mlserver"
    assert model["storageUri"] == storage_uri.rstrip("/") + "/"  # a directory: KServe lists a prefix


def test_mlflow_artifacts_source_resolves_through_the_destination(kserve_server):
    s = kserve_server
    exp, run_id, artifact_uri = make_run(s)
    assert artifact_uri.startswith("mlflow-artifacts:/")
    name, version = make_version(s, f"{artifact_uri}/model", run_id)
    isvc = manifest(s, name=name, version=version)
    rel = artifact_uri[len("mlflow-artifacts:/"):].lstrip("/")
    check_isvc(isvc, f"{s.s3_root}/{rel}/model")
    assert isvc["metadata"]["name"] == f"{name}-v{version}"
    labels = isvc["metadata"]["labels"]
    assert labels["mlflow.org/registered-model"] == name
    assert labels["mlflow.org/model-version"] == version
    assert isvc["metadata"]["annotations"]["mlflow.org/source"] == f"{artifact_uri}/model"


def test_runs_source_resolves_through_the_run(kserve_server):
    s = kserve_server
    exp, run_id, artifact_uri = make_run(s)
    name, version = make_version(s, f"runs:/{run_id}/model", run_id)
    rel = artifact_uri[len("mlflow-artifacts:/"):].lstrip("/")
    check_isvc(manifest(s, name=name, version=version), f"{s.s3_root}/{rel}/model")


def test_models_sources_resolve_through_versions_and_logged_models(kserve_server):
    s = kserve_server
    exp, run_id, artifact_uri = make_run(s)
    base_name, base_version = make_version(s, f"{artifact_uri}/model", run_id)
    rel = artifact_uri[len("mlflow-artifacts:/"):].lstrip("/")
    # models:/<name>/<version>
    name, version = make_version(s, f"models:/{base_name}/{base_version}")
    check_isvc(manifest(s, name=name, version=version), f"{s.s3_root}/{rel}/model")
    # models:/<logged model id> (what mlflow 3's register_model sends)
    lm = s.api("POST", "logged-models", {"experiment_id": exp, "name": "lm"})["model"]["info"]
    name, version = make_version(s, f"models:/{lm['model_id']}")
    lm_rel = lm["artifact_uri"][len("mlflow-artifacts:/"):].lstrip("/")
    check_isvc(manifest(s, name=name, version=version), f"{s.s3_root}/{lm_rel}")


def test_alias_and_yaml(kserve_server):
    s = kserve_server
    exp, run_id, artifact_uri = make_run(s)
    name, version = make_version(s, f"{artifact_uri}/model", run_id)
    s.api("POST", "registered-models/alias", {"name": name, "alias": "champion", "version": version})
    isvc = manifest(s, name=name, alias="champion")
    assert isvc["metadata"]["name"] == f"{name}-champion"
    assert isvc["metadata"]["annotations"]["mlflow.org/model-alias"] == "champion"
    assert isvc["metadata"]["labels"]["mlflow.org/model-version"] == version
    r = s.get("/api/2.0/mlflowd/kserve/manifest", {"name": name, "alias": "champion",
                                                   "format": "yaml"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(r.text) == isvc


@pytest.mark.parametrize("odd", ["del\x7fname", "nel\x85name", "c1\x9bname", "tab\tname"])
def test_yaml_holds_names_with_control_characters(kserve_server, odd):
    """A model name with DEL or a C1 control (NEL among them) is written escaped: the YAML
    parses, and reads back as the JSON form does."""
    s = kserve_server
    exp, run_id, artifact_uri = make_run(s)
    name, version = make_version(s, f"{artifact_uri}/model", run_id, name=odd + uuid.uuid4().hex[:4])
    isvc = manifest(s, name=name, version=version)
    r = s.get("/api/2.0/mlflowd/kserve/manifest", {"name": name, "version": version,
                                                   "format": "yaml"})
    assert r.status_code == 200, r.text
    assert yaml.safe_load(r.text) == isvc
    assert not any(0x7f <= ord(c) <= 0x9f or c == "\t" for c in r.text)  # all escaped


def test_s3_source_is_kept_and_other_schemes_are_refused(kserve_server):
    s = kserve_server
    name, version = make_version(s, "s3://other-bucket/some/model/")
    check_isvc(manifest(s, name=name, version=version), "s3://other-bucket/some/model")
    for source in ("gs://bucket/model", "hdfs://nn/model", "wasbs://c@a.blob.core.windows.net/m"):
        name, version = make_version(s, source)
        r = s.get("/api/2.0/mlflowd/kserve/manifest", {"name": name, "version": version})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", "s3://")
    # a local artifact location (an experiment made with one)
    exp = s.api("POST", "experiments/create", {"name": "local-" + uuid.uuid4().hex[:6],
                                               "artifact_location": f"{s.workdir}/local-art"})
    run = s.api("POST", "runs/create", {"experiment_id": exp["experiment_id"]})["run"]["info"]
    name, version = make_version(s, f"{run['artifact_uri']}/model", run["run_id"])
    r = s.get("/api/2.0/mlflowd/kserve/manifest", {"name": name, "version": version})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "not in S3")


def test_bad_requests(kserve_server):
    s = kserve_server
    name, version = make_version(s, "s3://b/m")
    r = s.get("/api/2.0/mlflowd/kserve/manifest", {"name": name})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "exactly one of 'version' and 'alias'")
    r = s.get("/api/2.0/mlflowd/kserve/manifest", {"name": name, "version": "1", "alias": "a"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "exactly one")
    r = s.get("/api/2.0/mlflowd/kserve/manifest", {"name": name, "version": "7"})
    assert r.status_code == 404, r.text
    r = s.get("/api/2.0/mlflowd/kserve/manifest", {"name": "no-such-model", "version": "1"})
    assert r.status_code == 404, r.text
    r = s.get("/api/2.0/mlflowd/kserve/manifest", {"name": name, "version": "1", "format": "xml"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "format")


def test_names_are_dns_1035_and_deterministic(kserve_server):
    s = kserve_server
    names = set()
    for model in ("Wine Quality", "3d-model", "x" * 120, "ünïcödé/model", "a__b..c"):
        name, version = make_version(s, "s3://b/m", name=model + "-" + uuid.uuid4().hex[:4])
        first = manifest(s, name=name, version=version)["metadata"]["name"]
        again = manifest(s, name=name, version=version)["metadata"]["name"]
        assert first == again
        assert DNS_1035.match(first) and len(first) <= 45, first
        names.add(first)
    assert len(names) == 5


def test_a_source_without_a_proxied_s3_destination_is_refused(make_server):
    s = make_server()  # local artifacts destination
    exp, run_id, artifact_uri = make_run(s)
    name, version = make_version(s, f"{artifact_uri}/model", run_id)
    r = s.get("/api/2.0/mlflowd/kserve/manifest", {"name": name, "version": version})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "not in S3")


def test_cli_prints_the_same_manifest(kserve_server, s3_server):
    s = kserve_server
    exp, run_id, artifact_uri = make_run(s)
    name, version = make_version(s, f"runs:/{run_id}/model", run_id)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
    common = [BIN, "kserve", "manifest", "--backend-store-uri", s.db_uri,
              "--artifacts-destination", s.s3_root, "--name", name, "--version", version,
              "--namespace", "models", "--service-account", "sa-kserve"]
    out = subprocess.run(common + ["--output", "json"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == manifest(s, name=name, version=version)
    out = subprocess.run(common, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert yaml.safe_load(out.stdout) == manifest(s, name=name, version=version)
    bad = subprocess.run([BIN, "kserve", "manifest", "--name", name], env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "exactly one" in bad.stderr
    # the namespace goes into the apply URL's path: only a namespace name passes
    for namespace in ("a/../kube-system/secrets/x", "My NS", "-x", "x" * 64):
        at = [namespace if c == "models" else c for c in common]
        bad = subprocess.run(at, env=env, capture_output=True, text=True)
        assert bad.returncode != 0 and "not a Kubernetes namespace name" in bad.stderr, namespace


def test_cli_exit_status_follows_admins(tmp_path):
    """As `mlflowd admin`: a value that cannot be used fails (1), a missing flag is bad usage
    (2); --version x exited 2 while --namespace Bad_NS exited 1."""
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
    (tmp_path / "mlflow.db").touch()  # the default --backend-store-uri, present

    def kserve(*args):
        out = subprocess.run([BIN, "kserve", "manifest", *args], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
        assert "Sanitizer" not in out.stderr, out.stderr
        return out

    out = kserve("--name", "m", "--version", "x")
    assert out.returncode == 1 and "not a version number" in out.stderr, out.stderr
    out = kserve("--name", "m", "--version", "1", "--output", "xml")
    assert out.returncode == 1 and "--output 'xml'" in out.stderr, out.stderr
    out = kserve("--name", "m", "--version", "1", "--namespace", "Bad_NS")
    assert out.returncode == 1 and "not a Kubernetes namespace name" in out.stderr, out.stderr
    assert kserve("--name", "m").returncode == 2
    assert kserve("--no-such-flag").returncode == 2


# --- server-side apply (R-KS-4) ------------------------------------------------------------------

class FakeKubernetes:
    """Answers PATCH .../inferenceservices/<name> with the applied object (kept, and answered to
    a GET of it; 404 before) and records the PATCH calls."""

    def __init__(self, status=200, get_status=None):
        self.calls = []
        self.objects = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, code, obj):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if get_status:  # a GET the API refuses or fails (403, 500)
                    return self.answer(get_status, {"kind": "Status", "message": "get refused"})
                obj = fake.objects.get(self.path.split("?")[0])
                self.answer(200, obj) if obj else self.answer(404, {"kind": "Status",
                                                                     "message": "not found"})

            def do_PATCH(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                fake.calls.append({"path": self.path, "headers": dict(self.headers), "body": body})
                obj = yaml.safe_load(body)
                obj.setdefault("metadata", {})["uid"] = "uid-1"
                if status < 400:
                    fake.objects[self.path.split("?")[0]] = obj
                self.answer(status, obj if status < 400 else {
                    "kind": "Status", "message": "inferenceservices is forbidden"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def kube():
    k = FakeKubernetes()
    yield k
    k.close()


def test_apply_is_off_unless_configured(kserve_server):
    name, version = make_version(kserve_server, "s3://b/m")
    r = kserve_server.post("/api/2.0/mlflowd/kserve/apply", {"name": name, "version": version})
    assert_error(r, 501, "NOT_IMPLEMENTED", "--kserve-apply")


def test_apply_uses_server_side_apply(make_server, s3_server, kube, tmp_path):
    token = tmp_path / "token"
    token.write_text("sa-token-123\n")
    s = make_server(args=["--artifacts-destination", "s3://mlflow/apply", "--kserve-apply",
                          "--kserve-api-url", kube.url, "--kserve-token-file", str(token),
                          "--kserve-namespace", "models"], env=s3_server.env)
    name, version = make_version(s, "s3://mlflow/apply/model")
    r = s.post("/api/2.0/mlflowd/kserve/apply", {"name": name, "version": version})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["inference_service"]["metadata"]["uid"] == "uid-1"
    (call,) = kube.calls
    isvc_name = answer["manifest"]["metadata"]["name"]
    assert call["path"] == (f"/apis/serving.kserve.io/v1beta1/namespaces/models/inferenceservices/"
                            f"{isvc_name}?fieldManager=mlflowd&force=true")
    assert call["headers"]["Content-Type"] == "application/apply-patch+yaml"
    assert call["headers"]["Authorization"] == "Bearer sa-token-123"
    assert yaml.safe_load(call["body"]) == answer["manifest"]
    # the same through the CLI
    out = subprocess.run([BIN, "kserve", "apply", "--backend-store-uri", s.db_uri,
                          "--artifacts-destination", "s3://mlflow/apply", "--name", name,
                          "--version", version, "--namespace", "models", "--api-url", kube.url,
                          "--token-file", str(token), "--output", "json"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["metadata"]["uid"] == "uid-1"
    assert len(kube.calls) == 2 and kube.calls[1]["path"] == call["path"]
    # an empty namespace (kubectl apply -n decides) cannot be applied: said so, nothing sent
    out = subprocess.run([BIN, "kserve", "apply", "--backend-store-uri", s.db_uri,
                          "--artifacts-destination", "s3://mlflow/apply", "--name", name,
                          "--version", version, "--namespace=", "--api-url", kube.url,
                          "--token-file", str(token)], capture_output=True, text=True)
    assert out.returncode == 1 and "needs a namespace" in out.stderr, out.stderr
    assert len(kube.calls) == 2


@pytest.mark.parametrize("patch_status, get_status, status, code, message", [
    (403, None, 500, "INTERNAL_ERROR", "inferenceservices is forbidden"),
    # The check that no other model's InferenceService is replaced acted only on a 200: a GET
    # answered 403 or 500 went on to apply with force, over whatever holds the name.
    (200, 403, 500, "INTERNAL_ERROR", "get refused"),
    (200, 500, 503, "TEMPORARILY_UNAVAILABLE", "get refused"),
])
def test_apply_reports_a_refusal(make_server, s3_server, tmp_path, patch_status, get_status,
                                 status, code, message):
    k = FakeKubernetes(status=patch_status, get_status=get_status)
    try:
        token = tmp_path / "token"
        token.write_text("t")
        s = make_server(args=["--kserve-apply", "--kserve-api-url", k.url, "--kserve-token-file",
                              str(token)], env=s3_server.env)
        name, version = make_version(s, "s3://mlflow/m")
        r = s.post("/api/2.0/mlflowd/kserve/apply", {"name": name, "version": version})
        assert_error(r, status, code, message)
        assert len(k.calls) == (0 if get_status else 1)  # never applied after a failed GET
    finally:
        k.close()


def test_manifest_needs_read_and_apply_needs_manage(tmp_path, s3_server, kube):
    token = tmp_path / "token"
    token.write_text("t")
    s = start_auth_server(tmp_path / "srv", default_permission="NO_PERMISSIONS",
                          args=["--artifacts-destination",
                                f"s3://mlflow/guarded-{uuid.uuid4().hex[:8]}", "--kserve-apply",
                                "--kserve-api-url", kube.url, "--kserve-token-file", str(token)],
                          env=s3_server.env)
    try:
        admin = requests.Session()
        admin.auth = ("admin", "password1234")
        api = s.url + "/api/2.0/mlflow/"
        exp = admin.post(api + "experiments/create", json={"name": "g"}).json()["experiment_id"]
        run = admin.post(api + "runs/create", json={"experiment_id": exp}).json()["run"]["info"]
        assert admin.post(api + "registered-models/create", json={"name": "guarded"}).ok
        assert admin.post(api + "model-versions/create",
                          json={"name": "guarded", "source": run["artifact_uri"]}).ok
        assert admin.post(api + "users/create",
                          json={"username": "bob", "password": "bob-password-123"}).ok
        # the files' experiment is readable to bob: the model's permission decides below
        assert admin.post(api + "experiments/permissions/create",
                          json={"experiment_id": exp, "username": "bob",
                                "permission": "READ"}).ok
        bob = requests.Session()
        bob.auth = ("bob", "bob-password-123")
        q = {"name": "guarded", "version": "1"}
        assert bob.get(s.url + "/api/2.0/mlflowd/kserve/manifest", params=q).status_code == 403
        grant = {"name": "guarded", "username": "bob", "permission": "READ"}
        assert admin.post(api + "registered-models/permissions/create", json=grant).ok
        assert bob.get(s.url + "/api/2.0/mlflowd/kserve/manifest", params=q).status_code == 200
        assert bob.post(s.url + "/api/2.0/mlflowd/kserve/apply", json=q).status_code == 403
        assert kube.calls == []
        grant["permission"] = "MANAGE"
        assert admin.patch(api + "registered-models/permissions/update", json=grant).ok
        r = bob.post(s.url + "/api/2.0/mlflowd/kserve/apply", json=q)
        assert r.status_code == 200, r.text
        assert len(kube.calls) == 1
    finally:
        s.stop()
        s.drop_database()


def test_manifest_and_apply_need_read_where_the_files_are(tmp_path, s3_server, kube):
    """A version's source is whatever its creator named: bob's own model with a version made
    from alice's run must not hand alice's files to KServe (the manifest names them, apply
    serves them with KServe's credentials). As /model-versions/get-artifact: READ on the
    experiment that holds the files."""
    token = tmp_path / "token"
    token.write_text("t")
    prefix = "kserve-owner-" + uuid.uuid4().hex[:8]
    s = start_auth_server(tmp_path / "srv", default_permission="NO_PERMISSIONS",
                          args=["--artifacts-destination", f"s3://mlflow/{prefix}", "--kserve-apply",
                                "--kserve-api-url", kube.url, "--kserve-token-file", str(token)],
                          env=s3_server.env)
    try:
        api = s.url + "/api/2.0/mlflow/"
        admin = requests.Session()
        admin.auth = ("admin", "password1234")
        users = {}
        for name in ("alice", "bob"):
            assert admin.post(api + "users/create",
                              json={"username": name, "password": f"{name}-password-123"}).ok
            users[name] = requests.Session()
            users[name].auth = (name, f"{name}-password-123")
        alice, bob = users["alice"], users["bob"]
        exp = alice.post(api + "experiments/create", json={"name": "alice-ks"}).json()["experiment_id"]
        run = alice.post(api + "runs/create", json={"experiment_id": exp}).json()["run"]["info"]
        assert bob.post(api + "registered-models/create", json={"name": "bobs"}).ok
        assert bob.post(api + "model-versions/create",
                        json={"name": "bobs", "source": run["artifact_uri"]}).ok
        q = {"name": "bobs", "version": "1"}
        r = bob.get(s.url + "/api/2.0/mlflowd/kserve/manifest", params=q)
        assert r.status_code == 403 and run["run_id"] not in r.text
        assert bob.post(s.url + "/api/2.0/mlflowd/kserve/apply", json=q).status_code == 403
        assert kube.calls == []
        isvc = admin.get(s.url + "/api/2.0/mlflowd/kserve/manifest", params=q).json()
        storage = f"s3://mlflow/{prefix}/{exp}/{run['run_id']}/artifacts"
        assert isvc["spec"]["predictor"]["model"]["storageUri"] == storage + "/"
        assert alice.post(api + "experiments/permissions/create",
                          json={"experiment_id": exp, "username": "bob",
                                "permission": "READ"}).ok
        assert bob.get(s.url + "/api/2.0/mlflowd/kserve/manifest", params=q).status_code == 200
        assert bob.post(s.url + "/api/2.0/mlflowd/kserve/apply", json=q).status_code == 200
        assert len(kube.calls) == 1
        # KServe reads an S3 location as a key prefix (all below and beside it): only a run's
        # or a logged model's own directory is handed over by a non-admin. Not a parent of the
        # destination, of an experiment, of a run, nor a prefix of one (dest/8 also covers
        # dest/80), nor an external directory (the admin may)
        team = alice.post(api + "experiments/create",
                          json={"name": "alice-team", "artifact_location":
                                f"s3://mlflow/{prefix}-team/alice"}).json()["experiment_id"]
        assert team
        prompt = [{"key": "mlflow.prompt.is_prompt", "value": "true"}]
        sources = ["s3://mlflow", f"s3://mlflow/{prefix[:-2]}", f"s3://mlflow/{prefix}-team",
                   f"s3://mlflow/{prefix}/{exp}", f"s3://mlflow/{prefix}/{exp}/{run['run_id']}",
                   f"s3://mlflow/{prefix}/{exp}/{run['run_id'][:10]}",
                   f"s3://mlflow/{prefix}-external/model"]
        for version, source in enumerate(sources, start=2):
            assert bob.post(api + "model-versions/create",
                            json={"name": "bobs", "source": source, "tags": prompt}).ok
            r = bob.get(s.url + "/api/2.0/mlflowd/kserve/manifest",
                        params={"name": "bobs", "version": str(version)})
            assert r.status_code == 403, (source, r.text)
        r = admin.get(s.url + "/api/2.0/mlflowd/kserve/manifest",
                      params={"name": "bobs", "version": str(len(sources) + 1)})
        assert r.status_code == 200, r.text
    finally:
        s.stop()
        s.drop_database()


def test_different_models_never_share_a_name(kserve_server):
    """Pairs that once gave one name (and `apply` then replaced one model's service with the
    other's): a model and an alias of another, split at another '-'; the "m-" lead; an alias
    shaped like the hash a changed name ends with."""
    s = kserve_server
    tag = uuid.uuid4().hex[:4]

    def named(model, version=None, alias=None):
        name, v = make_version(s, "s3://b/m", name=model)
        if alias:
            s.api("POST", "registered-models/alias", {"name": name, "alias": alias, "version": v})
            return manifest(s, name=name, alias=alias)["metadata"]["name"]
        return manifest(s, name=name, version=v)["metadata"]["name"]

    pairs = [(named(f"a{tag}-b"), named(f"a{tag}", alias="b-v1")),
             (named(f"3model{tag}"), named(f"m-3model{tag}")),
             (named(f"w{tag}-prod"), named(f"w{tag}", alias="prod-v1"))]
    hashed = named(f"Q{tag}")  # upper case: the name ends with a hash
    model, _, digits = hashed.rpartition("-")
    pairs.append((hashed, named(model, alias=digits)))
    for one, other in pairs:
        assert one != other, (one, other)
        assert DNS_1035.match(one) and DNS_1035.match(other)


def test_cli_makes_no_database_where_there_is_none(tmp_path):
    """A mistyped --backend-store-uri is an error naming the path, not a new empty file."""
    missing = tmp_path / "mlflow.db"
    out = subprocess.run([BIN, "kserve", "manifest", "--backend-store-uri", f"sqlite:///{missing}",
                          "--artifacts-destination", "s3://b/p", "--name", "m", "--version", "1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "no tracking database" in out.stderr, out.stderr
    assert not missing.exists()


def test_apply_replaces_no_service_of_another_model(make_server, s3_server, kube, tmp_path):
    """Server-side apply with force takes over whatever holds the name: an InferenceService
    that serves another registered model (or that mlflowd did not make) is left alone (400 RESOURCE_ALREADY_EXISTS)."""
    token = tmp_path / "token"
    token.write_text("t")
    s = make_server(args=["--kserve-apply", "--kserve-api-url", kube.url, "--kserve-token-file",
                          str(token), "--kserve-namespace", "models"], env=s3_server.env)
    name, version = make_version(s, "s3://mlflow/m")
    r = s.post("/api/2.0/mlflowd/kserve/apply", {"name": name, "version": version})
    assert r.status_code == 200, r.text
    path = urllib.parse.urlparse(kube.calls[0]["path"]).path
    assert s.post("/api/2.0/mlflowd/kserve/apply",
                  {"name": name, "version": version}).status_code == 200  # its own: updated
    kube.objects[path]["metadata"]["annotations"]["mlflow.org/registered-model-name"] = "other"
    r = s.post("/api/2.0/mlflowd/kserve/apply", {"name": name, "version": version})
    assert_error(r, 400, "RESOURCE_ALREADY_EXISTS", "serves registered model 'other'")
    del kube.objects[path]["metadata"]["annotations"]
    r = s.post("/api/2.0/mlflowd/kserve/apply", {"name": name, "version": version})
    assert_error(r, 400, "RESOURCE_ALREADY_EXISTS", "something mlflowd did not make")
    assert len(kube.calls) == 2
