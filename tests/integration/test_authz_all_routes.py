"""Authorization over EVERY route the server has, found by reading the route tables
of src/api/*.c (so a route added tomorrow is covered, or this test fails asking for
it to be classified), each at every spelling it is served at (/api/, the
/ajax-api/ twin, bare paths, the artifact proxy):

  * an anonymous caller gets the exact 401 of auth.md §2.1 everywhere except the
    public paths (/health, the UI's static files);
  * a user with NO_PERMISSIONS (default_permission = NO_PERMISSIONS, no grants) who
    names resources the admin made gets the exact 403 on every route tied to a
    resource; on the few routes any authenticated user may call (creating, searching,
    /version, the UI) they get an answer that reveals nothing of those resources;
  * --static-prefix: moving the UI and ajax routes under a prefix unprotects nothing.

The level-by-level matrix (READ/EDIT/MANAGE) is test_auth_matrix.py's."""
import os
import re
import urllib.parse
import uuid

import pytest

from test_auth_helpers import (admin_api, assert_forbidden, assert_unauthenticated,
                               call, create_users, session, start_auth_server)

SRC_API = os.path.join(os.path.dirname(__file__), "..", "..", "src", "api")
ROUTER = os.path.join(os.path.dirname(__file__), "..", "..", "src", "http", "router.c")
SECRET = b"authz: artifact content only the admin may read"
FLAG_BITS = {"MFD_ROUTE_TRACKING": 1, "MFD_ROUTE_ARTIFACTS": 2, "MFD_ROUTE_AJAX_ONLY": 4,
             "MFD_ROUTE_BARE": 8, "MFD_ROUTE_NO_AJAX": 16, "MFD_ROUTE_OWN_CONTENT_TYPE": 32,
             "MFD_ROUTE_PREFIXED": 64}
AJAX_ONLY, BARE, NO_AJAX = 4, 8, 16

# Routes served without credentials: auth.md §2 step 1, the readiness probe, and the
# steps of the native SSO login that happen before there is a user.
PUBLIC = {("GET", "/health"), ("GET", "/static-files/"),
          ("GET", "/static-files/<path>"), ("GET", "/ready"), ("GET", "/favicon.ico"),
          ("GET", "/oidc/login"), ("GET", "/oidc/callback"), ("GET", "/oidc/info")}

# Routes any authenticated user may call (auth.md §3: creators, searches that filter
# their results, "no check" routes). Everything else must refuse a NO_PERMISSIONS user
# who names the admin's resources. Add a route here only with the reason.
ANY_USER = {
    ("POST", "2.0/mlflow/experiments/create"): "creates a new experiment (creator gets MANAGE)",
    ("POST", "2.0/mlflow/experiments/search"): "results filtered to readable experiments",
    ("GET", "2.0/mlflow/experiments/search"): "results filtered to readable experiments",
    ("POST", "2.0/mlflow/runs/search"): "experiment ids reduced to readable ones",
    ("POST", "2.0/mlflow/registered-models/create"): "creates a new model (creator gets MANAGE)",
    ("GET", "2.0/mlflow/registered-models/search"): "results filtered to readable models",
    ("GET", "2.0/mlflow/model-versions/search"): "results filtered to readable models",
    ("POST", "2.0/mlflow/logged-models/search"): "experiment ids reduced to readable ones",
    ("POST", "2.0/mlflow/users/create-ui"): "signup form, CSRF-protected",
    ("GET", "/version"): "no check upstream",
    ("GET", "/ready"): "readiness probe, no data",
    ("GET", "/metrics"): "Prometheus counters, no resource data",
    ("GET", "/"): "the UI page",
    ("GET", ""): "redirect to the UI under the static prefix",
    ("GET", "2.0/mlflowd/auth/whoami"): "the caller's own identity",
    ("GET", "2.0/mlflowd/auth/role-mappings"): "the configured role mappings, for the UI",
    ("POST", "/oidc/logout"): "ends the caller's own session",
}


# --- the route tables, read from the sources ------------------------------------------

def _flags(expr, defines):
    value = 0
    for name in re.findall(r"[A-Z_]+", expr):
        if name in FLAG_BITS:
            value |= FLAG_BITS[name]
        elif name in defines:
            value |= _flags(defines[name], defines)
        elif name != "NULL":
            raise AssertionError(f"unknown route flag {name} in {expr!r}")
    return value


def read_routes():
    """[(method, pattern, flags, file)] of every route table named in router.c."""
    with open(ROUTER) as f:
        router = f.read()
    tables = set(re.findall(r"mfd_api_(\w+)_routes", router))
    assert tables, "no route tables found in router.c"
    routes, found = [], set()
    for name in sorted(os.listdir(SRC_API)):
        if not name.endswith(".c"):
            continue
        with open(os.path.join(SRC_API, name)) as f:
            text = f.read()
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S).replace("\\\n", " ")
        defines = dict(re.findall(r"^#define\s+([A-Z_]+)\s+([A-Z_| ]+)$", text, re.M))
        macros = {}
        for m in re.finditer(r"^#define\s+(\w+)\((\w+),\s*(\w+),\s*(\w+)\)\s*"
                             r"\{\s*\2\s*,\s*(\"[^\"]*\"\s*)?\3\s*,\s*\4\s*,\s*([^,]+),\s*NULL\s*\}",
                             text, re.M):
            macros[m.group(1)] = ((m.group(5) or "").strip().strip('"'), m.group(6))
        for m in re.finditer(r"const mfd_route mfd_api_(\w+)_routes\[\]\s*=\s*\{(.*?)\n\};",
                             text, re.S):
            if m.group(1) not in tables:
                continue  # not served (yet)
            found.add(m.group(1))
            body = m.group(2)
            for r in re.finditer(r'\{\s*"(GET|HEAD|POST|PUT|PATCH|DELETE)"\s*,\s*"([^"]*)"\s*,'
                                 r"\s*\w+\s*,\s*([^,]+),", body):
                routes.append((r.group(1), r.group(2), _flags(r.group(3), defines), name))
            for macro, (prefix, flags) in macros.items():
                for r in re.finditer(macro + r'\(\s*"(\w+)"\s*,\s*"([^"]*)"\s*,', body):
                    routes.append((r.group(1), prefix + r.group(2), _flags(flags, defines), name))
    missing = tables - found
    assert not missing, f"route tables named in router.c but not found in src/api: {missing}"
    return routes


ROUTES = read_routes()


def spellings(method, pattern, flags, prefix=""):
    """Every path a route is served at."""
    if flags & BARE:
        out = [pattern]
        if flags & FLAG_BITS["MFD_ROUTE_PREFIXED"] and prefix:
            out.append(prefix + pattern)
        return [p for p in out if p]  # the "" route exists only under a prefix
    out = []
    if not flags & AJAX_ONLY:
        out.append("/api/" + pattern)
    if not flags & NO_AJAX:
        out.append(prefix + "/ajax-api/" + pattern)
    return out


def test_route_tables_are_read():
    """The reader found the tables (a sanity check on the parsing itself)."""
    patterns = {(m, p) for m, p, _, _ in ROUTES}
    for known in [("POST", "2.0/mlflow/runs/log-batch"), ("GET", "/health"),
                  ("PUT", "2.0/mlflow-artifacts/artifacts/<path>"),
                  ("DELETE", "2.0/mlflow/registered-models/delete"),
                  ("PATCH", "2.0/mlflow/users/update-password"),
                  ("GET", "/model-versions/get-artifact")]:
        assert known in patterns, known
    assert len(ROUTES) >= 80, len(ROUTES)


# --- the world the admin makes ------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = start_auth_server(tmp_path_factory.mktemp("authz-all"), default_permission="NO_PERMISSIONS")
    create_users(s, {"noperm": None})
    yield s
    s.stop()


def make_world(server):
    tag = uuid.uuid4().hex[:10]
    w = {"exp_name": f"authz-exp-{tag}", "model": f"authz-model-{tag}"}
    w["exp"] = admin_api(server, "POST", "experiments/create", {"name": w["exp_name"]})["experiment_id"]
    w["run"] = admin_api(server, "POST", "runs/create", {"experiment_id": w["exp"]})["run"]["info"]["run_id"]
    admin_api(server, "POST", "runs/log-metric",
              {"run_id": w["run"], "key": "m", "value": 1.0, "timestamp": 1})
    w["logged_model"] = admin_api(server, "POST", "logged-models", {
        "experiment_id": w["exp"], "name": "lm", "tags": [{"key": "k", "value": "v"}]})[
        "model"]["info"]["model_id"]
    admin_api(server, "POST", "registered-models/create", {"name": w["model"]})
    admin_api(server, "POST", "model-versions/create", {
        "name": w["model"], "source": f"mlflow-artifacts:/{w['exp']}/{w['run']}/artifacts/model",
        "run_id": w["run"]})
    admin = session(server, "admin")
    r = call(admin, server, "POST", "/api/2.0/mlflowd/tokens/create", body={"name": f"t-{tag}"})
    w["token_id"] = r.json()["access_token"]["id"] if r.status_code == 200 else "none"
    for path in (f"{w['exp']}/{w['run']}/artifacts/secret.txt",
                 f"{w['exp']}/{w['run']}/artifacts/model/MLmodel",
                 f"{w['exp']}/models/{w['logged_model']}/artifacts/secret.txt"):
        r = admin.put(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{path}", data=SECRET)
        assert r.status_code == 200, r.text
    return w


@pytest.fixture(scope="module")
def world(server):
    return make_world(server)


def request_for(w, method, path):
    """The request a caller naming the world's resources sends to `path`."""
    artifact = f"{w['exp']}/{w['run']}/artifacts/secret.txt"
    path = (path.replace("{model_id}", w["logged_model"]).replace("{tag_key}", "k")
            .replace("<path>", artifact))
    bag = {
        "experiment_id": w["exp"], "experiment_ids": [w["exp"]], "experiment_name": w["exp_name"],
        "run_id": w["run"], "run_uuid": w["run"], "run_ids": [w["run"]], "name": w["model"],
        "version": "1", "model_id": w["logged_model"], "key": "k", "value": "v", "alias": "a",
        "stage": "Archived", "metric_key": "m", "username": "admin", "permission": "READ",
        "new_name": w["model"] + "-x", "path": "secret.txt", "artifact_file_path": "secret.txt",
        "artifact_directory_path": "", "max_results": 100, "status": "LOGGED_MODEL_READY",
        "params": [{"key": "p", "value": "v"}], "tags": [{"key": "k", "value": "v"}],
        "source": f"mlflow-artifacts:/{w['exp']}/{w['run']}/artifacts/model",
        "scorer_name": "s", "password": "new-password-123456", "is_admin": True,
        "filter": "", "stages": ["None"], "upload_id": "u", "parts": [], "num_parts": 1,
        "id": w["token_id"],
    }
    if path.endswith("mlflow-artifacts/artifacts"):  # the proxy listing: a full path
        bag["path"] = f"{w['exp']}/{w['run']}/artifacts"
    if path.endswith("/upload-artifact"):  # the ajax upload names its run in the query
        return path, {"run_uuid": w["run"], "path": "planted.txt"}, SECRET
    if method in ("GET", "HEAD"):
        return path, {k: v for k, v in bag.items() if not isinstance(v, (list, dict))} | {
            "experiment_ids": w["exp"], "run_ids": w["run"]}, None
    if method == "PUT":
        return path, None, SECRET
    return path, None, bag


def send(s, server, method, path, params, body):
    if isinstance(body, bytes):
        return s.request(method, server.url + path, params=params, data=body, timeout=60)
    return call(s, server, method, path, params=params, body=body)


def leaks(w, response):
    """What of the world the answer shows that the request did not itself name (an
    error message quoting the caller's own input reveals nothing)."""
    text = response.content
    asked = (response.request.url or "").encode() + (
        response.request.body if isinstance(response.request.body, bytes) else
        (response.request.body or "").encode())
    asked = asked + urllib.parse.unquote_to_bytes(asked)
    return [name for name, needle in [
        ("artifact content", SECRET), ("experiment name", w["exp_name"].encode()),
        ("run id", w["run"].encode()), ("model name", w["model"].encode()),
        ("logged model id", w["logged_model"].encode())]
        if needle in text and needle not in asked]


def all_requests(prefix=""):
    for method, pattern, flags, source in ROUTES:
        for path in spellings(method, pattern, flags, prefix):
            yield method, pattern, path, source


CASES = sorted({(m, path) for m, _, path, _ in all_requests()})


# --- anonymous ---------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", CASES, ids=[f"{m} {p}" for m, p in CASES])
def test_anonymous_is_refused_everywhere_but_public_paths(server, world, method, path):
    """R-SSO-16: with auth on, every route but the public ones needs credentials."""
    pattern = next(p for m, p, sp, _ in all_requests() if (m, sp) == (method, path))
    target, params, body = request_for(world, method, path)
    r = send(session(server), server, method, target, params, body)
    if (method, pattern) in PUBLIC:
        assert r.status_code != 401, r.text
        assert not leaks(world, r)
        return
    if method == "HEAD":  # no body to compare
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="mlflow"'
        return
    assert_unauthenticated(r)


@pytest.mark.parametrize("method,path", [("PUT", "/api/2.0/mlflow-artifacts/artifacts/{e}/x.txt"),
                                         ("POST", "/ajax-api/2.0/mlflow/upload-artifact")])
def test_anonymous_upload_is_refused_and_writes_nothing(server, world, method, path):
    target = path.replace("{e}", world["exp"])
    params = {"run_uuid": world["run"], "path": "anon.txt"} if "upload-artifact" in path else None
    r = session(server).request(method, server.url + target, params=params, data=b"x" * 100000,
                                timeout=60)
    assert_unauthenticated(r)
    listing = admin_api(server, "GET", "artifacts/list", params={"run_id": world["run"]})
    assert "anon.txt" not in str(listing)
    assert not os.path.exists(os.path.join(server.workdir, "mlartifacts", world["exp"], "x.txt"))


# --- NO_PERMISSIONS ---------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", CASES, ids=[f"{m} {p}" for m, p in CASES])
def test_no_permissions_user_is_refused_every_resource(server, method, path):
    """A fresh world per case: a refused write that slipped through would show here."""
    w = make_world(server) if method not in ("GET", "HEAD") else _shared_world(server)
    pattern = next(p for m, p, sp, _ in all_requests() if (m, sp) == (method, path))
    target, params, body = request_for(w, method, path)
    r = send(session(server, "noperm"), server, method, target, params, body)
    if (method, pattern) in PUBLIC or (method, pattern) in ANY_USER:
        assert r.status_code not in (401, 403) or pattern == "2.0/mlflow/users/create-ui", r.text
        assert r.status_code < 500, r.text
        assert not leaks(w, r), (leaks(w, r), r.text[:500])
        return
    if pattern.startswith("2.0/mlflowd/"):
        # mlflowd's own endpoints answer in JSON; naming another user's token may also
        # be a 404 (its existence is not revealed) as long as nothing happened to it.
        assert r.status_code in (403, 404), (f"{method} {target}: a NO_PERMISSIONS user got "
                                             f"{r.status_code} {r.text[:300]}")
        if r.headers.get("Content-Type", "").startswith("application/json"):
            assert r.json()["error_code"] in ("PERMISSION_DENIED", "RESOURCE_DOES_NOT_EXIST"), r.text
        else:
            assert_forbidden(r)
        if w["token_id"] != "none":
            tokens = call(session(server, "admin"), server, "GET", "/api/2.0/mlflowd/tokens/list")
            assert w["token_id"] in tokens.text, "the admin's token is gone"
        return
    assert r.status_code == 403, (f"{method} {target}: a NO_PERMISSIONS user got "
                                  f"{r.status_code} {r.text[:300]}")
    assert_forbidden(r)


_WORLDS = {}


def _shared_world(server):
    if server not in _WORLDS:
        _WORLDS[server] = make_world(server)
    return _WORLDS[server]


def test_every_any_user_route_exists():
    """ANY_USER names only routes that exist (a renamed route must be reclassified)."""
    patterns = {(m, p) for m, p, _, _ in ROUTES}
    stale = [k for k in ANY_USER if k not in patterns and k[1] not in ("/ready", "/metrics")]
    assert not stale, stale


# --- static prefix -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def prefixed(tmp_path_factory):
    s = start_auth_server(tmp_path_factory.mktemp("authz-prefix"), args=["--static-prefix", "/mlflow"],
                          default_permission="NO_PERMISSIONS")
    create_users(s, {"noperm": None})
    yield s
    s.stop()


def test_static_prefix_does_not_unprotect_bare_routes(prefixed):
    """With --static-prefix, every spelling of /get-artifact and
    /model-versions/get-artifact (with and without the prefix) still checks READ on the
    run or model: no NO_PERMISSIONS user reads the artifact (found by fuzz_router)."""
    w = make_world(prefixed)
    noperm = session(prefixed, "noperm")
    targets = []
    for base in ("", "/mlflow"):
        targets += [(f"{base}/get-artifact", {"run_id": w["run"], "path": "secret.txt"}),
                    (f"{base}/model-versions/get-artifact",
                     {"name": w["model"], "version": "1", "path": "MLmodel"})]
    for path, params in targets:
        r = noperm.get(prefixed.url + path, params=params, timeout=60)
        assert SECRET not in r.content, f"{path}: a NO_PERMISSIONS user read the artifact"
        assert r.status_code in (403, 404), (path, r.status_code, r.text[:200])


def test_static_prefix_ajax_routes_are_protected(prefixed):
    w = make_world(prefixed)
    for method, pattern, path, _ in all_requests("/mlflow"):
        if not path.startswith("/mlflow/ajax-api/"):
            continue
        target, params, body = request_for(w, method, path)
        assert_unauthenticated(send(session(prefixed), prefixed, method, target, params, body))


@pytest.mark.parametrize("prefix", ["/static", "/healthz", "/favicon.ico/x"])
def test_a_prefix_that_looks_public_does_not_unprotect_the_api(tmp_path, prefix):
    """auth.md §2 serves paths *starting with* /static, /health and /favicon.ico without
    credentials; a static prefix that starts so would carry every ajax route out of
    the protected space. Refusing such a prefix at start is as good as protecting it."""
    try:
        s = start_auth_server(tmp_path / "p", args=["--static-prefix", prefix],
                              default_permission="NO_PERMISSIONS")
    except RuntimeError:
        return  # refused at start: fine
    try:
        w = make_world(s)
        r = session(s).get(f"{s.url}{prefix}/ajax-api/2.0/mlflow/experiments/get",
                           params={"experiment_id": w["exp"]}, timeout=60)
        assert w["exp_name"].encode() not in r.content, f"anonymous read through {prefix}"
        assert_unauthenticated(r)
    finally:
        s.stop()


@pytest.mark.parametrize("prefix", ["/favicon.ico", "/health", "/oidc/login", "/static-files"])
def test_a_public_path_as_prefix_is_refused(tmp_path, prefix):
    """The redirect at <prefix> itself would be reached without credentials."""
    with pytest.raises(RuntimeError, match="served without credentials"):
        start_auth_server(tmp_path / "p", args=["--static-prefix", prefix])
