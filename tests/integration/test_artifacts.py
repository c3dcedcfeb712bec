"""Artifact endpoints: the /mlflow-artifacts/ proxy (rest-api.md §8), the run
listing artifacts/list (§5.16), the UI downloads /get-artifact and
/model-versions/get-artifact (§3), logged-model artifacts (§6.9), the ajax
upload (§8.3), and behaviours.md #8-#10.

Runs, model versions and logged models are inserted straight into the test
server's SQLite database so these tests do not depend on other endpoints."""
import hashlib
import http.client
import os
import sqlite3
import time
import urllib.parse
import uuid

import pytest
import requests

from conftest import assert_error, raw_request

ART = "/api/2.0/mlflow-artifacts/artifacts"
AJAX_ART = "/ajax-api/2.0/mlflow-artifacts/artifacts"
SECRET = b"TOP SECRET - outside the artifact destination"
MPU_MESSAGE = "Multipart upload is not supported for the current artifact repository"


# --- helpers ---------------------------------------------------------------

def destination(server):
    return os.path.join(server.workdir, "mlartifacts")


def put_artifact(server, path, data, quote=True):
    """PUT as the client does: the path in the URL (requests re-quotes it),
    or pre-quoted with urllib.parse.quote."""
    target = urllib.parse.quote(path) if quote else path
    r = server.put(f"{ART}/{target}", data=data,
                   headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    assert r.json() == {}
    return r


def get_artifact(server, path, quote=True):
    target = urllib.parse.quote(path) if quote else path
    return server.get(f"{ART}/{target}")


def list_artifacts(server, path=None):
    r = server.get(ART, params={"path": path} if path is not None else None)
    assert r.status_code == 200, r.text
    return r.json()


def walk(server, path):
    """The client's directory walk (§8.2): list, recurse into is_dir entries,
    GET every file. Returns {relative path: bytes}."""
    out = {}
    for f in list_artifacts(server, path).get("files", []):
        assert "/" not in f["path"], f  # basenames only
        child = f"{path}/{f['path']}"
        if f["is_dir"]:
            assert "file_size" not in f
            for sub, data in walk(server, child).items():
                out[f"{f['path']}/{sub}"] = data
        else:
            r = get_artifact(server, child)
            assert r.status_code == 200, r.text
            assert f.get("file_size", 0) == len(r.content)
            out[f["path"]] = r.content
    return out


def db(server):
    return sqlite3.connect(os.path.join(server.workdir, "mlflow.db"))


def insert_run(server, artifact_uri=None, lifecycle="active"):
    run_id = uuid.uuid4().hex
    uri = artifact_uri or f"mlflow-artifacts:/0/{run_id}/artifacts"
    with db(server) as c:
        c.execute(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id,"
            " status, start_time, source_version, lifecycle_stage, artifact_uri, experiment_id)"
            " VALUES (?, 'r', 'UNKNOWN', '', '', 'u', 'RUNNING', ?, '', ?, ?, 0)",
            (run_id, int(time.time() * 1000), lifecycle, uri))
    return run_id, uri


def insert_model_version(server, name, version, source, storage_location=None, stage="None"):
    now = int(time.time() * 1000)
    with db(server) as c:
        c.execute("INSERT INTO registered_models (name, creation_time, last_updated_time)"
                  " VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (name, now, now))
        c.execute("INSERT INTO model_versions (name, version, creation_time, last_updated_time,"
                  " current_stage, source, status, storage_location)"
                  " VALUES (?, ?, ?, ?, ?, ?, 'READY', ?)",
                  (name, version, now, now, stage, source, storage_location))


def insert_logged_model(server, lifecycle="active"):
    model_id = "m-" + uuid.uuid4().hex
    location = f"mlflow-artifacts:/0/models/{model_id}/artifacts"
    now = int(time.time() * 1000)
    with db(server) as c:
        c.execute("INSERT INTO logged_models (model_id, experiment_id, name, artifact_location,"
                  " creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage)"
                  " VALUES (?, 0, 'model', ?, ?, ?, 1, ?)", (model_id, location, now, now, lifecycle))
    return model_id, location


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module", autouse=True)
def secret_outside(server):
    """A file next to (outside) the destination that no request may reveal."""
    path = os.path.join(server.workdir, "secret.txt")
    with open(path, "wb") as f:
        f.write(SECRET)
    return path


# --- the proxy: files --------------------------------------------------------

def test_binary_round_trip_is_byte_identical(server):
    data = os.urandom(3 * 1024 * 1024 + 17)
    put_artifact(server, "rt/blob.bin", data)
    r = get_artifact(server, "rt/blob.bin")
    assert r.status_code == 200
    assert hashlib.sha256(r.content).digest() == hashlib.sha256(data).digest()
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Disposition"] == "attachment; filename=blob.bin"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    with open(os.path.join(destination(server), "rt", "blob.bin"), "rb") as f:
        assert f.read() == data


@pytest.mark.parametrize("name,mime", [
    ("MLmodel", "text/plain"), ("conda.yaml", "text/plain"), ("metrics.json", "text/plain"),
    ("plot.png", "image/png"), ("index.html", "text/html"), ("model.pkl", "application/octet-stream"),
    ("data.csv.gz", "text/csv"),
])
def test_download_content_type_follows_the_mime_rule(server, name, mime):
    put_artifact(server, f"mime/{name}", b"x")
    r = get_artifact(server, f"mime/{name}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == mime
    assert r.headers["Content-Disposition"] == f"attachment; filename={name}"


def test_nested_directories_walk_like_the_client(server):
    tree = {
        "top.txt": b"top",
        "model/MLmodel": b"flavors: {}\n",
        "model/data/weights.bin": os.urandom(5000),
        "model/data/deep/er/leaf.txt": b"leaf",
        "plots/a.png": b"\x89PNG...",
    }
    for rel, data in tree.items():
        put_artifact(server, f"walk/1/run/artifacts/{rel}", data)
    assert walk(server, "walk/1/run/artifacts") == tree
    listing = list_artifacts(server, "walk/1/run/artifacts")["files"]
    assert [f["path"] for f in listing] == ["model", "plots", "top.txt"]  # sorted
    assert listing[2] == {"path": "top.txt", "is_dir": False, "file_size": 3}
    assert listing[0] == {"path": "model", "is_dir": True}


def test_root_listing_and_missing_paths(server):
    put_artifact(server, "rootlist/x.txt", b"1")
    names = [f["path"] for f in list_artifacts(server)["files"]]
    assert "rootlist" in names
    assert list_artifacts(server, "does/not/exist") == {}


def test_listing_a_file_path_is_empty(server):
    """behaviours.md #8: the client tells files from dirs by an empty listing."""
    put_artifact(server, "fileonly/f.txt", b"content")
    assert list_artifacts(server, "fileonly/f.txt") == {}


def test_empty_file_is_listed_without_size_and_downloads(server):
    """behaviours.md #9."""
    put_artifact(server, "empty/e.txt", b"")
    assert list_artifacts(server, "empty") == {"files": [{"path": "e.txt", "is_dir": False}]}
    r = get_artifact(server, "empty/e.txt")
    assert r.status_code == 200 and r.content == b""


def test_overwrite_replaces_the_file(server):
    put_artifact(server, "ow/f.txt", b"first version, longer")
    put_artifact(server, "ow/f.txt", b"second")
    assert get_artifact(server, "ow/f.txt").content == b"second"
    assert list_artifacts(server, "ow") == {"files": [{"path": "f.txt", "is_dir": False, "file_size": 6}]}
    assert sorted(os.listdir(os.path.join(destination(server), "ow"))) == ["f.txt"]


def test_upload_onto_a_directory_or_under_a_file_is_refused(server):
    put_artifact(server, "clash/dir/f.txt", b"1")
    assert_error(server.put(f"{ART}/clash/dir", data=b"x"), 400, "INVALID_PARAMETER_VALUE")
    assert_error(server.put(f"{ART}/clash/dir/f.txt/g.txt", data=b"x"), 400,
                 "INVALID_PARAMETER_VALUE")
    assert get_artifact(server, "clash/dir/f.txt").content == b"1"


def test_upload_to_a_directory_name_is_refused(server):
    """A path ending in "/" or "/." names a directory: MLflow fails to write it, and once
    normalised it wrote a file named after the directory (beside a directory of that name on
    S3). The UI's upload too."""
    for form in ["named/", "named/%2E", "named%2F", "named%2F%2E"]:
        assert_error(server.put(f"{ART}/{form}", data=b"x"), 400, "INVALID_PARAMETER_VALUE",
                     "Invalid path")
    assert list_artifacts(server, "named") == {}
    run_id, _ = insert_run(server)
    url = f"{server.url}/ajax-api/2.0/mlflow/upload-artifact"
    for path in ["ui/", "ui/."]:
        r = server.session.post(url, params={"run_uuid": run_id, "path": path}, data=b"x")
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid path")
    put_artifact(server, "named/./f.txt", b"ok")  # "." inside a path is fine
    assert get_artifact(server, "named/f.txt").content == b"ok"


def test_uploads_racing_a_delete_of_their_directory_are_stored(server):
    """A DELETE of a directory while files are put into it: the directory could vanish between
    its creation and the upload's rename, which answered 500 (or 409). The directories are made
    again, so every upload is stored (and then maybe deleted) and nothing fails."""
    from concurrent.futures import ThreadPoolExecutor
    statuses = []

    def upload(i):
        session = requests.Session()
        for k in range(40):
            r = session.put(f"{server.url}{ART}/race/d{k % 3}/sub/f.bin", data=bytes([65 + i]) * 20000)
            statuses.append((r.status_code, r.text[:120]))

    def delete(_):
        session = requests.Session()
        for k in range(120):
            r = session.delete(f"{server.url}{ART}/race/d{k % 3}")
            statuses.append((r.status_code, r.text[:120]))

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda f: f[0](f[1]), [(upload, i) for i in range(4)] + [(delete, 0)] * 2))
    assert [s for s in statuses if s[0] != 200] == []
    put_artifact(server, "race/d0/sub/f.bin", b"last")
    assert get_artifact(server, "race/d0/sub/f.bin").content == b"last"


def test_delete_file_tree_and_absent(server):
    for rel in ["del/keep.txt", "del/f.txt", "del/tree/a.txt", "del/tree/sub/b.txt"]:
        put_artifact(server, rel, b"x")
    assert server.delete(f"{ART}/del/f.txt").json() == {}
    assert server.delete(f"{ART}/del/tree").json() == {}
    assert list_artifacts(server, "del") == {"files": [{"path": "keep.txt", "is_dir": False, "file_size": 1}]}
    r = server.delete(f"{ART}/del/never/was")
    assert r.status_code == 200 and r.json() == {}


def test_missing_file_or_directory_download_is_404(server):
    put_artifact(server, "dl/sub/f.txt", b"x")
    assert_error(get_artifact(server, "dl/nothing.txt"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(get_artifact(server, "dl/sub"), 404, "RESOURCE_DOES_NOT_EXIST")


def test_ajax_twin_serves_the_same_files(server):
    put_artifact(server, "ajax/f.txt", b"via api")
    r = server.get(f"{AJAX_ART}/ajax/f.txt")
    assert r.status_code == 200 and r.content == b"via api"
    r = server.get(AJAX_ART, params={"path": "ajax"})
    assert r.json() == {"files": [{"path": "f.txt", "is_dir": False, "file_size": 7}]}


# --- escaped names (behaviours.md #10) ---------------------------------------

NAMES = [
    "100%.txt", "50%off.txt", "a+b.txt", "with space.txt", "été ü.txt", "日本語.csv",
    "my img%step%3%timestamp%1700000000123.png", "semi;colon,comma.txt", "quote'tick.txt",
]


@pytest.mark.parametrize("quote", [False, True], ids=["requests-default", "urllib-quote"])
def test_escaped_names_round_trip_exactly(server, quote):
    base = f"esc-{int(quote)}"
    for i, name in enumerate(NAMES):
        put_artifact(server, f"{base}/{name}", f"content {i}".encode(), quote=quote)
    on_disk = sorted(os.listdir(os.path.join(destination(server), base)))
    assert on_disk == sorted(NAMES)
    listed = [f["path"] for f in list_artifacts(server, base)["files"]]
    assert listed == sorted(NAMES, key=lambda s: s.encode())
    for i, name in enumerate(NAMES):
        for q in (False, True):
            r = get_artifact(server, f"{base}/{name}", quote=q)
            assert r.status_code == 200, (name, r.text)
            assert r.content == f"content {i}".encode()


def test_names_with_a_drive_like_colon_are_served_everywhere(server):
    """"x:y.txt" and "k:dir" are names on Linux (Python's PureWindowsPath calls them
    relative; MLflow takes them): the proxy stored them but the run-relative endpoints
    refused them, so the UI listed a file it could not open. "C:/x" stays refused."""
    run_id, _ = insert_run(server)
    base = f"0/{run_id}/artifacts"
    put_artifact(server, f"{base}/x:y.txt", b"colon")
    put_artifact(server, f"{base}/k:dir/f.txt", b"in dir")
    r = server.get("/get-artifact", params={"run_id": run_id, "path": "x:y.txt"})
    assert r.status_code == 200 and r.content == b"colon", r.text
    r = server.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id, "path": "k:dir"})
    assert r.status_code == 200 and [f["path"] for f in r.json()["files"]] == ["k:dir/f.txt"], \
        r.text
    r = server.get("/get-artifact", params={"run_id": run_id, "path": "k:dir/f.txt"})
    assert r.status_code == 200 and r.content == b"in dir", r.text
    for bad in ("C:/x", "c:\\x"):
        r = server.get("/get-artifact", params={"run_id": run_id, "path": bad})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid path")


def test_bare_percent_sent_raw(server):
    """The wire form MLflow's client produces for these names."""
    status, _, _ = raw_request(server, "PUT", f"{ART}/rawpct/100%.txt", body=b"a")
    assert status == 200
    status, _, _ = raw_request(server, "PUT", f"{ART}/rawpct/50%25off.txt", body=b"b")
    assert status == 200
    assert sorted(os.listdir(os.path.join(destination(server), "rawpct"))) == ["100%.txt", "50%off.txt"]
    assert raw_request(server, "GET", f"{ART}/rawpct/100%25.txt")[2] == b"a"
    assert raw_request(server, "GET", f"{ART}/rawpct/50%25off.txt")[2] == b"b"


def test_names_that_are_not_utf8_are_refused(server):
    status, _, body = raw_request(server, "PUT", f"{ART}/bad/%FF.txt", body=b"x")
    assert_refused(status, body)


def test_non_ascii_download_has_a_valid_content_disposition(server):
    put_artifact(server, "nonascii/résumé.txt", b"cv")
    r = get_artifact(server, "nonascii/résumé.txt")
    assert r.status_code == 200 and r.content == b"cv"
    cd = r.headers["Content-Disposition"]
    assert cd.startswith("attachment; ")
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9.txt" in cd


# --- path safety (§8.0) on every route ---------------------------------------

URL_FORMS = [
    "../secret.txt", "a/../../secret.txt", "%2e%2e/secret.txt", "%2E%2E%2Fsecret.txt",
    "%252e%252e/secret.txt", "%25252e%25252e%25252fsecret.txt", "/etc/passwd", "%2Fetc%2Fpasswd",
    "a%5Cb", "..%5C..%5Csecret.txt", "a%23b", "C:%5Cx", "C:/x", "a%00b", "x/%00/../../secret.txt",
    "a%0Ab", "a%0D%0AX-Evil:%201", "a%7Fb", "file:%2F%2F%2Fetc%2Fpasswd",
]


def assert_refused(status, body, nul=False):
    assert status == 400, body
    assert SECRET not in body
    assert b'"error_code":"INVALID_PARAMETER_VALUE"' in body.replace(b" ", b""), body
    # a NUL in the path or a query value is refused for the whole request, before routing
    assert (b"NUL" if nul else b"Invalid path") in body, body


@pytest.mark.parametrize("form", URL_FORMS)
def test_traversal_in_url_path_is_refused_on_every_route(server, form):
    for method, prefix in [("GET", ART), ("PUT", ART), ("DELETE", ART), ("GET", AJAX_ART),
                           ("POST", "/api/2.0/mlflow-artifacts/mpu/create"),
                           ("POST", "/api/2.0/mlflow-artifacts/mpu/complete"),
                           ("POST", "/api/2.0/mlflow-artifacts/mpu/abort")]:
        body = b'{"path": "f", "parts": []}' if method == "POST" else (b"x" if method == "PUT" else None)
        headers = {"Content-Type": "application/json"} if method == "POST" else {}
        status, _, resp = raw_request(server, method, f"{prefix}/{form}", body=body, headers=headers)
        assert_refused(status, resp, nul="%00" in form)
    assert os.path.exists(os.path.join(server.workdir, "secret.txt"))


@pytest.fixture(scope="module")
def targets(server):
    """One record of each kind that an artifact query route can name."""
    run_id, _ = insert_run(server)
    insert_model_version(server, "safety-model", 1, f"mlflow-artifacts:/0/{run_id}/artifacts/model")
    model_id, _ = insert_logged_model(server)
    return {"run_id": run_id, "model_id": model_id}


@pytest.mark.parametrize("form", URL_FORMS)
def test_traversal_in_query_is_refused_on_every_route(server, targets, form):
    run_id, model_id = targets["run_id"], targets["model_id"]
    routes = [
        ("GET", f"{ART}?path={form}"),
        ("GET", f"/api/2.0/mlflow/artifacts/list?run_id={run_id}&run_uuid={run_id}&path={form}"),
        ("GET", f"/get-artifact?run_id={run_id}&path={form}"),
        ("GET", f"/model-versions/get-artifact?name=safety-model&version=1&path={form}"),
        ("GET", f"/api/2.0/mlflow/logged-models/{model_id}/artifacts/directories"
                f"?artifact_directory_path={form}"),
        ("GET", f"/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files"
                f"?artifact_file_path={form}"),
        ("POST", f"/ajax-api/2.0/mlflow/upload-artifact?run_uuid={run_id}&path={form}"),
    ]
    for method, target in routes:
        status, _, body = raw_request(server, method, target, body=b"x" if method == "POST" else None)
        assert_refused(status, body, nul="%00" in form)


def test_symlink_inside_destination_does_not_lead_outside(server, secret_outside):
    dest = destination(server)
    os.makedirs(dest, exist_ok=True)
    os.symlink(server.workdir, os.path.join(dest, "evil-dir"))
    os.symlink(secret_outside, os.path.join(dest, "evil-file"))
    for target in [f"{ART}/evil-dir/secret.txt", f"{ART}/evil-file",
                   f"{AJAX_ART}/evil-dir/secret.txt"]:
        status, _, body = raw_request(server, "GET", target)
        assert status == 404 and SECRET not in body, body
    assert list_artifacts(server, "evil-dir") == {}
    assert "evil-dir" not in [f["path"] for f in list_artifacts(server).get("files", [])]
    # writing through the link is refused and creates nothing outside
    assert_error(server.put(f"{ART}/evil-dir/planted.txt", data=b"x"), 400, "INVALID_PARAMETER_VALUE")
    assert not os.path.exists(os.path.join(server.workdir, "planted.txt"))
    # deleting through the link touches nothing outside; deleting the link removes only it
    assert server.delete(f"{ART}/evil-dir/secret.txt").status_code == 200
    assert server.delete(f"{ART}/evil-file").status_code == 200
    with open(secret_outside, "rb") as f:
        assert f.read() == SECRET
    assert not os.path.lexists(os.path.join(dest, "evil-file"))
    # a run whose artifact folder holds such a link
    run_id, _ = insert_run(server)
    run_dir = os.path.join(dest, "0", run_id, "artifacts")
    os.makedirs(run_dir)
    os.symlink(secret_outside, os.path.join(run_dir, "leak.txt"))
    status, _, body = raw_request(server, "GET", f"/get-artifact?run_id={run_id}&path=leak.txt")
    assert status == 404 and SECRET not in body
    os.unlink(os.path.join(dest, "evil-dir"))


# --- multipart (§8.2, §9) ------------------------------------------------------

@pytest.mark.parametrize("action", ["create", "complete", "abort"])
def test_multipart_is_not_implemented_on_a_local_destination(server, action):
    body = {"path": "/tmp/local/big.bin", "num_parts": 3, "upload_id": "u", "parts": []}
    r = server.post(f"/api/2.0/mlflow-artifacts/mpu/{action}/0/r/artifacts/big.bin", json=body)
    assert r.status_code == 501
    assert r.json() == {"error_code": "NOT_IMPLEMENTED", "message": MPU_MESSAGE}


@pytest.mark.parametrize("body", [
    {"path": "C:\\Users\\me\\model.bin", "num_parts": 60},  # the client sends its local path
    {"path": "/data/huge.bin", "num_parts": 10500},  # over S3's 10,000 parts
    {"path": "/data/dir/", "num_parts": 1},
    {"path": "model.bin", "num_parts": 3, "upload_id": "", "parts": []},
])
def test_multipart_on_a_local_destination_is_501_whatever_the_values(server, body):
    """501 with the exact message is what makes the client fall back to one PUT: only the
    message's types are checked before it, as MLflow does."""
    for action in ["create", "complete", "abort"]:
        r = server.post(f"/api/2.0/mlflow-artifacts/mpu/{action}/0/r/artifacts",
                        json=dict(body, parts=body.get("parts", [])))
        assert r.status_code == 501, (action, r.text)
        assert r.json() == {"error_code": "NOT_IMPLEMENTED", "message": MPU_MESSAGE}


def test_multipart_create_requires_path(server):
    r = server.post("/api/2.0/mlflow-artifacts/mpu/create/0/r/artifacts/big.bin", json={"num_parts": 2})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "path")


# --- runs, model versions, logged models --------------------------------------

def test_run_artifacts_list(server):
    run_id, uri = insert_run(server)
    prefix = f"0/{run_id}/artifacts"
    put_artifact(server, f"{prefix}/model/MLmodel", b"m")
    put_artifact(server, f"{prefix}/model/model.pkl", b"pkl!")
    put_artifact(server, f"{prefix}/x.txt", b"xx")
    ids = {"run_id": run_id, "run_uuid": run_id}
    top = server.api("GET", "artifacts/list", params=ids)
    assert top == {"root_uri": uri, "files": [{"path": "model", "is_dir": True},
                                              {"path": "x.txt", "is_dir": False, "file_size": 2}]}
    sub = server.api("GET", "artifacts/list", params={**ids, "path": "model"})
    assert sub["files"] == [{"path": "model/MLmodel", "is_dir": False, "file_size": 1},
                            {"path": "model/model.pkl", "is_dir": False, "file_size": 4}]
    assert server.api("GET", "artifacts/list", params={**ids, "path": "x.txt"}) == {"root_uri": uri}
    assert server.api("GET", "artifacts/list", params={"run_uuid": run_id, "path": "nope"}) == {"root_uri": uri}
    r = server.get("/api/2.0/mlflow/artifacts/list", params={"run_id": "0" * 32})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=")
    assert_error(server.get("/api/2.0/mlflow/artifacts/list"), 400, "INVALID_PARAMETER_VALUE", "run_id")


@pytest.mark.parametrize("scheme", ["file", "plain"])
def test_run_with_a_local_artifact_folder(server, tmp_path, scheme):
    folder = tmp_path / "mlruns" / "1" / "abc" / "artifacts"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "MLmodel").write_bytes(b"local model")
    uri = f"file://{folder}" if scheme == "file" else str(folder)
    run_id, _ = insert_run(server, artifact_uri=uri)
    listing = server.api("GET", "artifacts/list", params={"run_id": run_id, "path": "model"})
    assert listing == {"root_uri": uri, "files": [{"path": "model/MLmodel", "is_dir": False, "file_size": 11}]}
    r = server.get("/get-artifact", params={"run_id": run_id, "path": "model/MLmodel"})
    assert r.status_code == 200 and r.content == b"local model"
    assert r.headers["Content-Type"] == "text/plain"
    # the ajax upload lands in that folder too
    r = server.session.post(f"{server.url}/ajax-api/2.0/mlflow/upload-artifact",
                            params={"run_uuid": run_id, "path": "notes/n.txt"}, data=b"note")
    assert r.status_code == 200, r.text
    assert (folder / "notes" / "n.txt").read_bytes() == b"note"


def test_get_artifact_for_a_proxied_run(server):
    run_id, _ = insert_run(server)
    put_artifact(server, f"0/{run_id}/artifacts/model/MLmodel", b"proxied")
    r = server.get("/get-artifact", params={"run_id": run_id, "path": "model/MLmodel"})
    assert r.status_code == 200 and r.content == b"proxied"
    assert r.headers["Content-Disposition"] == "attachment; filename=MLmodel"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = server.get("/get-artifact", params={"run_uuid": run_id, "path": "model/MLmodel"})
    assert r.status_code == 200 and r.content == b"proxied"
    assert_error(server.get("/get-artifact", params={"run_id": run_id, "path": "model/none"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.get("/get-artifact", params={"run_id": "f" * 32, "path": "x"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(server.get("/get-artifact", params={"run_id": run_id}), 400, "INVALID_PARAMETER_VALUE")


def test_model_version_get_artifact(server):
    run_id, _ = insert_run(server)
    put_artifact(server, f"0/{run_id}/artifacts/model/MLmodel", b"mv model")
    src = f"mlflow-artifacts:/0/{run_id}/artifacts/model"
    insert_model_version(server, "mv-art", 1, "models:/m-unresolved", storage_location=src)
    insert_model_version(server, "mv-art", 2, src)  # no storage_location: the source
    insert_model_version(server, "mv-art", 3, src, stage="Deleted_Internal")
    for version in ("1", "2"):
        r = server.get("/model-versions/get-artifact",
                       params={"name": "mv-art", "version": version, "path": "MLmodel"})
        assert r.status_code == 200 and r.content == b"mv model", r.text
    r = server.get("/model-versions/get-artifact", params={"name": "mv-art", "version": "3", "path": "MLmodel"})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    r = server.get("/model-versions/get-artifact", params={"name": "mv-art", "version": "x", "path": "MLmodel"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "must be an integer")


def test_model_version_with_a_runs_uri_source_follows_the_run(server):
    """A version registered from `runs:/<id>/<path>` reads the run's artifacts, as MLflow's
    RunsArtifactRepository does; an unknown run is 404, a climbing path 400."""
    run_id, _ = insert_run(server)
    put_artifact(server, f"0/{run_id}/artifacts/model/MLmodel", b"from the run")
    insert_model_version(server, "mv-runs", 1, f"runs:/{run_id}/model")
    insert_model_version(server, "mv-runs", 2, f"runs:/{run_id}")
    insert_model_version(server, "mv-runs", 3, f"runs:/{'0' * 32}/model")
    insert_model_version(server, "mv-runs", 4, f"runs:/{run_id}/../../x")
    for version, path in (("1", "MLmodel"), ("2", "model/MLmodel")):
        r = server.get("/model-versions/get-artifact",
                       params={"name": "mv-runs", "version": version, "path": path})
        assert r.status_code == 200 and r.content == b"from the run", r.text
    r = server.get("/model-versions/get-artifact",
                   params={"name": "mv-runs", "version": "3", "path": "MLmodel"})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    r = server.get("/model-versions/get-artifact",
                   params={"name": "mv-runs", "version": "4", "path": "MLmodel"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_model_version_with_a_models_uri_source_follows_the_logged_model(server):
    model_id, location = insert_logged_model(server)
    put_artifact(server, location.split(":", 1)[1].lstrip("/") + "/MLmodel", b"logged")
    insert_model_version(server, "mv-models-uri", 1, f"models:/{model_id}")
    r = server.get("/model-versions/get-artifact",
                   params={"name": "mv-models-uri", "version": "1", "path": "MLmodel"})
    assert r.status_code == 200 and r.content == b"logged"


def test_logged_model_artifacts(server):
    model_id, location = insert_logged_model(server)
    prefix = location.split(":", 1)[1].lstrip("/")
    put_artifact(server, f"{prefix}/MLmodel", b"lm")
    put_artifact(server, f"{prefix}/data/model.pkl", b"weights")
    base = f"/api/2.0/mlflow/logged-models/{model_id}/artifacts"
    r = server.get(f"{base}/directories")
    assert r.json() == {"root_uri": location, "files": [
        {"path": "MLmodel", "is_dir": False, "file_size": 2}, {"path": "data", "is_dir": True}]}
    r = server.get(f"{base}/directories", params={"artifact_directory_path": "data"})
    assert r.json()["files"] == [{"path": "data/model.pkl", "is_dir": False, "file_size": 7}]
    ajax = f"/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files"
    r = server.get(ajax, params={"artifact_file_path": "data/model.pkl"})
    assert r.status_code == 200 and r.content == b"weights"
    assert_error(server.get(ajax), 400, "BAD_REQUEST", "artifact_file_path")
    assert server.get(f"{base}/files", params={"artifact_file_path": "MLmodel"}).status_code == 404
    deleted_id, _ = insert_logged_model(server, lifecycle="deleted")
    r = server.get(f"/api/2.0/mlflow/logged-models/{deleted_id}/artifacts/directories")
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_ajax_upload_artifact(server):
    run_id, _ = insert_run(server)
    url = f"{server.url}/ajax-api/2.0/mlflow/upload-artifact"
    r = server.session.post(url, params={"run_uuid": run_id, "path": "ui/up.txt"}, data=b"from ui")
    assert r.status_code == 200, r.text
    with open(os.path.join(destination(server), "0", run_id, "artifacts", "ui", "up.txt"), "rb") as f:
        assert f.read() == b"from ui"
    r = server.session.post(url, params={"run_uuid": run_id, "path": "ui/empty.txt"}, data=b"")
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "data")
    # a declared size over 10 MB is refused before the body is read ...
    target = f"/ajax-api/2.0/mlflow/upload-artifact?run_uuid={run_id}&path=ui/big.bin"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", target)
    conn.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 400 and b"10MB" in resp.read()
    conn.close()
    # ... and a chunked one once it turns out bigger
    r = server.session.post(url, params={"run_uuid": run_id, "path": "ui/big.bin"},
                            data=(b"x" * (1024 * 1024) for _ in range(11)))
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "10MB")
    assert not os.path.exists(os.path.join(destination(server), "0", run_id, "artifacts", "ui", "big.bin"))
    assert_error(server.session.post(url, params={"path": "a"}, data=b"x"), 400, "INVALID_PARAMETER_VALUE", "run_uuid")
    assert_error(server.session.post(url, params={"run_uuid": run_id}, data=b"x"), 400, "INVALID_PARAMETER_VALUE", "path")
    r = server.session.post(url, params={"run_uuid": "0" * 32, "path": "a"}, data=b"x")
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    assert not os.path.exists(os.path.join(destination(server), "0", run_id, "artifacts", "ui", "empty.txt"))
    # ajax only
    r = server.session.post(f"{server.url}/api/2.0/mlflow/upload-artifact",
                            params={"run_uuid": run_id, "path": "a"}, data=b"x")
    assert r.status_code == 404


# --- uploads in progress, memory ------------------------------------------------

def start_upload(server, path, declared, sent):
    """A PUT that declares `declared` bytes and sends `sent`, left open (close() cuts it off)."""
    sock = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    sock.putrequest("PUT", f"{ART}/{path}")
    sock.putheader("Content-Length", str(declared))
    sock.endheaders()
    sock.send(b"n" * sent)
    time.sleep(0.3)  # the server has begun the upload
    return sock


def test_upload_in_progress_is_invisible_and_an_aborted_one_leaves_nothing(server):
    """The body goes to a hidden file in the destination's root, renamed into place when
    complete: until then the old file is served, and a cut-off upload leaves nothing."""
    put_artifact(server, "inprogress/old.txt", b"old")
    root = destination(server)

    def temps():
        return [n for n in os.listdir(root) if n.startswith(".mlflowd-upload-")]

    assert temps() == []
    sock = start_upload(server, "inprogress/old.txt", declared=1000000, sent=1000)
    assert len(temps()) == 1
    assert list_artifacts(server, "inprogress") == {"files": [{"path": "old.txt", "is_dir": False, "file_size": 3}]}
    assert all(not f["path"].startswith(".mlflowd") for f in list_artifacts(server).get("files", []))
    assert get_artifact(server, "inprogress/old.txt").content == b"old"
    assert_error(server.get(f"{ART}/{temps()[0]}"), 400, "INVALID_PARAMETER_VALUE")
    sock.close()  # the client goes away mid-body
    deadline = time.time() + 10
    while time.time() < deadline and temps():
        time.sleep(0.05)
    assert temps() == []
    assert os.listdir(os.path.join(root, "inprogress")) == ["old.txt"]
    assert get_artifact(server, "inprogress/old.txt").content == b"old"


def test_failed_uploads_leave_no_directories(server):
    """Directories are made when an upload completes: a cut-off PUT into new directories, and
    UI uploads refused for an empty or too big body, leave none to be listed."""
    root = destination(server)
    start_upload(server, "never/made/x.txt", declared=100000, sent=100).close()
    run_id, _ = insert_run(server)
    url = f"{server.url}/ajax-api/2.0/mlflow/upload-artifact"
    r = server.session.post(url, params={"run_uuid": run_id, "path": "uiempty/sub/e.txt"}, data=b"")
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = server.session.post(url, params={"run_uuid": run_id, "path": "uibig/b.bin"},
                            data=(b"x" * (1024 * 1024) for _ in range(11)))
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "10MB")
    deadline = time.time() + 10
    while time.time() < deadline and any(n.startswith(".mlflowd-upload-") for n in os.listdir(root)):
        time.sleep(0.05)
    assert not os.path.exists(os.path.join(root, "never"))
    listed = server.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id}).json()
    assert listed.get("files", []) == [], listed


def test_uploads_cut_off_by_a_stop_are_removed_at_start(make_server, tmp_path):
    """A server killed mid-upload leaves its hidden file; the next start removes it once it
    has been untouched for an hour (another replica's live upload is younger)."""
    dest = tmp_path / "dest"
    dest.mkdir()
    stale, live = dest / ".mlflowd-upload-stale", dest / ".mlflowd-upload-live"
    stale.write_bytes(b"half")
    live.write_bytes(b"going")
    hours_ago = time.time() - 2 * 3600
    os.utime(stale, (hours_ago, hours_ago))
    s = make_server(args=["--artifacts-destination", str(dest)])
    assert not stale.exists() and live.exists()
    assert "an upload cut off by a stop" in s.log()


def test_a_file_as_artifacts_destination_stops_the_start(make_server, tmp_path):
    path = tmp_path / "not-a-directory"
    path.write_text("x")
    with pytest.raises(RuntimeError) as e:
        make_server(args=["--artifacts-destination", str(path)])
    assert "not a directory" in str(e.value)


def test_other_storage_schemes_as_artifacts_destination_stop_the_start(make_server, tmp_path):
    """gs://, wasbs://, ... are not supported: refused at start, not taken as a local
    directory named "gs:" below the working directory."""
    for dest in ("gs://bucket/x", "wasbs://c@acct.blob.core.windows.net/x", "hdfs://h/x"):
        with pytest.raises(RuntimeError) as e:
            make_server(args=["--artifacts-destination", dest])
        assert "not supported yet" in str(e.value), dest
    assert not any(p.name.endswith(":") for p in tmp_path.rglob("*"))
    # not served, the destination is not used and not checked
    make_server(args=["--no-serve-artifacts", "--artifacts-destination", "gs://bucket/x"])


def test_no_serve_artifacts_answers_503(make_server):
    s = make_server(args=["--no-serve-artifacts"])
    for method, path in [("GET", f"{ART}/a.txt"), ("PUT", f"{ART}/a.txt"), ("DELETE", f"{ART}/a.txt"),
                         ("GET", ART), ("GET", f"{AJAX_ART}/a.txt"),
                         ("POST", "/api/2.0/mlflow-artifacts/mpu/create/a.txt")]:
        r = s.session.request(method, s.url + path, data=b"x" if method == "PUT" else None,
                              json={"path": "a"} if method == "POST" else None, timeout=30)
        # Flask's plain 503 naming the URL rule (rest-api.md §1.4), as mlflow server answers
        rule = path.split("/a.txt")[0] + ("/<path:artifact_path>" if "/a.txt" in path else "")
        assert r.status_code == 503 and r.headers["Content-Type"].startswith("text/html"), r.text
        assert r.text == (f"Endpoint: {rule} disabled due to the mlflow server running with "
                          "`--no-serve-artifacts`. To enable artifacts server functionality, run "
                          "`mlflow server` with `--serve-artifacts`")
    # tracking routes still answer, but cannot reach proxied locations
    run_id, _ = insert_run(s)
    r = s.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id})
    assert_error(r, 501, "NOT_IMPLEMENTED", "--no-serve-artifacts")


def test_artifacts_only_serves_artifacts_but_not_tracking(make_server):
    s = make_server(args=["--artifacts-only"])
    put_artifact(s, "only/f.txt", b"served")
    assert get_artifact(s, "only/f.txt").content == b"served"
    assert list_artifacts(s, "only")["files"][0]["path"] == "f.txt"
    for path in ["/api/2.0/mlflow/artifacts/list?run_id=abc", "/get-artifact?run_id=abc&path=f",
                 "/model-versions/get-artifact?name=a&version=1&path=f",
                 "/ajax-api/2.0/mlflow/logged-models/m-1"]:
        r = s.get(path)
        rule = path.split("?")[0].replace("m-1", "<model_id>")
        assert r.status_code == 503, r.text
        assert r.text.startswith(f"Endpoint: {rule} disabled due to the mlflow server running in "
                                 "`--artifacts-only` mode."), r.text


def test_a_location_ending_in_hash_or_query_keeps_runs_in_their_own_directories(server, tmp_path):
    """Run and logged-model locations are the experiment's with "<run>/artifacts" appended to
    its path, as MLflow's append_to_uri_path does. Appended as text to `file:///dir#` (an empty
    fragment, accepted as by MLflow) or `...?x`, they read as `dir` itself once the reader cut
    the URI at "#" or "?": any run could read and write the whole directory (with `/etc#`, the
    server's files; with `mlflow-artifacts:/#`, every experiment's). A stored URI with a "#"
    (another tool's row) is refused."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "secret.txt").write_bytes(b"TOP SECRET")
    for location, suffix in [(f"file://{victim}#", ""), (f"file://{victim}?x", "?x"),
                             ("mlflow-artifacts:/#", "")]:
        exp = server.api("POST", "experiments/create",
                         {"name": f"loc-{uuid.uuid4().hex[:8]}", "artifact_location": location})
        run = server.api("POST", "runs/create", {"experiment_id": exp["experiment_id"]})["run"]
        run_id = run["info"]["run_id"]
        base = location.split("#")[0].split("?")[0]
        assert run["info"]["artifact_uri"] == f"{base.rstrip('/')}/{run_id}/artifacts{suffix}"
        r = server.get("/get-artifact", params={"run_id": run_id, "path": "secret.txt"})
        assert r.status_code == 404 and b"TOP SECRET" not in r.content
        listing = server.api("GET", "artifacts/list", params={"run_id": run_id})
        assert listing == {"root_uri": run["info"]["artifact_uri"]}, listing
        lm = server.api("POST", "logged-models", {"experiment_id": exp["experiment_id"]})
        lm_id = lm["model"]["info"]["model_id"]
        assert lm["model"]["info"]["artifact_uri"] == \
            f"{base.rstrip('/')}/models/{lm_id}/artifacts{suffix}"
        r = server.get(f"/ajax-api/2.0/mlflow/logged-models/{lm_id}/artifacts/files",
                       params={"artifact_file_path": "secret.txt"})
        assert r.status_code == 404 and b"TOP SECRET" not in r.content
    # a UI upload through such a run lands in the run's directory, never over the victim's file
    r = server.session.post(f"{server.url}/ajax-api/2.0/mlflow/upload-artifact",
                            params={"run_uuid": run_id, "path": "secret.txt"}, data=b"OVERWRITTEN")
    assert r.status_code == 200
    assert (victim / "secret.txt").read_bytes() == b"TOP SECRET"
    run_id, _ = insert_run(server, artifact_uri=f"file://{victim}#/x/artifacts")
    assert_error(server.get("/get-artifact", params={"run_id": run_id, "path": "secret.txt"}), 400,
                 "INVALID_PARAMETER_VALUE", "Invalid artifact URI")


def test_runs_sources_join_their_path_before_the_query(server, tmp_path):
    """runs:/<id>/<path> is the run's location with <path> appended to its path, before any
    query (upstream's get_artifact_uri): a location with a query made the path land after it,
    and the version's files were looked for in the run's artifacts root."""
    exp = server.api("POST", "experiments/create",
                     {"name": f"q-{uuid.uuid4().hex[:8]}",
                      "artifact_location": f"file://{tmp_path}/q?x"})["experiment_id"]
    run = server.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]
    r = server.session.post(f"{server.url}/ajax-api/2.0/mlflow/upload-artifact",
                            params={"run_uuid": run["run_id"], "path": "m/MLmodel"}, data=b"model")
    assert r.status_code == 200, r.text
    name = f"q-model-{uuid.uuid4().hex[:8]}"
    server.api("POST", "registered-models/create", {"name": name})
    server.api("POST", "model-versions/create",
               {"name": name, "source": f"runs:/{run['run_id']}/m", "run_id": run["run_id"]})
    r = server.get("/model-versions/get-artifact", params={"name": name, "version": "1",
                                                           "path": "MLmodel"})
    assert r.status_code == 200 and r.content == b"model", r.text
