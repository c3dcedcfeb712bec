"""Multipart-upload requests refused before any call to S3 (found unrun by measuring
coverage): an upload id longer than any S3 issues and a completion naming more parts than S3
allows are 400s, and the S3 server sees none of them."""
import pytest

from conftest import Server, assert_error

MPU = "/api/2.0/mlflow-artifacts/mpu"
PREFIX = "cov-mpu"


@pytest.fixture(scope="module")
def server(tmp_path_factory, s3_server):
    s = Server(tmp_path_factory.mktemp("mlflowd-s3-cov"),
               args=["--artifacts-destination", f"s3://mlflow/{PREFIX}/"], env=s3_server.env).start()
    yield s
    try:
        s.stop()
    finally:
        s.drop_database()


@pytest.mark.parametrize("action,extra", [
    ("complete", {"parts": [{"part_number": 1, "etag": "e"}]}),
    ("abort", {}),
])
def test_an_upload_id_longer_than_s3_issues_is_refused(server, s3_server, action, extra):
    before = len(s3_server.verify_log())
    r = server.post(f"{MPU}/{action}/cov/long", {"path": "x.bin", "upload_id": "u" * 1025, **extra})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "upload_id is too long")
    assert PREFIX not in s3_server.verify_log()[before:]
    # at the limit the id goes to S3 (which knows no such upload)
    r = server.post(f"{MPU}/{action}/cov/long", {"path": "x.bin", "upload_id": "u" * 1024, **extra})
    assert r.status_code != 400 or "too long" not in r.text, r.text
    assert f"/{PREFIX}/cov/long/x.bin" in s3_server.verify_log()[before:]


def test_a_completion_of_more_parts_than_s3_allows_is_refused(server, s3_server):
    before = len(s3_server.verify_log())
    parts = [{"part_number": i, "etag": f"e{i}"} for i in range(1, 10002)]
    r = server.post(f"{MPU}/complete/cov/many", {"path": "x.bin", "upload_id": "u", "parts": parts})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "An upload has at most 10000 parts")
    assert PREFIX not in s3_server.verify_log()[before:]
