"""The web UI's HTTP caching and compression, which no other test exercised (found by
measuring coverage): a browser's revalidation (If-None-Match, in each form RFC 9110 allows)
gets a 304 without a body, Accept-Encoding q-values decide gzip, a versioned asset URL is
cached for good and any other version is not, and the bare static prefix redirects to its
root."""
import re

import pytest
import requests


def get(server, path, **headers):
    return requests.get(server.url + path, headers=headers, timeout=30)


def asset_urls(page):
    return re.findall(r'(?:src|href)="([^"]+)"', page)


@pytest.mark.parametrize("path", ["/", "/static-files/", "/static-files/app.js",
                                  "/static-files/favicon.svg"])
def test_if_none_match_answers_304_without_a_body(server, path):
    first = get(server, path, **{"Accept-Encoding": "identity"})
    assert first.status_code == 200 and first.content
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    for sent in [etag, f"W/{etag}", f'"other", {etag}', f'"a",\t"b" ,{etag}', "*"]:
        r = get(server, path, **{"If-None-Match": sent, "Accept-Encoding": "identity"})
        assert r.status_code == 304, (path, sent, r.status_code)
        assert r.content == b"", (path, sent)
        assert r.headers["ETag"] == etag
    for sent in ['"other"', f"{etag[:-2]}\"", f'W/"x{etag[1:]}', '"a", "b"', ""]:
        r = get(server, path, **{"If-None-Match": sent, "Accept-Encoding": "identity"})
        assert r.status_code == 200, (path, sent, r.status_code)
        assert r.content == first.content


def test_the_gzip_variant_has_its_own_etag(server):
    plain = get(server, "/static-files/app.js", **{"Accept-Encoding": "identity"})
    zipped = get(server, "/static-files/app.js", **{"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    # the identity ETag does not revalidate the gzip answer, nor the other way round
    r = get(server, "/static-files/app.js",
            **{"Accept-Encoding": "gzip", "If-None-Match": plain.headers["ETag"]})
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip"
    r = get(server, "/static-files/app.js",
            **{"Accept-Encoding": "identity", "If-None-Match": zipped.headers["ETag"]})
    assert r.status_code == 200 and "Content-Encoding" not in r.headers


@pytest.mark.parametrize("accept,gzip", [
    ("gzip", True),
    ("GZip", True),
    ("deflate, gzip", True),
    ("deflate,  gzip;q=0.5", True),
    ("br, *", True),
    ("br, *;q=0.1", True),
    ("gzip;q=0", False),
    ("gzip; q=0.0, deflate", False),
    ("deflate, gzip;Q=0", False),
    ("*;q=0", False),
    ("br", False),
    ("identity", False),
    ("gzipx", False),
    ("x-gzip2, gzi", False),
])
def test_accept_encoding_q_values_decide_gzip(server, accept, gzip):
    r = requests.get(server.url + "/static-files/app.js", headers={"Accept-Encoding": accept},
                     timeout=30, stream=True)
    raw = r.raw.read(decode_content=False)
    assert r.status_code == 200
    assert (r.headers.get("Content-Encoding") == "gzip") is gzip, (accept, r.headers)
    assert raw[:2] == b"\x1f\x8b" if gzip else raw[:2] != b"\x1f\x8b"
    assert r.headers["Vary"] == "Accept-Encoding"


def test_a_versioned_asset_is_cached_for_good_and_no_other(server):
    urls = asset_urls(get(server, "/static-files/").text)
    assert urls and all("?v=" in u for u in urls), urls
    for url in urls:
        r = get(server, url)
        assert r.status_code == 200
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
        path, version = url.split("?v=")
        for other in [f"{path}?v={version}0", f"{path}?v=", path, f"{path}?v={version[:-1]}"]:
            assert get(server, other).headers["Cache-Control"] == "no-cache", other


def test_the_bare_static_prefix_redirects_to_its_root(make_server):
    s = make_server(args=["--static-prefix", "/team/mlflow"])
    r = requests.get(s.url + "/team/mlflow", allow_redirects=False, timeout=30)
    assert r.status_code == 302, r.text
    assert r.headers["Location"] == "/team/mlflow/"
    assert r.content == b""
    r = requests.get(s.url + "/team/mlflow", timeout=30)  # followed: the UI
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert r.url == s.url + "/team/mlflow/"
