"""The web UI and its downloads under --static-prefix (rest-api.md §3; README "Web UI"):

  * with auth on, the bare /static-files/ sign-in page loads assets that need no
    credentials (the bare /static-files/ ones), while the page under the prefix keeps
    loading <prefix>/static-files/...; nothing else becomes public;
  * /get-artifact and /model-versions/get-artifact answer under the prefix, as MLflow
    registers them with _add_static_prefix, and are still checked like the bare spelling."""
import re

import pytest
import requests

from test_auth_helpers import ADMIN, start_auth_server

PREFIX = "/mlflow"


def asset_urls(page):
    """The stylesheet, script and icon URLs of index.html, without ?v=."""
    urls = re.findall(r'<(?:link|script)[^>]*(?:href|src)="([^"?]+)[^"]*"', page)
    assert len(urls) == 3, page
    return urls


def make_run(api):
    """A new run: (run_id, artifact_uri)."""
    exp = api("POST", "experiments/create", {"name": "ui-prefix"})["experiment_id"]
    run = api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]
    return run["run_id"], run["artifact_uri"]


@pytest.fixture(scope="module")
def auth_prefixed(tmp_path_factory):
    s = start_auth_server(tmp_path_factory.mktemp("ui-prefix-auth"), args=["--static-prefix", PREFIX])
    yield s
    s.stop()


def anonymous_get(server, path, **kw):
    """A GET without credentials unless `auth` is given."""
    return requests.get(server.url + path, timeout=60, **kw)


def test_bare_sign_in_page_loads_public_assets(auth_prefixed):
    r = anonymous_get(auth_prefixed, "/static-files/")
    assert r.status_code == 200, r.text
    urls = asset_urls(r.text)
    assert sorted(urls) == ["/static-files/app.css", "/static-files/app.js",
                            "/static-files/favicon.svg"], urls
    for url in urls:
        a = anonymous_get(auth_prefixed, url)
        assert a.status_code == 200, (url, a.status_code)
        assert len(a.content) > 0
    # The app still calls the API under the prefix (with the credentials typed in).
    assert '"prefix":"\\/mlflow"' in r.text
    # index.html asked for by name at the bare entry: the same public assets.
    r = anonymous_get(auth_prefixed, "/static-files/index.html")
    assert r.status_code == 200 and all(u.startswith("/static-files/") for u in asset_urls(r.text))


def test_prefixed_page_keeps_prefixed_assets(auth_prefixed):
    for path in (f"{PREFIX}/", f"{PREFIX}/static-files/"):
        r = anonymous_get(auth_prefixed, path, auth=ADMIN)
        assert r.status_code == 200, (path, r.text)
        urls = asset_urls(r.text)
        assert all(u.startswith(f"{PREFIX}/static-files/") for u in urls), (path, urls)
        for url in urls:
            assert anonymous_get(auth_prefixed, url, auth=ADMIN).status_code == 200, url


def test_only_the_bare_assets_are_public(auth_prefixed):
    for path in (f"{PREFIX}/", f"{PREFIX}/static-files/", f"{PREFIX}/static-files/app.js",
                 f"{PREFIX}/ajax-api/2.0/mlflow/experiments/search?max_results=1",
                 f"{PREFIX}/get-artifact?run_id=0&path=x", "/get-artifact?run_id=0&path=x"):
        r = anonymous_get(auth_prefixed, path)
        assert r.status_code == 401, (path, r.status_code, r.text[:200])


def test_get_artifact_under_the_prefix(make_server):
    server = make_server(args=["--static-prefix", PREFIX])
    run_id, artifact_uri = make_run(server.api)
    location = artifact_uri.split(":", 1)[1].lstrip("/")
    r = server.put(f"/api/2.0/mlflow-artifacts/artifacts/{location}/model/MLmodel", data=b"prefixed",
                   headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    server.api("POST", "registered-models/create", {"name": "ui-prefix-model"})
    server.api("POST", "model-versions/create", {"name": "ui-prefix-model", "run_id": run_id,
                                                  "source": f"{artifact_uri}/model"})
    for base in (PREFIX, ""):
        r = server.get(f"{base}/get-artifact", params={"run_id": run_id, "path": "model/MLmodel"})
        assert r.status_code == 200 and r.content == b"prefixed", (base, r.status_code, r.text)
        r = server.get(f"{base}/model-versions/get-artifact",
                       params={"name": "ui-prefix-model", "version": "1", "path": "MLmodel"})
        assert r.status_code == 200 and r.content == b"prefixed", (base, r.status_code, r.text)
    # Only the exact prefix carries them.
    r = server.get(f"{PREFIX}x/get-artifact", params={"run_id": run_id, "path": "model/MLmodel"})
    assert r.status_code == 404


def test_get_artifact_under_the_prefix_needs_read(auth_prefixed):
    def api(method, endpoint, body):
        r = requests.request(method, f"{auth_prefixed.url}/api/2.0/mlflow/{endpoint}", json=body,
                             auth=ADMIN, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()
    run_id, artifact_uri = make_run(api)
    location = artifact_uri.split(":", 1)[1].lstrip("/")
    r = requests.put(f"{auth_prefixed.url}/api/2.0/mlflow-artifacts/artifacts/{location}/f.txt",
                     data=b"for readers", auth=ADMIN, timeout=60)
    assert r.status_code == 200, r.text
    params = {"run_id": run_id, "path": "f.txt"}
    r = anonymous_get(auth_prefixed, f"{PREFIX}/get-artifact", params=params)
    assert r.status_code == 401 and b"for readers" not in r.content
    r = anonymous_get(auth_prefixed, f"{PREFIX}/get-artifact", params=params, auth=ADMIN)
    assert r.status_code == 200 and r.content == b"for readers"


def test_health_and_version_under_the_prefix(make_server):
    """MLflow serves /health and /version under its prefix (_add_static_prefix); mlflowd
    keeps the bare ones for probes too. Both accept any Host, as the bare ones do."""
    server = make_server(args=["--static-prefix", PREFIX, "--allowed-hosts", "mlflow.example"])
    for base in ("", PREFIX):
        r = anonymous_get(server, f"{base}/health", headers={"Host": "10.42.0.17:5000"})
        assert r.status_code == 200 and r.text == "OK", (base, r.status_code, r.text)
        r = anonymous_get(server, f"{base}/version", headers={"Host": "10.42.0.17:5000"})
        assert r.status_code == 200 and r.text == anonymous_get(server, "/version").text, base


def test_prefixed_health_is_public_and_version_is_not(auth_prefixed):
    """With auth, MLflow opens <prefix>/health (its probe) and not /version: as the bare ones."""
    r = anonymous_get(auth_prefixed, f"{PREFIX}/health")
    assert r.status_code == 200 and r.text == "OK"
    for path in ("/version", f"{PREFIX}/version"):
        assert anonymous_get(auth_prefixed, path).status_code == 401, path
        assert anonymous_get(auth_prefixed, path, auth=ADMIN).status_code == 200, path
    # nothing else under the prefix became public
    assert anonymous_get(auth_prefixed, f"{PREFIX}/health/x").status_code in (401, 404)
    assert anonymous_get(auth_prefixed, f"{PREFIX}/healthz").status_code == 401


def test_favicon_ico_is_the_uis_icon(auth_prefixed):
    """Browsers ask for /favicon.ico, which README lists as public; it was a 404."""
    r = anonymous_get(auth_prefixed, "/favicon.ico")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "image/svg+xml"
    assert r.content == anonymous_get(auth_prefixed, "/static-files/favicon.svg").content
    assert b"<svg" in r.content
