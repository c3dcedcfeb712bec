"""The request-security layer of `mlflow server` 3.5+ (src/http/request_guard.c), answered as
MLflow answers:

  * Host header checked against --allowed-hosts / MLFLOW_SERVER_ALLOWED_HOSTS (default:
    localhost and private IPs, any port): others get 403 text/plain "Invalid Host header -
    possible DNS rebinding attack detected"; /health, /version and /ready are exempt (probes).
  * POST/PUT/PATCH/DELETE under /api/ and /ajax-api/ with an Origin that is neither localhost
    nor in --cors-allowed-origins: 403 text/plain "Cross-origin request blocked". No Origin (the
    Python client) passes.
  * CORS preflights are answered for allowed origins (200 "OK"), refused for others (400).
  * Every answer carries X-Content-Type-Options: nosniff and X-Frame-Options (SAMEORIGIN by
    default, --x-frame-options), except where the handler set its own (the UI's DENY).
  * --disable-security-middleware turns all of it off.
Refusals are logged (a warning naming the header, and the access line)."""
import socket
import uuid

import requests

from conftest import free_port
from test_auth_helpers import start_auth_server

INVALID_HOST = "Invalid Host header - possible DNS rebinding attack detected"
BLOCKED = "Cross-origin request blocked"
CREATE = "/api/2.0/mlflow/experiments/create"
SEARCH = "/api/2.0/mlflow/experiments/search"


def name():
    return "guard-" + uuid.uuid4().hex[:10]


def experiment_exists(server, exp_name):
    r = requests.get(server.url + "/api/2.0/mlflow/experiments/get-by-name",
                     params={"experiment_name": exp_name}, timeout=30)
    return r.status_code == 200


def assert_refused(resp, text):
    assert resp.status_code == 403, resp.text
    assert resp.headers["Content-Type"] == "text/plain"
    assert resp.text == text
    assert "Access-Control-Allow-Origin" not in resp.headers


def raw_request(port, head):
    """Sends `head` as is (no Host header added) and returns the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data.decode("utf-8", "replace")
            data += chunk


# --- Host header ----------------------------------------------------------------------------

def test_default_hosts_are_localhost_and_private_ips_on_any_port(server):
    for host in ["127.0.0.1", f"127.0.0.1:{server.port}", "localhost", "localhost:8080",
                 "[::1]", "[::1]:5000", "0.0.0.0:5000", "10.1.2.3:5000", "192.168.0.7",
                 "172.16.0.1:5000", "172.31.255.1", "[fd12:3456::1]:5000", "[fc00::1]"]:
        r = requests.get(server.url + SEARCH, params={"max_results": 1}, headers={"Host": host},
                         timeout=30)
        assert r.status_code == 200, (host, r.text)


def test_other_hosts_are_refused_and_logged(server):
    # MLflow's defaults are name patterns ("10.*"), which names an attacker's DNS can point at
    # 127.0.0.1 also match; here the private ranges are addresses.
    for host in ["evil.example", f"evil.example:{server.port}", "172.32.0.1:5000",
                 "LOCALHOST:5000", "127.0.0.1.evil.example", "10.evil.example",
                 "10.0.0.1.rebind.example:5000", "192.168.evil.example:80", "172.16.evil.example",
                 "fd00:evil", "[fd00::1]evil", "10.0.0.1:80x", "[fe80::1]", "[localhost]",
                 "[127.0.0.1]:5000"]:
        r = requests.get(server.url + SEARCH, params={"max_results": 1}, headers={"Host": host},
                         timeout=30)
        assert_refused(r, INVALID_HOST)
    log = server.log()
    assert 'Rejected request with invalid Host header: "evil.example"' in log
    assert '"GET /api/2.0/mlflow/experiments/search" 403' in log


def test_rebound_write_is_refused_before_it_runs(server):
    exp = name()
    r = requests.post(server.url + CREATE, json={"name": exp},
                      headers={"Host": f"rebind.evil.example:{server.port}"}, timeout=30)
    assert_refused(r, INVALID_HOST)
    assert not experiment_exists(server, exp)


def test_a_request_without_host_is_refused(server):
    answer = raw_request(server.port, f"GET {SEARCH} HTTP/1.0\r\n\r\n")
    assert answer.startswith("HTTP/1.1 403") or answer.startswith("HTTP/1.0 403"), answer
    assert answer.endswith(INVALID_HOST)


def test_probe_paths_accept_any_host(server):
    for path in ["/health", "/version", "/ready"]:
        r = requests.get(server.url + path, headers={"Host": "evil.example"}, timeout=30)
        assert r.status_code == 200, (path, r.text)
    r = requests.get(server.url + "/metrics", headers={"Host": "evil.example"}, timeout=30)
    assert_refused(r, INVALID_HOST)


# --- cross-origin writes ----------------------------------------------------------------------

def test_cross_origin_write_is_refused_and_logged(server):
    exp = name()
    r = requests.post(server.url + CREATE, json={"name": exp},
                      headers={"Origin": "https://evil.example"}, timeout=30)
    assert_refused(r, BLOCKED)
    assert not experiment_exists(server, exp)
    log = server.log()
    assert 'Blocked cross-origin request from "https://evil.example"' in log
    assert '"POST /api/2.0/mlflow/experiments/create" 403' in log


def test_every_state_changing_method_and_the_ajax_api_are_guarded(server):
    exp_id = server.api("POST", "experiments/create", {"name": name()})["experiment_id"]
    evil = {"Origin": "http://evil.example"}
    cases = [
        ("POST", "/ajax-api/2.0/mlflow/experiments/create", {"name": name()}),
        ("POST", "/api/2.0/mlflow/experiments/delete", {"experiment_id": exp_id}),
        ("PATCH", "/api/2.0/mlflow/registered-models/update", {"name": "m"}),
        ("DELETE", "/api/2.0/mlflow/registered-models/delete", {"name": "m"}),
        ("PUT", "/api/2.0/mlflow-artifacts/artifacts/x.txt", None),
    ]
    for method, path, body in cases:
        r = requests.request(method, server.url + path, json=body, headers=evil, timeout=30)
        assert_refused(r, BLOCKED)
    assert server.api("GET", "experiments/get",
                      params={"experiment_id": exp_id})["experiment"]["lifecycle_stage"] == "active"
    r = requests.post(server.url + CREATE, json={"name": name()}, headers={"Origin": "null"},
                      timeout=30)
    assert_refused(r, BLOCKED)


def test_writes_without_origin_or_from_localhost_pass(server):
    exp = name()
    assert requests.post(server.url + CREATE, json={"name": exp}, timeout=30).status_code == 200
    for origin in ["http://localhost:3000", "http://127.0.0.1", "https://localhost",
                   "http://[::1]:8080"]:
        r = requests.post(server.url + CREATE, json={"name": name()}, headers={"Origin": origin},
                          timeout=30)
        assert r.status_code == 200, (origin, r.text)
        assert r.headers["Access-Control-Allow-Origin"] == origin
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
        assert "Origin" in r.headers["Vary"]


def test_cross_origin_reads_pass_without_cors_headers(server):
    r = requests.get(server.url + SEARCH, params={"max_results": 1},
                     headers={"Origin": "https://evil.example"}, timeout=30)
    assert r.status_code == 200
    assert "Access-Control-Allow-Origin" not in r.headers


# --- preflights -------------------------------------------------------------------------------

def test_preflight_from_an_allowed_origin(server):
    r = requests.options(server.url + CREATE, headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization"}, timeout=30)
    assert r.status_code == 200 and r.text == "OK"
    assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert r.headers["Access-Control-Allow-Methods"] == "GET, POST, PUT, DELETE, OPTIONS, PATCH"
    assert r.headers["Access-Control-Allow-Headers"] == "content-type,authorization"
    assert r.headers["Access-Control-Max-Age"] == "600"


def test_preflight_from_another_origin_is_refused(server):
    r = requests.options(server.url + CREATE, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, timeout=30)
    assert r.status_code == 400
    assert r.text == "Disallowed CORS origin"
    assert "Access-Control-Allow-Origin" not in r.headers
    r = requests.options(server.url + CREATE, headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "TRACE"}, timeout=30)
    assert r.status_code == 400 and r.text == "Disallowed CORS method"


# --- security headers -------------------------------------------------------------------------

def test_security_headers_on_answers_and_errors(server):
    for r in [requests.get(server.url + SEARCH, params={"max_results": 1}, timeout=30),
              requests.get(server.url + "/api/2.0/mlflow/no-such-endpoint", timeout=30),
              requests.get(server.url + "/health", timeout=30)]:
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_the_ui_keeps_its_own_stricter_headers(server):
    r = requests.get(server.url + "/", timeout=30)
    assert r.status_code == 200
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


# --- settings ---------------------------------------------------------------------------------

def test_flags_replace_the_defaults(make_server):
    s = make_server(args=["--allowed-hosts", "mlflow.example.com, *.corp.example",
                          "--cors-allowed-origins",
                          "https://app.example.com,https://*.corp.example",
                          "--x-frame-options", "deny"])
    for host in ["mlflow.example.com", "api.corp.example"]:
        r = requests.get(s.url + SEARCH, params={"max_results": 1}, headers={"Host": host},
                         timeout=30)
        assert r.status_code == 200, (host, r.text)
        assert r.headers["X-Frame-Options"] == "DENY"
    # As in MLflow, a pattern names the port too: "*.corp.example" is not "x.corp.example:80".
    for host in [f"127.0.0.1:{s.port}", "mlflow.example.com:443", "api.corp.example:5000",
                 "10.0.0.1"]:
        r = requests.get(s.url + SEARCH, params={"max_results": 1}, headers={"Host": host},
                         timeout=30)
        assert_refused(r, INVALID_HOST)
    good = {"Host": "mlflow.example.com"}
    for origin in ["https://app.example.com", "https://nb.corp.example",
                   "http://localhost:3000"]:
        r = requests.post(s.url + CREATE, json={"name": name()},
                          headers={**good, "Origin": origin}, timeout=30)
        assert r.status_code == 200, (origin, r.text)
        assert r.headers["Access-Control-Allow-Origin"] == origin
    for origin in ["https://app.example.com.evil.example", "http://app.example.com",
                   "https://evil.example"]:
        r = requests.post(s.url + CREATE, json={"name": name()},
                          headers={**good, "Origin": origin}, timeout=30)
        assert_refused(r, BLOCKED)


def test_environment_and_wildcards(make_server):
    s = make_server(env={"MLFLOW_SERVER_ALLOWED_HOSTS": "*",
                         "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS": "*",
                         "MLFLOW_SERVER_X_FRAME_OPTIONS": "NONE"})
    r = requests.post(s.url + CREATE, json={"name": name()},
                      headers={"Host": "anything.example", "Origin": "https://evil.example"},
                      timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Frame-Options" not in r.headers
    # '*' never allows credentials (flask-cors' default): "*" with Allow-Credentials is a pair
    # browsers refuse, and echoing the origin of a request with cookies (Starlette's way) let
    # any site read the API with the browser's session.
    assert "Access-Control-Allow-Credentials" not in r.headers
    r = requests.get(s.url + SEARCH, params={"max_results": 1},
                     headers={"Origin": "https://evil.example", "Cookie": "a=b"}, timeout=30)
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers
    r = requests.options(s.url + CREATE, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, timeout=30)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers


def test_an_origin_named_beside_the_star_keeps_its_credentials(make_server):
    """`*` answers the origins it alone allows with "*" and no credentials; an origin the list
    also names (before or after the star) is answered as a named one: itself, with credentials."""
    for origins in ("*, https://app.example.com", "https://app.example.com,*"):
        s = make_server(args=["--cors-allowed-origins", origins])
        r = requests.get(s.url + SEARCH, params={"max_results": 1},
                         headers={"Origin": "https://app.example.com"}, timeout=30)
        assert r.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
        r = requests.get(s.url + SEARCH, params={"max_results": 1},
                         headers={"Origin": "https://other.example"}, timeout=30)
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in r.headers


def test_flags_win_over_the_environment(make_server):
    s = make_server(args=["--allowed-hosts", "flag.example"],
                    env={"MLFLOW_SERVER_ALLOWED_HOSTS": "env.example"})
    q = {"max_results": 1}
    assert requests.get(s.url + SEARCH, params=q, headers={"Host": "flag.example"},
                        timeout=30).status_code == 200
    assert_refused(requests.get(s.url + SEARCH, params=q, headers={"Host": "env.example"},
                                timeout=30), INVALID_HOST)


def test_disable_security_middleware(make_server):
    for kw in [{"args": ["--disable-security-middleware"]},
               {"env": {"MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE": "true"}}]:
        s = make_server(**kw)
        r = requests.post(s.url + CREATE, json={"name": name()},
                          headers={"Host": "evil.example", "Origin": "https://evil.example"},
                          timeout=30)
        assert r.status_code == 200, r.text
        assert "X-Content-Type-Options" not in r.headers
        assert "X-Frame-Options" not in r.headers
        assert "Access-Control-Allow-Origin" not in r.headers


def test_static_prefix_paths_are_guarded(make_server):
    s = make_server(args=["--static-prefix", "/mlflow"])
    exp = name()
    r = requests.post(s.url + "/mlflow/ajax-api/2.0/mlflow/experiments/create",
                      json={"name": exp}, headers={"Origin": "https://evil.example"}, timeout=30)
    assert_refused(r, BLOCKED)
    assert not experiment_exists(s, exp)


def test_health_port_probes_with_a_pod_ip_host(make_server):
    health = free_port()
    make_server(args=["--allowed-hosts", "mlflow.example.com", "--health-port", str(health)])
    for path in ["/health", "/ready", "/metrics"]:
        r = requests.get(f"http://127.0.0.1:{health}{path}", headers={"Host": "10.42.0.17:5001"},
                         timeout=30)
        assert r.status_code == 200, (path, r.text)


def test_the_guard_answers_before_auth(tmp_path):
    s = start_auth_server(tmp_path / "auth")
    try:
        r = requests.get(s.url + SEARCH, headers={"Host": "evil.example"}, timeout=30)
        assert_refused(r, INVALID_HOST)
        r = requests.post(s.url + CREATE, json={"name": name()}, auth=("admin", "password1234"),
                          headers={"Origin": "https://evil.example"}, timeout=30)
        assert_refused(r, BLOCKED)
        r = requests.post(s.url + CREATE, json={"name": name()}, auth=("admin", "password1234"),
                          headers={"Origin": "http://localhost:5000"}, timeout=30)
        assert r.status_code == 200, r.text
    finally:
        s.stop()
