"""The artifact proxy and run artifacts on S3 (rest-api.md §8, sso-and-deploy.md §6.3): the
round trips of test_artifacts.py with --artifacts-destination s3://..., runs whose
artifact URI is s3://..., multipart uploads (the server's own and the client's through presigned
URLs), streaming in bounded memory, and failures.

The S3 server is s3rver (fixture `s3_server`). It checks the access key id but not
SigV4 signatures; tests/unit/test_sigv4.c checks those against AWS's examples.
Tests read what mlflowd wrote straight from s3rver (it takes unsigned requests)."""
import hashlib
import http.client
import os
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
import requests

from conftest import Server, assert_error, raw_request

ART = "/api/2.0/mlflow-artifacts/artifacts"
NS = "{*}"  # any namespace: s3rver's differs from S3's
MIB = 1024 * 1024
PREFIX = "proxy"  # the destination's key prefix
# Small enough that a test file goes multipart; the part size is S3's minimum.
S3_LIMITS = {"MLFLOWD_S3_MULTIPART_THRESHOLD": str(6 * MIB), "MLFLOWD_S3_PART_SIZE": str(5 * MIB)}


# --- helpers -------------------------------------------------------------------

def s3_keys(s3, prefix):
    """{key: size} of every object under `prefix`, read from s3rver directly."""
    out, token = {}, None
    while True:
        params = {"list-type": "2", "prefix": prefix}
        if token:
            params["continuation-token"] = token
        r = requests.get(s3.url(), params=params, timeout=30)
        assert r.status_code == 200, r.text
        root = ET.fromstring(r.content)
        for c in root.findall(f"{NS}Contents"):
            out[c.find(f"{NS}Key").text] = int(c.find(f"{NS}Size").text)
        if root.findtext(f"{NS}IsTruncated") != "true":
            return out
        token = root.findtext(f"{NS}NextContinuationToken")


def s3_get(s3, key):
    return requests.get(s3.url(urllib.parse.quote(key)), timeout=60)


def s3_put(s3, key, data, session=None):
    r = (session or requests).put(s3.url(urllib.parse.quote(key)), data=data, timeout=60)
    assert r.status_code == 200, r.text


def put_artifact(server, path, data, quote=True):
    target = urllib.parse.quote(path) if quote else path
    r = server.put(f"{ART}/{target}", data=data, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    assert r.json() == {}


def get_artifact(server, path, quote=True):
    return server.get(f"{ART}/{urllib.parse.quote(path) if quote else path}")


def list_artifacts(server, path=None):
    r = server.get(ART, params={"path": path} if path is not None else None)
    assert r.status_code == 200, r.text
    return r.json()


def walk(server, path):
    """The client's directory walk: list, recurse into is_dir entries, GET each file."""
    out = {}
    for f in list_artifacts(server, path).get("files", []):
        assert "/" not in f["path"], f
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


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def start_server(tmp_path_factory, s3, args, env=None):
    s = Server(tmp_path_factory.mktemp("mlflowd-s3"), args=args, env=dict(s3.env, **(env or {})))
    return s.start()


@pytest.fixture(scope="module")
def verify_log_start(s3_server):
    """Where this module's requests begin in the signing proxy's log (the S3 test server is
    shared by the session, and other modules make bad requests on purpose)."""
    return len(s3_server.verify_log())


@pytest.fixture(scope="module")
def server(tmp_path_factory, s3_server, verify_log_start):
    """mlflowd proxying artifacts to s3://mlflow/proxy (default root: mlflow-artifacts:/)."""
    s = start_server(tmp_path_factory, s3_server, ["--artifacts-destination", f"s3://mlflow/{PREFIX}/"],
                     S3_LIMITS)
    yield s
    try:
        s.stop()
    finally:
        s.drop_database()


# --- the proxy: files ------------------------------------------------------------

def test_binary_round_trip_is_byte_identical(server, s3_server):
    data = os.urandom(3 * MIB + 17)
    put_artifact(server, "rt/blob.bin", data)
    r = get_artifact(server, "rt/blob.bin")
    assert r.status_code == 200
    assert hashlib.sha256(r.content).digest() == hashlib.sha256(data).digest()
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Length"] == str(len(data))
    assert r.headers["Content-Disposition"] == "attachment; filename=blob.bin"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert s3_get(s3_server, f"{PREFIX}/rt/blob.bin").content == data


def test_big_upload_goes_multipart_and_round_trips(server, s3_server):
    data = os.urandom(13 * MIB + 5)  # parts of 5, 5 and 3 MiB
    put_artifact(server, "mp/big.bin", data)
    direct = s3_get(s3_server, f"{PREFIX}/mp/big.bin")
    assert direct.content == data
    log = s3_server.log()
    assert f"{PREFIX}/mp/big.bin?uploads" in log  # CreateMultipartUpload
    assert log.count(f"{PREFIX}/mp/big.bin?partNumber=") == 3, log[-3000:]
    r = get_artifact(server, "mp/big.bin")
    assert r.status_code == 200 and hashlib.sha256(r.content).digest() == hashlib.sha256(data).digest()
    # No unfinished multipart upload is left behind (s3rver keeps those in ._S3rver_uploads).
    assert os.path.isdir(os.path.join(s3_server.workdir, "data", "mlflow"))
    uploads = os.path.join(s3_server.workdir, "data", "mlflow", "._S3rver_uploads")
    assert not os.path.isdir(uploads) or os.listdir(uploads) == []


def test_single_put_below_the_threshold(server, s3_server):
    data = os.urandom(6 * MIB - 1)
    put_artifact(server, "mp/small.bin", data)
    direct = s3_get(s3_server, f"{PREFIX}/mp/small.bin")
    assert direct.content == data
    assert f"{PREFIX}/mp/small.bin?" not in s3_server.log()  # one PutObject


def test_content_type_is_stored_with_the_object(server, s3_server):
    put_artifact(server, "ct/MLmodel", b"flavors: {}\n")
    put_artifact(server, "ct/plot.png", b"\x89PNG")
    assert s3_get(s3_server, f"{PREFIX}/ct/MLmodel").headers["Content-Type"].startswith("text/plain")
    assert s3_get(s3_server, f"{PREFIX}/ct/plot.png").headers["Content-Type"] == "image/png"
    assert get_artifact(server, "ct/plot.png").headers["Content-Type"] == "image/png"


def test_nested_directories_walk_like_the_client(server, s3_server):
    # Every directory holds a file of its own: s3rver 3.7.1 leaves out the CommonPrefix of a
    # directory that holds only directories (its listing walk skips them; S3 and MinIO do not).
    tree = {
        "top.txt": b"top",
        "model/MLmodel": b"flavors: {}\n",
        "model/data/weights.bin": os.urandom(5000),
        "model/data/deep/x.txt": b"x",
        "model/data/deep/er/leaf.txt": b"leaf",
        "plots/a.png": b"\x89PNG...",
    }
    for rel, data in tree.items():
        put_artifact(server, f"walk/1/run/artifacts/{rel}", data)
    assert walk(server, "walk/1/run/artifacts") == tree
    listing = list_artifacts(server, "walk/1/run/artifacts")["files"]
    assert [f["path"] for f in listing] == ["model", "plots", "top.txt"]
    assert listing[2] == {"path": "top.txt", "is_dir": False, "file_size": 3}
    assert listing[0] == {"path": "model", "is_dir": True}
    assert set(s3_keys(s3_server, f"{PREFIX}/walk/")) == {f"{PREFIX}/walk/1/run/artifacts/{k}" for k in tree}


def test_root_listing_and_missing_paths(server):
    put_artifact(server, "rootlist/x.txt", b"1")
    names = [f["path"] for f in list_artifacts(server)["files"]]
    assert "rootlist" in names
    assert list_artifacts(server, "does/not/exist") == {}


def test_listing_a_file_path_is_empty(server):
    put_artifact(server, "fileonly/f.txt", b"content")
    assert list_artifacts(server, "fileonly/f.txt") == {}


def test_empty_file_is_listed_without_size_and_downloads(server, s3_server):
    put_artifact(server, "empty/e.txt", b"")
    assert list_artifacts(server, "empty") == {"files": [{"path": "e.txt", "is_dir": False}]}
    r = get_artifact(server, "empty/e.txt")
    assert r.status_code == 200 and r.content == b""
    assert s3_keys(s3_server, f"{PREFIX}/empty/") == {f"{PREFIX}/empty/e.txt": 0}


def test_overwrite_replaces_the_file(server):
    put_artifact(server, "ow/f.txt", b"first version, longer")
    put_artifact(server, "ow/f.txt", b"second")
    assert get_artifact(server, "ow/f.txt").content == b"second"
    assert list_artifacts(server, "ow") == {"files": [{"path": "f.txt", "is_dir": False, "file_size": 6}]}


def test_listing_pages_through_more_than_a_thousand_keys(server, s3_server):
    """ListObjectsV2 answers at most 1000 keys a page: the rest come by continuation token."""
    with requests.Session() as session:
        for i in range(1003):
            s3_put(s3_server, f"{PREFIX}/many/f{i:04d}.txt", b"x", session)
        s3_put(s3_server, f"{PREFIX}/many/sub/deeper.txt", b"yy", session)
    files = list_artifacts(server, "many")["files"]
    assert len(files) == 1004
    assert files[-1] == {"path": "sub", "is_dir": True}
    assert files[0] == {"path": "f0000.txt", "is_dir": False, "file_size": 1}
    assert server.delete(f"{ART}/many").json() == {}
    assert list_artifacts(server, "many") == {}
    assert s3_keys(s3_server, f"{PREFIX}/many/") == {}


def test_keys_xml_cannot_carry_are_listed_and_deleted(server, s3_server):
    """A key with a control character (written by a client straight to a direct s3:// root)
    cannot stand in a listing's XML: listings ask for URL-encoded keys (encoding-type=url, as
    boto3 does; '+' is a space) and decode them, and such keys are deleted one by one. Before,
    listing or deleting any directory above such a key was a 500."""
    names = ["ctl\x01name.txt", "plus+and space.txt", "amp&lt<.txt", "pct%41.txt", "tab\tname",
             "ok.txt"]
    for name in names:
        s3_put(s3_server, f"{PREFIX}/weird/{name}", name.encode())
    s3_put(s3_server, f"{PREFIX}/weird/sub\x02dir/inner.txt", b"inner")
    files = list_artifacts(server, "weird")["files"]
    assert sorted(f["path"] for f in files) == sorted(names + ["sub\x02dir"])
    assert {f["path"]: f.get("file_size") for f in files if not f["is_dir"]} == \
        {n: len(n.encode()) for n in names}
    assert list_artifacts(server, "")  # the root lists too
    r = get_artifact(server, "weird/plus+and space.txt")
    assert r.status_code == 200 and r.content == b"plus+and space.txt"
    assert server.delete(f"{ART}/weird").json() == {}
    assert list_artifacts(server, "weird") == {}
    for key in [f"{PREFIX}/weird/{n}" for n in names] + [f"{PREFIX}/weird/sub\x02dir/inner.txt"]:
        assert s3_get(s3_server, key).status_code == 404, key


def test_delete_file_tree_and_absent(server, s3_server):
    for rel in ["del/keep.txt", "del/f.txt", "del/tree/a.txt", "del/tree/sub/b.txt", "del/treeish.txt"]:
        put_artifact(server, rel, b"x")
    assert server.delete(f"{ART}/del/f.txt").json() == {}
    assert server.delete(f"{ART}/del/tree").json() == {}
    assert list_artifacts(server, "del") == {"files": [
        {"path": "keep.txt", "is_dir": False, "file_size": 1},
        {"path": "treeish.txt", "is_dir": False, "file_size": 1}]}
    assert set(s3_keys(s3_server, f"{PREFIX}/del/")) == {f"{PREFIX}/del/keep.txt", f"{PREFIX}/del/treeish.txt"}
    r = server.delete(f"{ART}/del/never/was")
    assert r.status_code == 200 and r.json() == {}


def test_missing_file_or_directory_download_is_404(server):
    put_artifact(server, "dl/sub/f.txt", b"x")
    assert_error(get_artifact(server, "dl/nothing.txt"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(get_artifact(server, "dl/sub"), 404, "RESOURCE_DOES_NOT_EXIST")


def test_concurrent_uploads_of_one_name_leave_one_whole_file(server):
    payloads = [bytes([65 + i]) * 200_000 for i in range(6)]
    errors = []

    def upload(data):
        try:
            put_artifact(server, "race/f.bin", data)
        except AssertionError as e:
            errors.append(e)

    threads = [threading.Thread(target=upload, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert get_artifact(server, "race/f.bin").content in payloads


def test_unsafe_paths_are_refused_before_s3(server, s3_server):
    for form in ["../secret.txt", "%2e%2e/secret.txt", "a%00b", "/etc/passwd", ".mlflowd-upload-x"]:
        for method in ["GET", "PUT", "DELETE"]:
            status, _, body = raw_request(server, method, f"{ART}/{form}", body=b"x" if method == "PUT" else None)
            want = b"NUL character" if "%00" in form else b"Invalid path"
            assert status == 400 and want in body, (method, form, body)
    assert_error(server.get(ART, params={"path": "../x"}), 400, "INVALID_PARAMETER_VALUE")
    assert not any(".." in k for k in s3_keys(s3_server, ""))


# --- the proxied multipart upload (rest-api.md §8.2 mpu/...) ------------------------

MPU = "/api/2.0/mlflow-artifacts/mpu"


def mpu_create(server, path, local_file, num_parts):
    r = server.post(f"{MPU}/create/{path}", {"path": local_file, "num_parts": num_parts})
    assert r.status_code == 200, r.text
    return r.json()


def upload_parts(create, data, part_size):
    """What HttpArtifactRepository._upload_part does: PUT each part to its presigned URL
    (nothing but the URL: no credentials), keep the ETag S3 answers."""
    parts = []
    for c in create["credentials"]:
        start = (c["part_number"] - 1) * part_size
        r = requests.put(c["url"], data=data[start:start + part_size], headers=c["headers"],
                         timeout=60)
        assert r.status_code == 200, r.text
        parts.append({"part_number": c["part_number"], "etag": r.headers["ETag"], "url": c["url"]})
    return parts


def mpu_complete(server, path, local_file, create, parts):
    r = server.post(f"{MPU}/complete/{path}",
                    {"path": local_file, "upload_id": create["upload_id"], "parts": parts})
    assert r.status_code == 200 and r.json() == {}, r.text


def test_multipart_upload_through_presigned_urls(server, s3_server, verify_log_start):
    """The client's flow (MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true): create, PUT every part
    straight to S3, complete with the ETags. The object is whole; no part went through
    mlflowd, and AWS's signer accepted every presigned URL (s3-verify-proxy.js)."""
    data = os.urandom(2 * 5 * MIB + 1234)
    create = mpu_create(server, "mpu/1/run/artifacts/model", "/home/me/data/weights.bin", 3)
    assert create["upload_id"]
    assert [c["part_number"] for c in create["credentials"]] == [1, 2, 3]
    for c in create["credentials"]:
        assert c["headers"] == {}
        url = urllib.parse.urlsplit(c["url"])
        assert f"{url.scheme}://{url.netloc}" == s3_server.env["MLFLOW_S3_ENDPOINT_URL"]
        assert url.path == f"/mlflow/{PREFIX}/mpu/1/run/artifacts/model/weights.bin"
        query = urllib.parse.parse_qs(url.query)
        assert query["partNumber"] == [str(c["part_number"])]
        assert query["uploadId"] == [create["upload_id"]]
        assert query["X-Amz-Expires"] == ["3600"] and query["X-Amz-SignedHeaders"] == ["host"]
        assert "S3RVER" not in query["X-Amz-Signature"][0]  # the secret never travels
    before = len(server.log())
    parts = upload_parts(create, data, 5 * MIB)
    assert len(server.log()) == before or "PUT" not in server.log()[before:]
    # S3 wants the parts in order: mlflowd sorts them.
    mpu_complete(server, "mpu/1/run/artifacts/model", "/home/me/data/weights.bin", create,
                 list(reversed(parts)))
    assert s3_get(s3_server, f"{PREFIX}/mpu/1/run/artifacts/model/weights.bin").content == data
    got = get_artifact(server, "mpu/1/run/artifacts/model/weights.bin")
    assert got.status_code == 200 and hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
    presigned = [line for line in s3_server.verify_log()[verify_log_start:].splitlines()
                 if "X-Amz-Signature=" in line]
    assert len(presigned) == 3 and all(line.startswith("ok PUT ") for line in presigned), presigned


def test_a_tampered_presigned_url_is_refused_by_s3(server, s3_server):
    """A URL grants one part of one upload: another part number breaks its signature."""
    create = mpu_create(server, "mpu-tampered", "x.bin", 1)
    url = create["credentials"][0]["url"]
    r = requests.put(url.replace("partNumber=1", "partNumber=2"), data=b"x", timeout=30)
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content
    mpu_complete(server, "mpu-tampered", "x.bin", create, upload_parts(create, b"x", 5 * MIB))
    assert s3_get(s3_server, f"{PREFIX}/mpu-tampered/x.bin").content == b"x"


def test_multipart_upload_abort(tmp_path_factory, s3_server):
    """s3rver has no AbortMultipartUpload (it answers 405): the calls are checked on a
    scripted S3."""
    fake = ScriptedS3()
    s = start_server(tmp_path_factory, s3_server, ["--artifacts-destination", "s3://mlflow/x"],
                     fake.env)
    try:
        fake.script["POST"] = [(200, None, b"<InitiateMultipartUploadResult><UploadId>UP-9"
                                           b"</UploadId></InitiateMultipartUploadResult>")]
        create = mpu_create(s, "mpu", "/tmp/big.bin", 2)
        assert create["upload_id"] == "UP-9"
        assert ("POST", "/mlflow/x/mpu/big.bin?uploads=") in fake.seen
        fake.script["DELETE"] = [(204, None, b"")]
        r = s.post(f"{MPU}/abort/mpu", {"path": "/tmp/big.bin", "upload_id": "UP-9"})
        assert r.status_code == 200 and r.json() == {}, r.text
        assert ("DELETE", "/mlflow/x/mpu/big.bin?uploadId=UP-9") in fake.seen
        fake.script["DELETE"] = [(404, "NoSuchUpload")]
        assert_error(s.post(f"{MPU}/abort/mpu", {"path": "big.bin", "upload_id": "UP-9"}),
                     404, "RESOURCE_DOES_NOT_EXIST", "NoSuchUpload")
        # Parts that make no object are the client's fault; S3's own failure (a 200 whose
        # body is an <Error>) is worth a retry.
        done = {"path": "big.bin", "upload_id": "UP-9", "parts": [{"part_number": 1, "etag": "e"}]}
        for answer, status, code, says in [
                ((400, "InvalidPart"), 400, "INVALID_PARAMETER_VALUE", "InvalidPart"),
                ((400, "EntityTooSmall"), 400, "INVALID_PARAMETER_VALUE", "EntityTooSmall"),
                ((200, None, b"<Error><Code>InternalError</Code></Error>"), 503,
                 "TEMPORARILY_UNAVAILABLE", "InternalError")]:
            fake.script["POST"] = [answer]
            assert_error(s.post(f"{MPU}/complete/mpu", done), status, code, says)
    finally:
        s.stop()
        s.drop_database()
        fake.httpd.shutdown()


@pytest.mark.parametrize("action,body,status,message", [
    ("create", {"num_parts": 2}, 400, "path"),
    ("create", {"path": "x.bin", "num_parts": -1}, 400, "num_parts"),
    ("create", {"path": "x.bin", "num_parts": 10001}, 400, "num_parts"),
    ("create", {"path": "x.bin", "num_parts": "two"}, 400, "num_parts"),
    ("create", {"path": "dir/", "num_parts": 1}, 400, "Invalid path"),
    ("complete", {"path": "x.bin", "upload_id": "u"}, 400, "parts"),
    ("complete", {"path": "x.bin", "parts": [{"part_number": 1, "etag": "e"}]}, 400, "upload_id"),
    ("complete", {"path": "x.bin", "upload_id": "u", "parts": [{"part_number": 0, "etag": "e"}]},
     400, "parts[0].part_number"),
    ("complete", {"path": "x.bin", "upload_id": "u", "parts": [{"part_number": 1}]}, 400,
     "parts[0].etag"),
    ("complete", {"path": "x.bin", "upload_id": "u",
                  "parts": [{"part_number": 2, "etag": "a"}, {"part_number": 2, "etag": "b"}]},
     400, "Part 2 is given twice"),
    ("complete", {"path": "x.bin", "upload_id": "u", "parts": []}, 400, "one part at least"),
    ("abort", {"path": "x.bin"}, 400, "upload_id"),
    ("abort", {"path": "x.bin", "upload_id": 7}, 400, "upload_id"),
])
def test_multipart_bad_requests(server, action, body, status, message):
    r = server.post(f"{MPU}/{action}/mpu/bad", body)
    assert r.status_code == status, r.text
    assert message in r.json()["message"], r.text


def test_multipart_paths_are_checked(server, s3_server):
    """The route's path is an artifact path (traversal refused); of the client's local file
    only the base name is used, as MLflow's S3 repository does (a Windows path's too)."""
    for target in ["../x", "%2e%2e/x", "/etc"]:
        status, _, body = raw_request(server, "POST", f"{MPU}/create/{target}",
                                   body=b'{"path": "f.bin", "num_parts": 1}',
                                   headers={"Content-Type": "application/json"})
        assert status == 400 and b"Invalid path" in body, (target, body)
    win = mpu_create(server, "mpu/paths", "C:\\Users\\me\\win model.bin", 1)
    assert f"/{PREFIX}/mpu/paths/win%20model.bin?" in win["credentials"][0]["url"]
    mpu_complete(server, "mpu/paths", "C:\\Users\\me\\win model.bin", win,
                 upload_parts(win, b"w", 5 * MIB))
    assert s3_get(s3_server, f"{PREFIX}/mpu/paths/win model.bin").content == b"w"
    create = mpu_create(server, "mpu/paths", "../../../etc/evil.bin", 1)
    assert f"/{PREFIX}/mpu/paths/evil.bin?" in create["credentials"][0]["url"]
    mpu_complete(server, "mpu/paths", "../../../etc/evil.bin", create,
                 upload_parts(create, b"evil", 5 * MIB))
    assert s3_get(s3_server, f"{PREFIX}/mpu/paths/evil.bin").content == b"evil"


# --- escaped names (behaviours.md #10) ----------------------------------------------

NAMES = [
    "100%.txt", "50%off.txt", "a+b.txt", "with space.txt", "été ü.txt", "日本語.csv",
    "my img%step%3%timestamp%1700000000123.png", "semi;colon,comma.txt", "quote'tick.txt",
    "amp&lt;.txt", "tilde~eq=q?.txt",
]


@pytest.mark.parametrize("quote", [False, True], ids=["requests-default", "urllib-quote"])
def test_escaped_names_round_trip_exactly(server, s3_server, quote):
    base = f"esc-{int(quote)}"
    for i, name in enumerate(NAMES):
        target = name.replace("?", "%3F") if not quote else name
        put_artifact(server, f"{base}/{target}", f"content {i}".encode(), quote=quote)
    assert sorted(s3_keys(s3_server, f"{PREFIX}/{base}/")) == sorted(f"{PREFIX}/{base}/{n}" for n in NAMES)
    listed = [f["path"] for f in list_artifacts(server, base)["files"]]
    assert listed == sorted(NAMES, key=lambda s: s.encode())
    for i, name in enumerate(NAMES):
        r = get_artifact(server, f"{base}/{name}")
        assert r.status_code == 200, (name, r.text)
        assert r.content == f"content {i}".encode()


def test_bare_percent_sent_raw(server, s3_server):
    assert raw_request(server, "PUT", f"{ART}/rawpct/100%.txt", body=b"a")[0] == 200
    assert raw_request(server, "PUT", f"{ART}/rawpct/50%25off.txt", body=b"b")[0] == 200
    assert sorted(s3_keys(s3_server, f"{PREFIX}/rawpct/")) == [f"{PREFIX}/rawpct/100%.txt",
                                                               f"{PREFIX}/rawpct/50%off.txt"]
    assert raw_request(server, "GET", f"{ART}/rawpct/100%25.txt")[2] == b"a"


# --- runs: proxied to S3, and s3:// artifact URIs -------------------------------------

def test_run_with_proxied_artifacts_on_s3(server, s3_server):
    run = server.api("POST", "runs/create", {"experiment_id": "0"})["run"]["info"]
    run_id, uri = run["run_id"], run["artifact_uri"]
    assert uri == f"mlflow-artifacts:/0/{run_id}/artifacts"
    url = f"{server.url}/ajax-api/2.0/mlflow/upload-artifact"
    r = server.session.post(url, params={"run_uuid": run_id, "path": "ui/up.txt"}, data=b"from ui")
    assert r.status_code == 200, r.text
    assert s3_get(s3_server, f"{PREFIX}/0/{run_id}/artifacts/ui/up.txt").content == b"from ui"
    listing = server.api("GET", "artifacts/list", params={"run_id": run_id, "path": "ui"})
    assert listing == {"root_uri": uri, "files": [{"path": "ui/up.txt", "is_dir": False, "file_size": 7}]}
    r = server.get("/get-artifact", params={"run_id": run_id, "path": "ui/up.txt"})
    assert r.status_code == 200 and r.content == b"from ui"
    assert r.headers["Content-Type"] == "text/plain"


@pytest.fixture(scope="module")
def direct_server(tmp_path_factory, s3_server):
    """mlflowd whose experiments live at s3://mlflow/direct/<id> (the client writes there
    itself); the proxy still works, on a local destination."""
    s = start_server(tmp_path_factory, s3_server, ["--default-artifact-root", "s3://mlflow/direct"])
    yield s
    try:
        s.stop()
    finally:
        s.drop_database()


def test_run_artifacts_on_an_s3_default_root(direct_server, s3_server):
    s = direct_server
    exp_id = s.api("POST", "experiments/create", {"name": "on-s3"})["experiment_id"]
    exp = s.api("GET", "experiments/get", params={"experiment_id": exp_id})["experiment"]
    assert exp["artifact_location"] == f"s3://mlflow/direct/{exp_id}"
    run = s.api("POST", "runs/create", {"experiment_id": exp_id})["run"]["info"]
    run_id, uri = run["run_id"], run["artifact_uri"]
    assert uri == f"s3://mlflow/direct/{exp_id}/{run_id}/artifacts"
    key = f"direct/{exp_id}/{run_id}/artifacts"
    s3_put(s3_server, f"{key}/model/MLmodel", b"flavors: {}\n")
    s3_put(s3_server, f"{key}/model/data/w.bin", b"\x00" * 10)
    s3_put(s3_server, f"{key}/metrics.json", b"")
    listing = s.api("GET", "artifacts/list", params={"run_id": run_id})
    assert listing == {"root_uri": uri, "files": [
        {"path": "metrics.json", "is_dir": False}, {"path": "model", "is_dir": True}]}
    listing = s.api("GET", "artifacts/list", params={"run_id": run_id, "run_uuid": run_id, "path": "model"})
    assert listing["files"] == [{"path": "model/MLmodel", "is_dir": False, "file_size": 12},
                                {"path": "model/data", "is_dir": True}]
    assert s.api("GET", "artifacts/list", params={"run_id": run_id, "path": "model/MLmodel"}) == {"root_uri": uri}
    assert s.api("GET", "artifacts/list", params={"run_id": run_id, "path": "nothing"}) == {"root_uri": uri}
    r = s.get("/get-artifact", params={"run_id": run_id, "path": "model/MLmodel"})
    assert r.status_code == 200 and r.content == b"flavors: {}\n"
    assert_error(s.get("/get-artifact", params={"run_id": run_id, "path": "model/none"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    r = s.session.post(f"{s.url}/ajax-api/2.0/mlflow/upload-artifact",
                       params={"run_uuid": run_id, "path": "notes/n.txt"}, data=b"note")
    assert r.status_code == 200, r.text
    assert s3_get(s3_server, f"{key}/notes/n.txt").content == b"note"


def test_model_version_download_from_s3(direct_server, s3_server):
    s = direct_server
    s3_put(s3_server, "direct/models/m1/MLmodel", b"registered")
    s.api("POST", "registered-models/create", {"name": "s3-model"})
    s.api("POST", "model-versions/create", {"name": "s3-model", "source": "s3://mlflow/direct/models/m1"})
    r = s.get("/model-versions/get-artifact", params={"name": "s3-model", "version": "1", "path": "MLmodel"})
    assert r.status_code == 200 and r.content == b"registered"


# --- memory, aborted transfers, failures -------------------------------------------

def test_large_transfers_stream_without_growing_memory(server, s3_server):
    size = 64 * MIB
    chunk = os.urandom(MIB)
    put_artifact(server, "large/warmup.bin", chunk * 7)  # multipart once, to warm up
    assert get_artifact(server, "large/warmup.bin").content == chunk * 7
    before = vm_hwm_kb(server.proc.pid)
    r = server.put(f"{ART}/large/big.bin", data=(chunk for _ in range(size // MIB)))
    assert r.status_code == 200, r.text
    assert s3_keys(s3_server, f"{PREFIX}/large/big.bin") == {f"{PREFIX}/large/big.bin": size}
    digest, total = hashlib.sha256(), 0
    with server.session.get(f"{server.url}{ART}/large/big.bin", stream=True, timeout=120) as r:
        assert r.status_code == 200
        assert r.headers["Content-Length"] == str(size)
        for part in r.iter_content(MIB):
            digest.update(part)
            total += len(part)
    assert total == size
    assert digest.digest() == hashlib.sha256(chunk * (size // MIB)).digest()
    grown_mb = (vm_hwm_kb(server.proc.pid) - before) / 1024
    assert grown_mb < 24, f"peak RSS grew by {grown_mb:.1f} MB moving a 64 MB file through S3"


def test_client_leaving_mid_download_frees_the_transfer(server):
    put_artifact(server, "leave/big.bin", os.urandom(8 * MIB))
    for _ in range(3):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", f"{ART}/leave/big.bin")
        resp = conn.getresponse()
        assert resp.status == 200
        resp.read(100_000)
        conn.close()  # mid-body; the server log is checked for leaks at stop
    assert len(get_artifact(server, "leave/big.bin").content) == 8 * MIB


def test_spool_files_a_killed_server_left_are_removed_at_start(tmp_path_factory, s3_server):
    """Uploads to S3 are spooled in $TMPDIR; a server killed mid-upload (OOM, a failed probe)
    left its spool file there for good. One untouched for an hour is removed at the next start;
    a recent one may be another server's upload in progress, and stays."""
    spool = tmp_path_factory.mktemp("spool")
    stale, fresh, other = (spool / "mlflowd-s3-upload-Ab12Cd", spool / "mlflowd-s3-upload-Ef34Gh",
                           spool / "unrelated-file")
    for f in (stale, fresh, other):
        f.write_bytes(b"x" * 1000)
    two_hours_ago = time.time() - 7200
    for f in (stale, other):
        os.utime(f, (two_hours_ago, two_hours_ago))
    s = start_server(tmp_path_factory, s3_server, ["--artifacts-destination", f"s3://mlflow/{PREFIX}/"],
                     {"TMPDIR": str(spool)})
    try:
        assert not stale.exists() and fresh.exists() and other.exists()
        assert f"removed {stale}, an upload cut off by a stop" in s.log()
        put_artifact(s, "spooled.txt", b"data")
        # the request's own spool file goes when the request ends (just after its answer)
        deadline = time.time() + 5
        while len(list(spool.iterdir())) > 2 and time.time() < deadline:
            time.sleep(0.01)
        assert sorted(p.name for p in spool.iterdir()) == sorted([fresh.name, other.name])
    finally:
        s.stop()
        s.drop_database()


def test_unreachable_s3_answers_503(tmp_path_factory, s3_server):
    from conftest import free_port
    dead = f"http://127.0.0.1:{free_port()}"
    s = start_server(tmp_path_factory, s3_server, ["--artifacts-destination", "s3://mlflow/x"],
                     {"MLFLOW_S3_ENDPOINT_URL": dead})
    try:
        assert_error(get_artifact(s, "a.txt"), 503, "TEMPORARILY_UNAVAILABLE", "S3")
        assert_error(s.get(ART, params={"path": "a"}), 503, "TEMPORARILY_UNAVAILABLE")
        assert_error(s.put(f"{ART}/a.txt", data=b"x"), 503, "TEMPORARILY_UNAVAILABLE")
        assert_error(s.delete(f"{ART}/a.txt"), 503, "TEMPORARILY_UNAVAILABLE")
    finally:
        s.stop()
        s.drop_database()


def test_wrong_access_key_is_refused_by_s3(tmp_path_factory, s3_server):
    """s3rver checks the access key id of the SigV4 Authorization header."""
    s = start_server(tmp_path_factory, s3_server, ["--artifacts-destination", "s3://mlflow/x"],
                     {"AWS_ACCESS_KEY_ID": "NOT-S3RVER"})
    try:
        body = assert_error(s.put(f"{ART}/a.txt", data=b"x"), 500, "INTERNAL_ERROR")
        assert "InvalidAccessKeyId" in body["message"] and "AWS_ACCESS_KEY_ID" in body["message"]
        assert_error(s.get(ART), 500, "INTERNAL_ERROR", "InvalidAccessKeyId")
    finally:
        s.stop()
        s.drop_database()


def test_a_wrong_secret_fails_the_signature_check(tmp_path_factory, s3_server):
    """The control for the signature check: the right key id with another secret."""
    s = start_server(tmp_path_factory, s3_server, ["--artifacts-destination", "s3://mlflow/wrong-secret"],
                     {"AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    try:
        assert_error(s.put(f"{ART}/a.txt", data=b"x"), 500, "INTERNAL_ERROR", "SignatureDoesNotMatch")
        assert_error(s.get(ART), 500, "INTERNAL_ERROR", "SignatureDoesNotMatch")
        assert_error(get_artifact(s, "a.txt"), 500, "INTERNAL_ERROR", "SignatureDoesNotMatch")
    finally:
        s.stop()
        s.drop_database()


class ScriptedS3:
    """A stand-in for S3 that answers each request with the next scripted (status, error code
    [, body]) for its method, then 200 with a small body, and counts the requests it saw."""

    def __init__(self):
        import http.server
        self.script, self.seen = {}, []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                fake.seen.append((self.command, self.path))
                queue = fake.script.get(self.command, [])
                status, code, *given = queue.pop(0) if queue else (200, None)
                if given:
                    body = given[0]
                elif code:
                    body = (f"<?xml version=\"1.0\"?><Error><Code>{code}</Code>"
                            f"<Message>scripted {code}</Message></Error>").encode()
                elif self.command == "GET" and "list-type" in self.path:
                    body = (b'<?xml version="1.0"?><ListBucketResult><IsTruncated>false'
                            b"</IsTruncated></ListBucketResult>")
                else:
                    body = b"artifact bytes" if self.command == "GET" else b""
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", '"e"')
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _answer

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.env = {"MLFLOW_S3_ENDPOINT_URL": f"http://127.0.0.1:{self.httpd.server_port}"}

    def count(self, method):
        return sum(1 for m, _ in self.seen if m == method)


def test_s3_answers_are_retried_and_mapped(tmp_path_factory, s3_server):
    """Transient answers (500, 502, 503, 504 and no answer) are tried three times, downloads
    included; S3's 400s blame the client only for a name or body too long, and are the
    server's setup otherwise (expired or bad credentials, region): 500 with S3's code."""
    fake = ScriptedS3()
    s = start_server(tmp_path_factory, s3_server, ["--artifacts-destination", "s3://mlflow/x"],
                     fake.env)
    try:
        fake.script["GET"] = [(503, "SlowDown"), (502, "BadGateway")]
        r = get_artifact(s, "a.txt")
        assert (r.status_code, r.content) == (200, b"artifact bytes")
        assert fake.count("GET") == 3
        fake.script["GET"] = [(504, "GatewayTimeout")] * 3
        assert_error(get_artifact(s, "b.txt"), 503, "TEMPORARILY_UNAVAILABLE", "GatewayTimeout")
        assert fake.count("GET") == 6
        fake.script["GET"] = [(502, "BadGateway"), (200, None)]
        assert s.get(ART, params={"path": "d"}).status_code == 200
        assert fake.count("GET") == 8
        fake.script["GET"] = [(400, "ExpiredToken")]
        assert_error(get_artifact(s, "c.txt"), 500, "INTERNAL_ERROR", "ExpiredToken")
        fake.script["GET"] = [(400, "AuthorizationHeaderMalformed")]
        assert_error(s.get(ART, params={"path": "d"}), 500, "INTERNAL_ERROR",
                     "AuthorizationHeaderMalformed")
        fake.script["PUT"] = [(400, "KeyTooLongError")]
        assert_error(s.put(f"{ART}/long.txt", data=b"x"), 400, "INVALID_PARAMETER_VALUE",
                     "KeyTooLongError")
        fake.script["PUT"] = [(400, "RequestTimeout")]
        assert_error(s.put(f"{ART}/slow.txt", data=b"x"), 503, "TEMPORARILY_UNAVAILABLE",
                     "RequestTimeout")
    finally:
        s.stop()
        s.drop_database()
        fake.httpd.shutdown()


def test_a_multipart_upload_s3_would_not_abort_is_logged(tmp_path_factory, s3_server):
    """A failed multipart upload is aborted; when the abort fails too, its parts stay in the
    bucket (and cost) until a lifecycle rule removes them: the server says so in its log."""
    fake = ScriptedS3()
    s = start_server(tmp_path_factory, s3_server, ["--artifacts-destination", "s3://mlflow/x"],
                     dict(S3_LIMITS, **fake.env))
    created = (200, None, b"<InitiateMultipartUploadResult><UploadId>UP-1</UploadId>"
                          b"</InitiateMultipartUploadResult>")
    try:
        fake.script["POST"] = [created]
        fake.script["PUT"] = [(400, "InvalidArgument")]
        fake.script["DELETE"] = [(403, "AccessDenied")]
        assert_error(s.put(f"{ART}/big.bin", data=b"x" * (7 * MIB)), 500, "INTERNAL_ERROR",
                     "InvalidArgument")
        assert ("DELETE", "/mlflow/x/big.bin?uploadId=UP-1") in fake.seen
        assert "S3 multipart upload UP-1 of s3://mlflow/x/big.bin was not aborted (" in s.log()
        assert "S3 answered 403 AccessDenied" in s.log()
        fake.script["POST"] = [created]
        fake.script["PUT"] = [(400, "InvalidArgument")]
        fake.script["DELETE"] = [(204, None, b"")]
        assert_error(s.put(f"{ART}/big2.bin", data=b"x" * (7 * MIB)), 500, "INTERNAL_ERROR")
        assert ("DELETE", "/mlflow/x/big2.bin?uploadId=UP-1") in fake.seen
        assert "big2.bin was not aborted" not in s.log()
    finally:
        s.stop()
        s.drop_database()
        fake.httpd.shutdown()


def test_missing_bucket_is_404_not_500(tmp_path_factory, s3_server):
    s = start_server(tmp_path_factory, s3_server, ["--artifacts-destination", "s3://no-such-bucket/x"])
    try:
        assert_error(get_artifact(s, "a.txt"), 404, "RESOURCE_DOES_NOT_EXIST")
        assert_error(s.get(ART), 404, "RESOURCE_DOES_NOT_EXIST", "NoSuchBucket")
    finally:
        s.stop()
        s.drop_database()


@pytest.mark.parametrize("args,env,message", [
    (["--artifacts-destination", "s3://x/p"], {}, "bucket name"),
    (["--artifacts-destination", "s3://ok-bucket"], {"MLFLOW_S3_ENDPOINT_URL": "ftp://h"},
     "MLFLOW_S3_ENDPOINT_URL"),
    (["--artifacts-destination", "s3://ok-bucket"], {"AWS_SECRET_ACCESS_KEY": ""}, "AWS_SECRET_ACCESS_KEY"),
    (["--artifacts-destination", "s3://ok-bucket"], {"MLFLOWD_S3_PART_SIZE": "1000"}, "MLFLOWD_S3_PART_SIZE"),
])
def test_bad_s3_settings_stop_the_start(tmp_path_factory, s3_server, args, env, message):
    s = Server(tmp_path_factory.mktemp("mlflowd-s3"), args=args, env=dict(s3_server.env, **env))
    with pytest.raises(RuntimeError) as e:
        s.start()
    assert message in str(e.value)
    s.drop_database()


def test_every_request_was_signed_right(server, s3_server, verify_log_start):
    """Run last: AWS's signer (tests/tools/s3-verify-proxy.js) accepted every request mlflowd
    sent in this file, but for those the tests above made wrong on purpose."""
    put_artifact(server, "signed/x.txt", b"x")
    assert list_artifacts(server, "signed")["files"][0]["path"] == "x.txt"
    assert server.delete(f"{ART}/signed").json() == {}
    lines = s3_server.verify_log()[verify_log_start:].splitlines()
    assert sum(line.startswith("ok ") for line in lines) >= 3
    on_purpose = ("unknown access key NOT-S3RVER", "no SigV4 Authorization header", "wrong-secret",
                  "/mpu-tampered/")
    refused = [line for line in lines if line.startswith("refused")]
    assert all(any(p in line for p in on_purpose) for line in refused), refused
