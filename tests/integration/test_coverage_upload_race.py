"""Artifact uploads that meet a conflicting write while their body streams in (found unrun
by measuring coverage): the upload is written to a temporary file and put in place at the
end, so when another request has meanwhile made a file where its directory goes, or a
directory where its file goes, it is refused with a 400 and the other request's data is kept
— never overwritten, never mixed — and no temporary file is left."""
import os
import threading
import time
import uuid

import requests

from conftest import assert_error

ART = "/api/2.0/mlflow-artifacts/artifacts"


def slow_upload(server, path, first, rest, go_on):
    """Starts a PUT of `path` whose body is `first`, then (once `go_on` is set) `rest`;
    returns (thread, result list)."""
    result = []

    def body():
        yield first
        assert go_on.wait(30)
        yield rest

    def run():
        result.append(requests.put(f"{server.url}{ART}/{path}", data=body(), timeout=60,
                                   headers={"Content-Type": "application/octet-stream"}))

    t = threading.Thread(target=run)
    t.start()
    return t, result


UPLOAD_PREFIX = ".mlflowd-upload-"  # repo.h MFD_ARTIFACT_UPLOAD_PREFIX


def temporary_files(root):
    return [n for n in os.listdir(root) if n.startswith(UPLOAD_PREFIX)]


def wait_for_temporary_file(root):
    """Until the upload's body is being written (its temporary file exists)."""
    deadline = time.time() + 10
    while time.time() < deadline:
        if temporary_files(root):
            return
        time.sleep(0.01)
    raise AssertionError("the upload did not start")


def put(server, path, data):
    r = server.put(f"{ART}/{path}", data=data, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text


def race_upload(server, path, other_path, other_data):
    """Starts a slow upload to `<base>/<path>`, puts `<base>/<other_path>` while it waits
    in its temporary file, then lets it finish: (its answer, the store's root, base)."""
    root = os.path.join(server.workdir, "mlartifacts")
    os.makedirs(root, exist_ok=True)
    base = f"race-{uuid.uuid4().hex[:8]}"
    go_on = threading.Event()
    t, result = slow_upload(server, f"{base}/{path}", b"A" * 65536, b"B" * 65536, go_on)
    try:
        wait_for_temporary_file(root)
        put(server, f"{base}/{other_path}", other_data)
    finally:
        go_on.set()
        t.join(60)
    return result[0], root, base


def test_a_file_made_where_the_uploads_directory_goes_refuses_the_upload(server):
    answer, root, base = race_upload(server, "dir/f.bin", "dir", b"the other request's file")
    assert_error(answer, 400, "INVALID_PARAMETER_VALUE", "a file or link is in the way")
    assert server.get(f"{ART}/{base}/dir").content == b"the other request's file"
    assert temporary_files(root) == []


def test_a_directory_made_where_the_uploads_file_goes_refuses_the_upload(server):
    answer, root, base = race_upload(server, "leaf", "leaf/inner.txt", b"inner")
    assert_error(answer, 400, "INVALID_PARAMETER_VALUE", "a directory of that name exists")
    assert server.get(f"{ART}/{base}/leaf/inner.txt").content == b"inner"
    listing = server.get(ART, params={"path": f"{base}/leaf"}).json()
    assert [f["path"] for f in listing["files"]] == ["inner.txt"]
    assert temporary_files(root) == []
