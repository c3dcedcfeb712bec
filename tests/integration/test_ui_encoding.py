"""The UI's assets and Accept-Encoding (RFC 9110 §12.5.3): a coding named with q=0 is not
acceptable, whatever a "*" in the same header allows."""
import pytest
import requests


@pytest.mark.parametrize("accept", ["*, gzip;q=0", "*;q=1, gzip;q=0", "identity, *;q=0.5, gzip;q=0"])
def test_explicit_gzip_q0_wins_over_star(server, accept):
    r = requests.get(server.url + "/static-files/app.js", headers={"Accept-Encoding": accept},
                     timeout=30, stream=True)
    assert r.status_code == 200
    assert "Content-Encoding" not in r.headers, (accept, r.headers)
    assert r.raw.read(decode_content=False)[:2] != b"\x1f\x8b"
