"""Bad input, table-driven: every case names the answer MLflow's contract asks for
(rest-api.md §1.1-§1.3: status + error_code, JSON body), and none may be a 5xx, a
hang or a sanitizer report (the fixture checks the log at stop).

Groups: malformed and truncated JSON, wrong types, limits of log-batch, invalid UTF-8
(JSON bodies and query strings), NUL bytes, unknown enum values, wrong methods,
Content-Type, enormous max_results, negative and extreme steps, oversized bodies and
headers (with a server started with a small --max-body-size), path traversal and
symbolic links on every artifact route, and SQL metacharacters in every filter field
of every search endpoint (a legal filter must select exactly what a literal
comparison selects; an illegal one is a 400)."""
import base64
import http.client
import json
import os
import re
import socket
import time
import urllib.parse
import uuid

import pytest

from conftest import Server, db_query, raw_request

API = "/api/2.0/mlflow/"
ART = "/api/2.0/mlflow-artifacts/artifacts"
AJAX_ART = "/ajax-api/2.0/mlflow-artifacts/artifacts"
ROUTE_SOURCES = os.path.join(os.path.dirname(__file__), "..", "..", "src", "api")
SECRET = b"bad-input: secret outside the artifact destination"
JSON_CT = {"Content-Type": "application/json"}
INVALID = "INVALID_PARAMETER_VALUE"


# --- helpers -------------------------------------------------------------------

def check_error(status, headers, body, want_status, want_code, part=None):
    """MLflow's error contract on a raw answer."""
    assert status == want_status, (status, body[:500])
    assert headers.get("content-type", "").startswith("application/json"), headers
    doc = json.loads(body)
    assert doc.get("error_code") == want_code, doc
    assert isinstance(doc.get("message"), str) and doc["message"], doc
    if part is not None:
        assert part in doc["message"], doc["message"]
    return doc


def post_raw(server, endpoint, body, headers=JSON_CT):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    return raw_request(server, "POST", API + endpoint, body=body, headers=headers)


def never_5xx(status, body):
    assert status < 500, body[:500]


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def world(server):
    """An experiment with a run, a registered model with a version, a logged model."""
    w = {"exp": server.api("POST", "experiments/create", {"name": unique("bad")})["experiment_id"]}
    run = server.api("POST", "runs/create", {"experiment_id": w["exp"], "start_time": 1})
    w["run"] = run["run"]["info"]["run_id"]
    w["model"] = unique("bad-model")
    server.api("POST", "registered-models/create", {"name": w["model"]})
    server.api("POST", "model-versions/create", {
        "name": w["model"], "source": f"mlflow-artifacts:/{w['exp']}/{w['run']}/artifacts/model",
        "run_id": w["run"]})
    w["logged_model"] = server.api("POST", "logged-models", {
        "experiment_id": w["exp"], "name": "lm"})["model"]["info"]["model_id"]
    return w


# --- numbers beyond the 32-bit INTEGER columns ------------------------------------

@pytest.mark.parametrize("number", ["3000000000", "-3000000000", "9223372036854775807"])
def test_ids_beyond_32_bits_name_nothing(server, world, number):
    """Experiment ids and model versions are INTEGER columns: a larger number names
    nothing (404, or no match), on PostgreSQL too, where it used to come back as
    "SQL error: value ... is out of range for type integer"."""
    def expect(status, code, method, endpoint, body=None, params=None):
        r = server.session.request(method, server.url + API + endpoint, json=body,
                                   params=params, timeout=30)
        assert r.status_code == status, (endpoint, r.text)
        assert "SQL" not in r.text, (endpoint, r.text)
        if code:
            assert r.json()["error_code"] == code, (endpoint, r.text)
        return r.json()

    m = world["model"]
    gone = "RESOURCE_DOES_NOT_EXIST"
    expect(404, gone, "GET", "model-versions/get", params={"name": m, "version": number})
    expect(404, gone, "GET", "model-versions/get-download-uri",
           params={"name": m, "version": number})
    expect(404, gone, "POST", "model-versions/set-tag",
           {"name": m, "version": number, "key": "k", "value": "v"})
    expect(404, gone, "POST", "model-versions/transition-stage",
           {"name": m, "version": number, "stage": "Staging", "archive_existing_versions": False})
    expect(404, gone, "POST", "registered-models/alias",
           {"name": m, "alias": "big", "version": number})
    expect(404, gone, "DELETE", "model-versions/delete", {"name": m, "version": number})
    expect(404, gone, "GET", "experiments/get", params={"experiment_id": number})
    expect(404, gone, "POST", "runs/create", {"experiment_id": number})
    assert expect(200, None, "POST", "runs/search", {"experiment_ids": [number]}) == {}
    assert expect(200, None, "POST", "logged-models/search",
                  {"experiment_ids": [number]}).get("models", []) == []
    for op, want in ((">", 0), ("<", 1), ("=", 0), ("!=", 1)):
        got = expect(200, None, "GET", "model-versions/search",
                     params={"filter": f"name = '{m}' AND version_number {op} {number}"})
        expected = want if not number.startswith("-") or op in ("=", "!=") else 1 - want
        assert len(got.get("model_versions", [])) == expected, (op, got)


# --- ambiguous framing -----------------------------------------------------------

def test_ambiguous_body_length_is_refused_and_nothing_hides_behind_it(server):
    """Two different Content-Lengths, or Content-Length with Transfer-Encoding, is a 400
    and the connection ends: a request smuggled in the body is never run. A coding other
    than chunked is a 501 (it used to wait for the client forever)."""
    hidden = unique("smuggled")
    second = (f"POST {API}experiments/create HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
              f"application/json\r\nContent-Length: {len(hidden) + 12}\r\n\r\n"
              f'{{"name": "{hidden}"}}').encode()
    head = f"POST {API}experiments/create HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    cases = [
        (head + "Content-Length: 2\r\nContent-Length: %d\r\n\r\n{}" % (2 + len(second)), 400,
         "BAD_REQUEST", "two different Content-Length"),
        (head + "Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
         % (5 + len(second)), 400, "BAD_REQUEST", "both Content-Length and Transfer-Encoding"),
        (head + "Transfer-Encoding: gzip\r\n\r\n", 501, "NOT_IMPLEMENTED", "chunked"),
        # forms libmicrohttpd reads as other header names, so it ignores the length
        (head + "Content-Length : %d\r\n\r\n" % len(second), 400, "BAD_REQUEST", "Malformed header"),
        (head + "Content-Length\t: %d\r\n\r\n" % len(second), 400, "BAD_REQUEST", "Malformed"),
        (head + "Content-Length:\r\n %d\r\n\r\n" % len(second), 400, "BAD_REQUEST", "Malformed"),
        (head + "Transfer-Encoding:\r\n chunked\r\nContent-Length: 2\r\n\r\n{}", 400,
         "BAD_REQUEST", "Malformed"),
    ]
    for text, status, code, part in cases:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(text.encode() + (second if status == 400 else b""))
        sock.settimeout(10)
        got = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
        sock.close()
        answer = got.decode()
        assert answer.startswith(f"HTTP/1.1 {status}"), answer
        assert answer.count("HTTP/1.1 ") == 1, answer  # one answer, then the end
        body = json.loads(answer[answer.index("\r\n\r\n") + 4:])
        assert body["error_code"] == code and part in body["message"], body
    r = server.session.get(server.url + API + "experiments/get-by-name",
                           params={"experiment_name": hidden}, timeout=30)
    assert r.status_code == 404, r.text
    # the same length twice is no ambiguity
    payload = json.dumps({"name": unique("twice")}).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall((head + "Content-Length: %d\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                  % (len(payload), len(payload))).encode() + payload)
    got = b""
    while chunk := sock.recv(65536):
        got += chunk
    sock.close()
    assert got.startswith(b"HTTP/1.1 200"), got


# --- values nested as deep as the JSON reader allows -------------------------------

def test_values_nested_2040_deep_are_answered_not_a_crash(server, world):
    """jansson reads JSON nested up to 2048 levels and writes it back recursively: in an
    error message quoting the value, a page token, a logged model's flavors. That used to
    overflow a connection thread's 512 KiB stack and kill the server."""
    run = world["run"]
    nest = "[" * 2040 + "]" * 2040
    status, headers, body = post_raw(
        server, "runs/set-tag", ('{"run_id": "%s", "key": "k", "value": %s}' % (run, nest)).encode())
    check_error(status, headers, body, 400, INVALID, "Invalid value [[[")
    token = base64.b64encode(('{"offset": 1, "x": %s}' % nest).encode()).decode()
    r = server.session.get(server.url + API + "experiments/search",
                           params={"max_results": 1, "page_token": token}, timeout=30)
    assert r.status_code == 200, r.text
    model = ('{"artifact_path": "m", "flavors": {"x": %s}, "run_id": "%s", '
             '"utc_time_created": "2024-01-01 00:00:00.000000"}' % (nest, run))
    r = server.session.post(server.url + API + "runs/log-model",
                            json={"run_id": run, "model_json": model}, timeout=30)
    assert r.status_code == 200, r.text
    assert server.api("GET", "runs/get", params={"run_id": run})["run"]["info"]["run_id"] == run


# --- integers beyond 64 bits ------------------------------------------------------

def test_integers_beyond_64_bits_are_read_as_python_reads_them(server, world):
    """Python's json reads any integer, so MLflow does: a huge metric value is a double, a
    huge number in an ignored field changes nothing, and only an int64 field that cannot
    hold it is refused, by name. (The whole body used to be dropped as unparseable, and the
    answer named the first required field instead.)"""
    run = world["run"]
    key = unique("big")
    status, _, body = post_raw(server, "runs/log-metric", (
        '{"run_id": "%s", "key": "%s", "value": 18446744073709551616, "timestamp": 7, '
        '"unused": 99999999999999999999999}' % (run, key)).encode())
    assert status == 200, body
    got = server.api("GET", "metrics/get-history", params={"run_id": run, "metric_key": key})
    assert got["metrics"] == [{"key": key, "value": 1.8446744073709552e19, "timestamp": 7,
                               "step": 0}]
    name = unique("big-exp")
    status, _, body = post_raw(server, "experiments/create",
                               ('{"name": "%s", "x": [1, 2e0, 123456789012345678901234]}'
                                % name).encode())
    assert status == 200 and json.loads(body)["experiment_id"], body
    status, headers, body = post_raw(server, "runs/log-metric", (
        '{"run_id": "%s", "key": "k", "value": 1, "timestamp": 1, '
        '"step": 9223372036854775808}' % run).encode())
    check_error(status, headers, body, 400, INVALID, "step")
    # only the integers that do not fit become doubles: the others stay exact
    key = unique("exact")
    status, _, body = post_raw(server, "runs/log-batch", (
        '{"run_id": "%s", "metrics": [{"key": "%s", "value": 123456789012345678901234567890, '
        '"timestamp": 4611686018427387905, "step": 9007199254740993}], '
        '"x": [-99999999999999999999999, 2e0]}' % (run, key)).encode())
    assert status == 200, body
    got = server.api("GET", "metrics/get-history", params={"run_id": run, "metric_key": key})
    assert got["metrics"] == [{"key": key, "value": 1.2345678901234568e29,
                               "timestamp": 4611686018427387905, "step": 9007199254740993}]


# --- names: Python's Unicode \w ---------------------------------------------------

def test_names_take_letters_of_any_script_but_no_symbols(server, world):
    r"""MLflow's ^[/\w.\- :]*$ (keys) and ^[\w\-]*$ (aliases) with Unicode \w: letters and
    digits of every script pass; symbols, emoji, no-break and zero-width spaces, line
    separators and C1 controls are refused (they used to pass as "non-ASCII")."""
    run, exp, model = world["run"], world["exp"], world["model"]
    good, bad = ["h\u00e9llo", "\u4e2d\u6587", "\u0394\u03b9/\u0436-1"], \
        ["a\U0001F600", "a\u20ac", "a\u00a0b", "a\u200bb", "a\u2028", "a\u0085", "a\u00a9"]
    for name in good + bad:
        want = 200 if name in good else 400
        calls = [("runs/log-metric", {"run_id": run, "key": name, "value": 1, "timestamp": 1}),
                 ("runs/set-tag", {"run_id": run, "key": name, "value": "v"}),
                 ("experiments/set-experiment-tag", {"experiment_id": exp, "key": name,
                                                     "value": "v"}),
                 ("registered-models/set-tag", {"name": model, "key": name, "value": "v"})]
        if "/" not in name:
            calls.append(("registered-models/alias", {"name": model, "alias": name,
                                                      "version": "1"}))
        for endpoint, body in calls:
            r = server.session.post(server.url + API + endpoint, json=body, timeout=30)
            assert r.status_code == want, (endpoint, name, r.text)
            if want == 400:
                assert r.json()["error_code"] == INVALID and "alphanumerics" in r.text


# --- malformed and truncated JSON ----------------------------------------------

MISSING_NAME = "Missing value for required parameter 'name'"
MALFORMED = [
    ("empty", b""),
    ("truncated-object", b'{"name":'),
    ("truncated-string", b'{"name": "abc'),
    ("unclosed", b'{"name": "abc"'),
    ("no-colon", b'{"name" "abc"}'),
    ("trailing-comma", b'{"name": "abc",}'),
    ("trailing-garbage", b'{"name": "abc"} x'),
    ("single-quotes", b"{'name': 'abc'}"),
    ("bare-word", b"nul"),
    ("array", b'["name", "abc"]'),
    ("number", b"12"),
    ("lone-surrogate-escape", b'{"name": "\\ud800"}'),
    ("bad-escape", b'{"name": "\\q"}'),
    ("control-char", b'{"name": "a\x01b"}'),
    ("deep-nesting", b'{"x": ' + b"[" * 100000 + b"]" * 100000 + b', "name": "abc"}'),
    ("double-encoded-garbage", b'"{\\"name\\": "'),
]


@pytest.mark.parametrize("body", [c[1] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_json_is_an_empty_message(server, body):
    """An unparseable body is read as {} (§1.1): the required field is missing."""
    check_error(*post_raw(server, "experiments/create", body), 400, INVALID, MISSING_NAME)


def test_truncated_body_with_longer_content_length_does_not_hang_the_server(server):
    """A client that promises more than it sends and goes away leaves nothing stuck."""
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            s.sendall(b"POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: localhost\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":")
    assert server.get("/health").status_code == 200
    server.api("GET", "experiments/get", params={"experiment_id": "0"})


# --- wrong types ---------------------------------------------------------------

def type_cases(w):
    run, exp = w["run"], w["exp"]
    m = {"key": "m", "value": 1.0, "timestamp": 1, "step": 0}
    return [
        ("name-int", "experiments/create", {"name": 5}, "'name'"),
        ("name-bool", "experiments/create", {"name": True}, "'name'"),
        ("name-list", "experiments/create", {"name": ["a"]}, "'name'"),
        ("name-object", "experiments/create", {"name": {"a": 1}}, "'name'"),
        ("exp-tags-string", "experiments/create", {"name": unique("t"), "tags": "x"}, "tags"),
        ("exp-id-list", "runs/create", {"experiment_id": [exp]}, "experiment_id"),
        ("start-time-text", "runs/create", {"experiment_id": exp, "start_time": "soon"},
         "start_time"),
        ("start-time-float", "runs/create", {"experiment_id": exp, "start_time": 1.5}, "start_time"),
        ("run-tags-items", "runs/create", {"experiment_id": exp, "tags": [1, 2]}, None),
        ("run-id-int", "runs/log-metric", {"run_id": 5, **m}, None),
        ("value-text", "runs/log-metric", {"run_id": run, **m, "value": "abc"}, "value"),
        ("value-bool", "runs/log-metric", {"run_id": run, **m, "value": True}, "value"),
        ("value-list", "runs/log-metric", {"run_id": run, **m, "value": [1]}, "value"),
        ("timestamp-text", "runs/log-metric", {"run_id": run, **m, "timestamp": "x"}, "timestamp"),
        ("timestamp-float", "runs/log-metric", {"run_id": run, **m, "timestamp": 1.5},
         "timestamp"),
        ("step-bool", "runs/log-metric", {"run_id": run, **m, "step": True}, "step"),
        ("step-float-text", "runs/log-metric", {"run_id": run, **m, "step": "1.5"}, "step"),
        ("step-overflow", "runs/log-metric", {"run_id": run, **m, "step": 2 ** 63}, None),
        ("param-key-int", "runs/log-parameter", {"run_id": run, "key": 5, "value": "v"}, "key"),
        ("batch-metrics-string", "runs/log-batch", {"run_id": run, "metrics": "m"}, "metrics"),
        ("batch-metrics-items", "runs/log-batch", {"run_id": run, "metrics": [1]}, None),
        ("batch-metric-value", "runs/log-batch",
         {"run_id": run, "metrics": [{**m, "value": "abc"}]}, "value"),
        ("batch-params-object", "runs/log-batch", {"run_id": run, "params": {"a": "b"}}, "params"),
        ("max-results-text", "experiments/search", {"max_results": "ten"}, "max_results"),
        ("max-results-float", "experiments/search", {"max_results": 1.5}, "max_results"),
        ("order-by-string", "experiments/search", {"max_results": 10, "order_by": 5}, "order_by"),
        ("exp-ids-object", "runs/search", {"experiment_ids": {"a": 1}}, "experiment_ids"),
        ("model-name-int", "registered-models/create", {"name": 7}, "name"),
        ("model-tags-string", "registered-models/create", {"name": unique("m"), "tags": "x"},
         "tags"),
        ("archive-text", "model-versions/transition-stage",
         {"name": w["model"], "version": "1", "stage": "Staging",
          "archive_existing_versions": "yes"}, "archive_existing_versions"),
        ("logged-params-string", "logged-models",
         {"experiment_id": exp, "params": "x"}, "params"),
    ]


TYPE_IDS = [c[0] for c in type_cases({"run": "r", "exp": "0", "model": "m"})]


@pytest.mark.parametrize("case", TYPE_IDS)
def test_wrong_types_are_400(server, world, case):
    _, endpoint, body, part = next(c for c in type_cases(world) if c[0] == case)
    check_error(*post_raw(server, endpoint, body), 400, INVALID, part)


def test_double_encoded_body_with_wrong_type_is_400(server):
    body = json.dumps(json.dumps({"name": 5})).encode()
    check_error(*post_raw(server, "experiments/create", body), 400, INVALID, "'name'")


# --- log-batch limits ------------------------------------------------------------

def metric(i):
    return {"key": f"m{i}", "value": 1.0, "timestamp": 1, "step": i}


LIMITS = [
    ("1001-metrics", lambda: {"metrics": [metric(i) for i in range(1001)]}, "1000 metrics"),
    ("101-params", lambda: {"params": [{"key": f"p{i}", "value": "v"} for i in range(101)]},
     "100 params"),
    ("101-tags", lambda: {"tags": [{"key": f"t{i}", "value": "v"} for i in range(101)]},
     "100 tags"),
    ("1001-in-all", lambda: {"metrics": [metric(i) for i in range(901)],
                             "params": [{"key": f"p{i}", "value": "v"} for i in range(100)]},
     "1000"),
    ("duplicate-param", lambda: {"params": [{"key": "p", "value": "a"}, {"key": "p", "value": "b"}]},
     None),
    ("10k-metrics", lambda: {"metrics": [metric(i) for i in range(10000)]}, "1000 metrics"),
]


@pytest.mark.parametrize("make,part", [(c[1], c[2]) for c in LIMITS], ids=[c[0] for c in LIMITS])
def test_log_batch_limits(server, make, part):
    run = server.api("POST", "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    check_error(*post_raw(server, "runs/log-batch", {"run_id": run, **make()}), 400, INVALID, part)
    # nothing of a refused batch is written
    data = server.api("GET", "runs/get", params={"run_id": run})["run"]["data"]
    assert "metrics" not in data and "params" not in data, data


# --- invalid UTF-8 -----------------------------------------------------------------

UTF8_BODIES = [
    ("ff-byte", b'{"name": "a\xffb"}'),
    ("overlong-slash", b'{"name": "a\xc0\xafb"}'),
    ("surrogate-bytes", b'{"name": "a\xed\xa0\x80b"}'),
    ("truncated-sequence", b'{"name": "a\xe2\x82"}'),
    ("latin1-key", b'{"n\xe4me": "x", "name": "ok\xe9"}'),
]


@pytest.mark.parametrize("body", [c[1] for c in UTF8_BODIES], ids=[c[0] for c in UTF8_BODIES])
def test_invalid_utf8_in_json_body_is_400(server, body):
    check_error(*post_raw(server, "experiments/create", body), 400, INVALID)


UTF8_QUERIES = [
    ("escaped-ff", "experiments/get-by-name?experiment_name=a%FFb"),
    ("escaped-overlong", "experiments/get-by-name?experiment_name=%C0%AF"),
    ("escaped-surrogate", "runs/get?run_id=%ED%A0%80"),
    ("escaped-in-filter", "registered-models/search?filter=name%3D%27%FF%27"),
    ("escaped-in-key", "experiments/get?experiment_id=0&%FF=1"),
    ("raw-byte", "experiments/get-by-name?experiment_name=a\xffb"),
]


@pytest.mark.parametrize("target", [c[1] for c in UTF8_QUERIES], ids=[c[0] for c in UTF8_QUERIES])
def test_invalid_utf8_in_query_is_400(server, target):
    # sent byte for byte: http.client refuses a raw non-ASCII request line
    head = b"GET " + (API + target).encode("latin-1") + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as s:
        s.sendall(head)
        resp = http.client.HTTPResponse(s)
        resp.begin()
        status, headers, body = resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    check_error(status, headers, body, 400, INVALID)


def test_invalid_utf8_in_artifact_path_is_400(server):
    check_error(*raw_request(server, "PUT", f"{ART}/bad-utf8/a%FFb.txt", body=b"x"), 400, INVALID)
    check_error(*raw_request(server, "GET", f"{ART}?path=a%C0%AF"), 400, INVALID)


# --- NUL bytes -----------------------------------------------------------------------
# A JSON string may carry U+0000. MLflow's key rules refuse it in keys; for names, the
# C server must refuse it too (or keep it exactly): cutting the string at the NUL would
# make "a\0b" and "a\0c" the same key.

def nul_cases(w):
    run, exp = w["run"], w["exp"]
    return [
        ("param-key", "runs/log-parameter", {"run_id": run, "key": "nul\u0000p", "value": "v"}),
        ("metric-key", "runs/log-metric",
         {"run_id": run, "key": "nul\u0000m", "value": 1, "timestamp": 1}),
        ("tag-key", "runs/set-tag", {"run_id": run, "key": "nul\u0000t", "value": "v"}),
        ("batch-metric-key", "runs/log-batch",
         {"run_id": run, "metrics": [{"key": "nul\u0000b", "value": 1, "timestamp": 1}]}),
        ("batch-param-key", "runs/log-batch",
         {"run_id": run, "params": [{"key": "nul\u0000q", "value": "v"}]}),
        ("experiment-tag-key", "experiments/set-experiment-tag",
         {"experiment_id": exp, "key": "nul\u0000e", "value": "v"}),
        ("model-tag-key", "registered-models/set-tag",
         {"name": w["model"], "key": "nul\u0000r", "value": "v"}),
    ]


NUL_IDS = [c[0] for c in nul_cases({"run": "r", "exp": "0", "model": "m"})]


@pytest.mark.parametrize("case", NUL_IDS)
def test_nul_in_keys_is_refused(server, world, case):
    _, endpoint, body = next(c for c in nul_cases(world) if c[0] == case)
    check_error(*post_raw(server, endpoint, body), 400, INVALID)


@pytest.mark.parametrize("endpoint,table", [("experiments/create", "experiments"),
                                            ("registered-models/create", "registered_models")])
def test_nul_in_names_is_refused_or_kept_whole(server, endpoint, table):
    prefix = unique("nulname")
    status, headers, body = post_raw(server, endpoint, {"name": prefix + "\u0000tail"})
    never_5xx(status, body)
    stored = [r[0] for r in db_query(server, f"SELECT name FROM {table} WHERE name LIKE ?",
                                     (prefix + "%",))]
    if status == 400:
        check_error(status, headers, body, 400, INVALID)
        assert stored == []
    else:
        assert status == 200, body
        assert stored == [prefix + "\u0000tail"], f"name stored as {stored!r}: cut at the NUL"


def test_nul_in_the_path_is_refused_before_routing(server):
    """libmicrohttpd hands the decoded path over as a C string, so "%00" ended it early:
    `experiments/get%00junk` was served as experiments/get. Any route, before auth too."""
    for target in [API + "experiments/get%00junk?experiment_id=0",
                   "/static-files/%00/../api/2.0/mlflow/experiments/search",
                   "/api/2.0/mlflow-artifacts/artifacts/0/a%00b.txt", "/health%00"]:
        status, headers, answer = raw_request(server, "GET", target)
        check_error(status, headers, answer, 400, INVALID, "NUL character")
    assert server.get(API + "experiments/get", params={"experiment_id": "0"}).status_code == 200


def test_nul_in_query_values_never_matches_the_prefix(server):
    name = unique("nulquery")
    server.api("POST", "experiments/create", {"name": name})
    status, headers, body = raw_request(server, "GET",
                                API + f"experiments/get-by-name?experiment_name={name}%00junk")
    assert status in (400, 404), body
    check_error(status, headers, body, status, INVALID if status == 400 else "RESOURCE_DOES_NOT_EXIST")


# --- unknown enum values ---------------------------------------------------------------

def enum_cases(w):
    run, model = w["run"], w["model"]
    return [
        ("run-status-name", "POST", "runs/update", {"run_id": run, "status": "BOGUS"}, "status"),
        ("run-status-number", "POST", "runs/update", {"run_id": run, "status": 77}, "status"),
        ("run-status-lower", "POST", "runs/update", {"run_id": run, "status": "finished"}, "status"),
        ("view-type", "POST", "experiments/search", {"max_results": 1, "view_type": "NOPE"},
         "view_type"),
        ("run-view-type", "POST", "runs/search",
         {"experiment_ids": [w["exp"]], "run_view_type": "EVERYTHING"}, "run_view_type"),
        ("view-type-query", "GET", "experiments/search?max_results=1&view_type=NOPE", None,
         "view_type"),
        ("logged-model-status", "PATCH", f"logged-models/{w['logged_model']}",
         {"model_id": w["logged_model"], "status": "LOGGED_MODEL_DONE"}, "status"),
        ("stage", "POST", "model-versions/transition-stage",
         {"name": model, "version": "1", "stage": "Bogus", "archive_existing_versions": False},
         None),
        ("latest-stages", "POST", "registered-models/get-latest-versions",
         {"name": model, "stages": ["Bogus"]}, None),
    ]


ENUM_IDS = [c[0] for c in enum_cases({"run": "r", "exp": "0", "model": "m", "logged_model": "x"})]


@pytest.mark.parametrize("case", ENUM_IDS)
def test_unknown_enum_values_are_400(server, world, case):
    _, method, endpoint, body, part = next(c for c in enum_cases(world) if c[0] == case)
    data = json.dumps(body).encode() if body is not None else None
    check_error(*raw_request(server, method, API + endpoint, body=data, headers=JSON_CT), 400, INVALID, part)


# --- wrong methods and Content-Type -------------------------------------------------------

WRONG_METHODS = [
    ("GET", API + "runs/log-batch"), ("PUT", API + "runs/search"),
    ("PATCH", API + "experiments/get"), ("POST", API + "registered-models/search"),
    ("POST", API + "model-versions/search"), ("DELETE", API + "runs/create"),
    ("PUT", API + "registered-models/update"), ("DELETE", ART),
    ("PATCH", ART + "/a.txt"), ("GET", "/api/2.0/mlflow-artifacts/mpu/create/a"),
    ("POST", "/health"), ("DELETE", "/ajax-api/2.0/mlflow/experiments/get"),
]


@pytest.mark.parametrize("method,path", WRONG_METHODS)
def test_wrong_method_is_405_json(server, method, path):
    status, headers, body = raw_request(server, method, path, body=b"{}" if method != "GET" else None,
                                headers=JSON_CT)
    assert status == 405, body
    assert json.loads(body)["error_code"], body


CONTENT_TYPES = [
    ("missing", None, "Content-Type header is missing"),
    ("text-plain", "text/plain", "Content-Type must be one of ['application/json']"),
    ("form", "application/x-www-form-urlencoded", "Content-Type must be one of"),
    ("json-suffix", "application/jsonx", "Content-Type must be one of"),
    ("json-prefix", "application/json-patch+json", "Content-Type must be one of"),
    ("empty", "", None),
]


@pytest.mark.parametrize("ctype,part", [(c[1], c[2]) for c in CONTENT_TYPES],
                         ids=[c[0] for c in CONTENT_TYPES])
def test_post_without_json_content_type_is_400(server, ctype, part):
    headers = {} if ctype is None else {"Content-Type": ctype}
    body = json.dumps({"name": unique("ct")}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:  # http.client adds no Content-Type of its own
        conn.request("POST", API + "experiments/create", body=body, headers=headers)
        resp = conn.getresponse()
        answer = (resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()
    check_error(*answer, 400, INVALID, part)


def test_json_content_type_with_parameters_is_accepted(server):
    status, _, body = post_raw(server, "experiments/create", {"name": unique("ct")},
                               headers={"Content-Type": "application/json; charset=utf-8"})
    assert status == 200, body


# --- enormous max_results -----------------------------------------------------------------

MAX_RESULTS = [
    ("experiments-over", "POST", "experiments/search", {"max_results": 50001}, 400),
    ("experiments-huge", "POST", "experiments/search", {"max_results": 2 ** 62}, 400),
    ("experiments-negative", "POST", "experiments/search", {"max_results": -1}, 400),
    ("runs-over", "POST", "runs/search", {"experiment_ids": ["0"], "max_results": 50001}, 400),
    ("runs-int32-overflow", "POST", "runs/search",
     {"experiment_ids": ["0"], "max_results": 2 ** 32 + 5}, 400),
    ("runs-negative", "POST", "runs/search", {"experiment_ids": ["0"], "max_results": -5}, 400),
    ("models-over", "GET", "registered-models/search?max_results=1001", None, 400),
    ("models-huge", "GET", "registered-models/search?max_results=99999999999999999999", None, 400),
    ("versions-over", "GET", "model-versions/search?max_results=200001", None, 400),
    ("versions-negative", "GET", "model-versions/search?max_results=-1", None, 400),
    ("bulk-interval-over", "GET",
     "metrics/get-history-bulk-interval?run_ids={run}&metric_key=m&max_results=2501", None, 400),
    ("logged-models-huge", "POST", "logged-models/search",
     {"experiment_ids": ["0"], "max_results": 2 ** 40}, None),
    ("history-huge", "GET", "metrics/get-history?run_id={run}&metric_key=m&max_results=2147483647",
     None, None),
    ("history-int32-overflow", "GET",
     "metrics/get-history?run_id={run}&metric_key=m&max_results=99999999999", None, None),
]


@pytest.mark.parametrize("method,endpoint,body,want", [c[1:] for c in MAX_RESULTS],
                         ids=[c[0] for c in MAX_RESULTS])
def test_enormous_max_results(server, world, method, endpoint, body, want):
    """Out-of-range page sizes are a 400 where MLflow has a limit; never a 5xx, never a
    huge allocation (the request returns promptly and the server lives on)."""
    endpoint = endpoint.replace("{run}", world["run"])
    data = json.dumps(body).encode() if body is not None else None
    start = time.monotonic()
    status, headers, answer = raw_request(server, method, API + endpoint, body=data, headers=JSON_CT)
    assert time.monotonic() - start < 10
    if want == 400:
        check_error(status, headers, answer, 400, INVALID, "max_results")
    else:
        assert status in (200, 400), answer
    assert server.get("/health").status_code == 200


# --- steps: negative and extreme values are legal and stored exactly ----------------------

def test_negative_and_extreme_steps_are_stored_exactly(server):
    run = server.api("POST", "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    steps = [-5, -1, -(2 ** 63), 2 ** 63 - 1, 0]
    server.api("POST", "runs/log-metric",
               {"run_id": run, "key": "neg", "value": 1.0, "timestamp": 10, "step": -5})
    server.api("POST", "runs/log-batch", {"run_id": run, "metrics": [
        {"key": "neg", "value": float(i), "timestamp": 10 + i, "step": s}
        for i, s in enumerate(steps[1:], 1)]})
    history = server.api("GET", "metrics/get-history",
                         params={"run_id": run, "metric_key": "neg"})["metrics"]
    assert sorted(m["step"] for m in history) == sorted(steps)
    latest = server.api("GET", "runs/get", params={"run_id": run})["run"]["data"]["metrics"]
    assert [(m["key"], m["step"]) for m in latest] == [("neg", 2 ** 63 - 1)]
    # a run with only negative steps: the highest (closest to zero) is the latest
    run2 = server.api("POST", "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    server.api("POST", "runs/log-batch", {"run_id": run2, "metrics": [
        {"key": "k", "value": 1.0, "timestamp": 5, "step": -7},
        {"key": "k", "value": 2.0, "timestamp": 1, "step": -2}]})
    latest = server.api("GET", "runs/get", params={"run_id": run2})["run"]["data"]["metrics"]
    assert latest == [{"key": "k", "value": 2.0, "timestamp": 1, "step": -2}]
    rows = db_query(server, "SELECT step FROM metrics WHERE run_uuid = ? ORDER BY step", (run,))
    assert [r[0] for r in rows] == sorted(steps)


# --- oversized bodies and headers ----------------------------------------------------------

LIMIT = 65536


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("limited"), args=["--max-body-size", str(LIMIT)]).start()
    yield s
    try:
        s.stop()
    finally:
        s.drop_database()


def exchange(server, head, parts=(), wait=5.0):
    """Sends `head` and `parts` on a fresh socket without finishing the body; returns the
    answer's first bytes, or None when none came within `wait` seconds."""
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(head)
        for p in parts:
            s.sendall(p)
        s.settimeout(wait)
        data = b""
        try:
            while b"\r\n\r\n" not in data or len(data) < 64:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        except ConnectionResetError:
            pass
        return data or None


def head_of(path, extra=b""):
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n" + extra + b"\r\n")


def test_body_at_the_limit_is_read(limited):
    name = unique("limit")
    base = len(json.dumps({"name": name, "pad": ""}).encode())
    body = json.dumps({"name": name, "pad": "x" * (LIMIT - base)}).encode()
    assert len(body) == LIMIT
    status, _, answer = post_raw(limited, "experiments/create", body)
    assert status == 200, answer


def test_body_over_the_limit_is_413(limited):
    body = json.dumps({"name": "x", "pad": "x" * LIMIT}).encode()
    check_error(*post_raw(limited, "experiments/create", body), 413, INVALID, str(LIMIT))


def test_huge_content_length_is_answered_before_the_body(limited):
    """A declared length over the limit gets its 413 at once: the server does not wait
    for (or read) the terabyte it was promised."""
    start = time.monotonic()
    answer = exchange(limited, head_of(API + "runs/log-batch", b"Content-Length: 1000000000000\r\n"),
                      [b'{"run_id": "'], wait=5)
    assert answer is not None, "no answer within 5 s: the server waits for the whole body"
    assert time.monotonic() - start < 5
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"error_code":"INVALID_PARAMETER_VALUE"' in answer.replace(b" ", b"")
    assert limited.get("/health").status_code == 200


def test_chunked_body_over_the_limit_gets_413_when_it_ends(limited):
    """Without a Content-Length the server learns the size as it reads. libmicrohttpd
    answers only after the headers or after the whole body, so past the limit the rest
    is dropped (not kept) and the 413 comes when the client ends its body."""
    chunk = b"%x\r\n%s\r\n" % (8192, b"a" * 8192)
    answer = exchange(limited, head_of(API + "runs/log-batch", b"Transfer-Encoding: chunked\r\n"),
                      [chunk] * (LIMIT // 8192 + 4) + [b"0\r\n\r\n"], wait=5)
    assert answer is not None and answer.startswith(b"HTTP/1.1 413"), answer
    assert b'"error_code":"INVALID_PARAMETER_VALUE"' in answer.replace(b" ", b"")
    assert limited.get("/health").status_code == 200


def test_chunked_body_far_over_the_limit_is_cut_off(limited):
    """A client that keeps sending past the limit is hung up on after a bounded
    allowance (1 MiB), instead of being read for as long as it cares to send. What the
    client manages to send also counts what the two kernels buffer (the server's receive
    window grows to 6 MiB on Debian), so the bound allows for that — far below the 64 MiB
    the client tries to send."""
    chunk = b"%x\r\n%s\r\n" % (65536, b"a" * 65536)
    sent, cut_off = 0, False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        s.connect(("127.0.0.1", limited.port))
        s.sendall(head_of(API + "runs/log-batch", b"Transfer-Encoding: chunked\r\n"))
        s.settimeout(5)
        try:
            for _ in range((64 << 20) // 65536):
                s.sendall(chunk)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            cut_off = True
    assert cut_off, "the server read all 64 MiB of a refused body"
    assert sent < LIMIT + (12 << 20), f"the server read {sent} bytes of a refused body"
    assert limited.get("/health").status_code == 200


def test_artifact_uploads_are_not_bound_by_the_json_limit(limited):
    data = os.urandom(3 * LIMIT)
    status, _, body = raw_request(limited, "PUT", f"{ART}/big/upload.bin", body=data)
    assert status == 200, body
    status, _, body = raw_request(limited, "GET", f"{ART}/big/upload.bin")
    assert status == 200 and body == data


@pytest.mark.parametrize("kind", ["one-huge-header", "many-headers", "huge-url"])
def test_oversized_headers_are_refused_and_the_server_lives_on(server, kind):
    if kind == "one-huge-header":
        head = b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 400000 + b"\r\n\r\n"
    elif kind == "many-headers":
        head = (b"GET /health HTTP/1.1\r\nHost: localhost\r\n" +
                b"".join(b"X-H%d: value\r\n" % i for i in range(20000)) + b"\r\n")
    else:
        head = b"GET /api/2.0/mlflow/experiments/get?x=" + b"a" * 400000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"
    answer = exchange(server, head, wait=10)
    assert answer is not None
    status = int(answer.split(b" ", 2)[1])
    assert status in (413, 414, 431), answer[:200]
    assert server.get("/health").status_code == 200


def test_the_request_line_counts_toward_the_header_limit(server):
    """--max-header-size (32 KiB) bounds the request line and headers together, with MLflow's
    JSON error; a query string is no cheaper than a header."""
    path = "/api/2.0/mlflow/registered-models/search"
    r = server.get(path, params={"filter": "name = '" + "a" * (30 * 1024) + "'"})
    assert r.status_code == 200, r.text[:200]
    r = server.get(path, params={"filter": "name = '" + "a" * (40 * 1024) + "'"})
    assert r.status_code == 431
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "--max-header-size" in r.json()["message"]


# --- path traversal and symbolic links on every artifact route ----------------------------

TRAVERSAL_FORMS = [
    "../secret.txt", "a/../../secret.txt", "%2e%2e/secret.txt", "%2E%2E%2Fsecret.txt",
    "..%2Fsecret.txt", "%252e%252e%252fsecret.txt", "%25252e%25252e/secret.txt",
    "/etc/passwd", "%2Fetc%2Fpasswd", "%252Fetc%252Fpasswd", "..%5Csecret.txt",
    "a%5C..%5C..%5Csecret.txt", "a%00b", "C:%5Cwindows", "file:%2F%2F%2Fetc%2Fpasswd", "a%23b",
]


def artifact_route_patterns():
    """Every route of src/api/artifacts.c and every other route whose pattern or handler
    names artifacts: the list the traversal table below must cover."""
    out = set()
    for name in sorted(os.listdir(ROUTE_SOURCES)):
        if not name.endswith(".c"):
            continue
        with open(os.path.join(ROUTE_SOURCES, name)) as f:
            text = f.read()
        for method, pattern, rest in re.findall(
                r'\{\s*"(GET|POST|PUT|PATCH|DELETE)",\s*"([^"]+)",\s*([^}]*)\}', text):
            if name == "artifacts.c" or "artifact" in pattern:
                out.add((method, pattern))
    return out


def traversal_targets(w, form):
    """(route pattern, method, target, body) for every artifact route, with `form` in
    the client-supplied path."""
    run, model, lm = w["run"], w["model"], w["logged_model"]
    mpu = b'{"path": "f", "upload_id": "u", "parts": [], "num_parts": 1}'
    out = []
    for prefix in ("/api/", "/ajax-api/"):
        art = prefix + "2.0/mlflow-artifacts/artifacts"
        out += [
            ("GET", "2.0/mlflow-artifacts/artifacts/<path>", f"{art}/{form}", None),
            ("PUT", "2.0/mlflow-artifacts/artifacts/<path>", f"{art}/{form}", b"planted"),
            ("DELETE", "2.0/mlflow-artifacts/artifacts/<path>", f"{art}/{form}", None),
            ("GET", "2.0/mlflow-artifacts/artifacts", f"{art}?path={form}", None),
        ]
        for action in ("create", "complete", "abort"):
            out.append(("POST", f"2.0/mlflow-artifacts/mpu/{action}/<path>",
                        f"{prefix}2.0/mlflow-artifacts/mpu/{action}/{form}", mpu))
        out += [
            ("GET", "2.0/mlflow/artifacts/list",
             f"{prefix}2.0/mlflow/artifacts/list?run_id={run}&run_uuid={run}&path={form}", None),
            ("GET", "2.0/mlflow/logged-models/{model_id}/artifacts/directories",
             f"{prefix}2.0/mlflow/logged-models/{lm}/artifacts/directories"
             f"?artifact_directory_path={form}", None),
        ]
    out += [
        ("GET", "2.0/mlflow/logged-models/{model_id}/artifacts/files",
         f"/ajax-api/2.0/mlflow/logged-models/{lm}/artifacts/files?artifact_file_path={form}",
         None),
        ("POST", "2.0/mlflow/upload-artifact",
         f"/ajax-api/2.0/mlflow/upload-artifact?run_uuid={run}&path={form}", b"planted"),
        ("GET", "/get-artifact", f"/get-artifact?run_id={run}&path={form}", None),
        ("GET", "/model-versions/get-artifact",
         f"/model-versions/get-artifact?name={model}&version=1&path={form}", None),
    ]
    return out


@pytest.fixture(scope="module")
def outside(server, world):
    """A secret file beside the artifact destination, and a run folder to plant links in."""
    path = os.path.join(server.workdir, "secret.txt")
    with open(path, "wb") as f:
        f.write(SECRET)
    return path


def test_traversal_table_covers_every_artifact_route(world):
    covered = {(m, p) for m, p, _, _ in traversal_targets(world, "x")}
    missing = artifact_route_patterns() - covered
    assert not missing, f"artifact routes without traversal cases: {sorted(missing)}"


@pytest.mark.parametrize("form", TRAVERSAL_FORMS)
def test_traversal_is_refused_on_every_artifact_route(server, world, outside, form):
    for method, pattern, target, body in traversal_targets(world, form):
        headers = JSON_CT if method == "POST" and "mpu" in target else {}
        status, headers, answer = raw_request(server, method, target, body=body, headers=headers)
        assert SECRET not in answer, (target, answer[:200])
        # A NUL in the path or a query value is refused for the whole request, before routing.
        check_error(status, headers, answer, 400, INVALID, "NUL" if "%00" in form else "Invalid path")
    with open(outside, "rb") as f:
        assert f.read() == SECRET
    assert not os.path.exists(os.path.join(server.workdir, "planted"))


def test_symlinks_are_never_followed_on_any_artifact_route(server, world, outside):
    """Links planted inside the destination (by someone with shell access, or a restored
    backup) lead nowhere: reads find nothing, writes and deletes stay inside."""
    dest = os.path.join(server.workdir, "mlartifacts")
    run_dir = os.path.join(dest, world["exp"], world["run"], "artifacts")
    lm_dir = os.path.join(dest, world["exp"], "models", world["logged_model"], "artifacts")
    for d in (dest, run_dir, lm_dir, os.path.join(run_dir, "model")):
        os.makedirs(d, exist_ok=True)
    outside_dir = os.path.dirname(outside)
    links = [os.path.join(d, name) for d in (dest, run_dir, lm_dir, os.path.join(run_dir, "model"))
             for name in ("ln-dir", "ln-file")]
    for link in links:
        if not os.path.lexists(link):
            os.symlink(outside_dir if link.endswith("dir") else outside, link)
    for form in ("ln-dir/secret.txt", "ln-file", "ln-dir"):
        for method, _, target, body in traversal_targets(world, form):
            if method == "DELETE":
                continue  # below
            headers = JSON_CT if method == "POST" and "mpu" in target else {}
            status, _, answer = raw_request(server, method, target, body=body, headers=headers)
            if "mpu" not in target:  # multipart: 501 on a local destination (§8.2)
                never_5xx(status, answer)
            assert SECRET not in answer, (target, answer[:200])
            if status == 200 and method == "GET" and answer.startswith(b"{"):
                listed = [f["path"] for f in json.loads(answer).get("files", [])]
                assert not any("secret" in p or "ln-" in p for p in listed), (target, listed)
    assert not os.path.exists(os.path.join(outside_dir, "planted"))
    for method, _, target, _ in traversal_targets(world, "ln-dir/secret.txt"):
        if method == "DELETE":
            status, _, answer = raw_request(server, method, target)
            never_5xx(status, answer)
    with open(outside, "rb") as f:
        assert f.read() == SECRET
    # a run whose whole artifact folder is a link to the outside
    run2 = server.api("POST", "runs/create", {"experiment_id": world["exp"]})["run"]["info"]["run_id"]
    os.makedirs(os.path.join(dest, world["exp"], run2))
    os.symlink(outside_dir, os.path.join(dest, world["exp"], run2, "artifacts"))
    for target in (f"/get-artifact?run_id={run2}&path=secret.txt",
                   f"{API}artifacts/list?run_id={run2}&path=",
                   f"{ART}/{world['exp']}/{run2}/artifacts/secret.txt"):
        status, _, answer = raw_request(server, "GET", target)
        never_5xx(status, answer)
        assert SECRET not in answer, (target, answer[:200])
        if status == 200 and "list" in target:
            assert "secret.txt" not in [f["path"] for f in json.loads(answer).get("files", [])]


def test_dot_segment_before_a_drive_name(server):
    """'./C:/x' must not be accepted as 'C:/x', a name the gate itself refuses: the file
    could then never be listed, downloaded or deleted (found by fuzz_artifact_path)."""
    status, _, answer = raw_request(server, "PUT", f"{ART}/./C:/dot-drive.txt", body=b"x")
    if status == 400:
        return
    assert status == 200, answer
    listing = server.get(ART, params={"path": "C:"})
    assert listing.status_code == 200, listing.text
    assert [f["path"] for f in listing.json().get("files", [])] == ["dot-drive.txt"]
    assert server.delete(f"{ART}/C:/dot-drive.txt").status_code == 200


# --- SQL metacharacters in every filter field of every search endpoint ---------------------

META_VALUES = ["a'b", 'a"b', "a;b", "a--b", "a/*b*/", "a\\b", "a%b", "a_b", "axb", "a%%b",
               "'; DROP TABLE runs; --", "a\\%b", "a\\_b", "A_B", "plain", "%", "_"]


def quoted(value, double_ok=True):
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value and double_ok:
        return f'"{value}"'
    return None


def like(pattern, value):
    """SQL LIKE without an escape character (search-grammar.md §1), case-sensitive."""
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, re.S) is not None


def compare(op, stored, literal):
    if op == "=":
        return stored == literal
    if op == "!=":
        return stored != literal
    if op == "LIKE":
        return like(literal, stored)
    return like(literal.lower(), stored.lower())


OPS = ["=", "!=", "LIKE", "ILIKE"]


@pytest.fixture(scope="module")
def meta(server):
    """Entities whose values are the metacharacter strings, one per value, plus one
    entity without the key (it must never match a key clause, not even `!=`)."""
    tag = uuid.uuid4().hex[:8]
    m = {"tag": tag, "runs": {}, "exps": {}, "models": {}, "logged": {}, "run_attrs": {},
         "version_attrs": {}, "lm_attrs": {}}
    m["exp"] = server.api("POST", "experiments/create", {"name": f"meta-{tag}"})["experiment_id"]
    for i, v in enumerate(META_VALUES):
        info = server.api("POST", "runs/create", {"experiment_id": m["exp"], "run_name": v,
                                                  "user_id": v})["run"]["info"]
        run = info["run_id"]
        m["run_attrs"][run] = {"run_id": run, "status": "RUNNING",
                               "artifact_uri": info["artifact_uri"], "digest": f"d{i}-{tag}"}
        server.api("POST", "runs/log-batch", {"run_id": run, "params": [{"key": "p", "value": v}],
                                              "tags": [{"key": "t", "value": v}]})
        server.api("POST", "runs/log-inputs", {"run_id": run, "datasets": [{"dataset": {
            "name": v, "digest": f"d{i}-{tag}", "source_type": "local", "source": "x"}}]})
        m["runs"][run] = v
        exp = server.api("POST", "experiments/create",
                         {"name": f"meta-{tag}-{v}", "tags": [{"key": "t", "value": v}]})
        m["exps"][exp["experiment_id"]] = v
        name = f"meta-{tag}-{v}"
        server.api("POST", "registered-models/create", {"name": name,
                                                        "tags": [{"key": "t", "value": v}]})
        source = f"mlflow-artifacts:/{m['exp']}/{run}/artifacts/model"
        server.api("POST", "model-versions/create", {
            "name": name, "source": source, "run_id": run, "tags": [{"key": "t", "value": v}]})
        m["models"][name] = v
        m["version_attrs"][name] = {"run_id": run, "source": source}
        info = server.api("POST", "logged-models", {
            "experiment_id": m["exp"], "params": [{"key": "p", "value": v}],
            "tags": [{"key": "t", "value": v}]})["model"]["info"]
        lm = info["model_id"]
        m["logged"][lm] = v
        m["lm_attrs"][lm] = {"name": info["name"], "model_id": lm,
                             "artifact_location": info["artifact_uri"], "lifecycle_stage": "active"}
    info = server.api("POST", "runs/create", {
        "experiment_id": m["exp"], "run_name": "bare", "user_id": "bare"})["run"]["info"]
    m["bare_run"] = info["run_id"]
    m["run_attrs"][info["run_id"]] = {"run_id": info["run_id"], "status": "RUNNING",
                                      "artifact_uri": info["artifact_uri"], "digest": None}
    info = server.api("POST", "logged-models", {"experiment_id": m["exp"]})["model"]["info"]
    m["bare_lm"] = info["model_id"]
    m["lm_attrs"][info["model_id"]] = {"name": info["name"], "model_id": info["model_id"],
                                       "artifact_location": info["artifact_uri"],
                                       "lifecycle_stage": "active"}
    return m


def search_runs(server, m, flt):
    status, headers, body = post_raw(server, "runs/search", {
        "experiment_ids": [m["exp"]], "filter": flt, "max_results": 1000})
    ids = {r["info"]["run_id"] for r in json.loads(body).get("runs", [])} if status == 200 else None
    return status, headers, body, ids


def search_experiments(server, m, flt):
    status, headers, body = post_raw(server, "experiments/search",
                                     {"filter": flt, "max_results": 50000, "view_type": "ALL"})
    ids = ({e["experiment_id"] for e in json.loads(body).get("experiments", [])} & set(m["exps"])
           if status == 200 else None)
    return status, headers, body, ids


def search_models(server, m, flt):
    status, headers, body = raw_request(server, "GET", API + "registered-models/search?" +
                                urlencode({"filter": flt, "max_results": 1000}))
    ids = ({r["name"] for r in json.loads(body).get("registered_models", [])} & set(m["models"])
           if status == 200 else None)
    return status, headers, body, ids


def search_versions(server, m, flt):
    status, headers, body = raw_request(server, "GET", API + "model-versions/search?" +
                                urlencode({"filter": flt, "max_results": 10000}))
    ids = ({r["name"] for r in json.loads(body).get("model_versions", [])} & set(m["models"])
           if status == 200 else None)
    return status, headers, body, ids


def search_logged(server, m, flt):
    status, headers, body = post_raw(server, "logged-models/search", {
        "experiment_ids": [m["exp"]], "filter": flt, "max_results": 1000})
    ids = ({x["info"]["model_id"] for x in json.loads(body).get("models", [])}
           if status == 200 else None)
    return status, headers, body, ids


def urlencode(params):
    return urllib.parse.urlencode(params)


def field_table(m):
    """(search, identifier, {entity: stored value or None}, double quotes allowed)."""
    prefix = f"meta-{m['tag']}-"
    runs = dict(m["runs"])
    runs_bare = {**runs, m["bare_run"]: None}
    lms = {**m["logged"], m["bare_lm"]: None}
    return [
        ("runs", "params.p", search_runs, runs_bare, "", True),
        ("runs", "tags.t", search_runs, runs_bare, "", True),
        ("runs", "attributes.run_name", search_runs, {**runs, m["bare_run"]: "bare"}, "", True),
        ("runs", "attributes.user_id", search_runs, {**runs, m["bare_run"]: "bare"}, "", True),
        ("runs", "datasets.name", search_runs, runs_bare, "", True),
        ("experiments", "name", search_experiments,
         {e: prefix + v for e, v in m["exps"].items()}, prefix, True),
        ("experiments", "tags.t", search_experiments, dict(m["exps"]), "", True),
        ("registered-models", "name", search_models,
         {n: n for n in m["models"]}, prefix, True),
        ("registered-models", "tags.t", search_models, dict(m["models"]), "", True),
        ("model-versions", "name", search_versions, {n: n for n in m["models"]}, prefix, True),
        ("model-versions", "tags.t", search_versions, dict(m["models"]), "", True),
        ("logged-models", "params.p", search_logged, lms, "", False),
        ("logged-models", "tags.t", search_logged, lms, "", False),
    ] + [
        ("runs", f"attributes.{a}", search_runs, {r: v[a] for r, v in m["run_attrs"].items()},
         "", True) for a in ("run_id", "status", "artifact_uri")
    ] + [
        ("runs", "datasets.digest", search_runs,
         {r: v["digest"] for r, v in m["run_attrs"].items()}, "", True),
        ("runs", "datasets.context", search_runs, {r: None for r in m["run_attrs"]}, "", True),
        ("model-versions", "run_id", search_versions,
         {n: v["run_id"] for n, v in m["version_attrs"].items()}, "", True),
        ("model-versions", "source_path", search_versions,
         {n: v["source"] for n, v in m["version_attrs"].items()}, "", True),
    ] + [
        ("logged-models", a, search_logged, {k: v[a] for k, v in m["lm_attrs"].items()}, "",
         False) for a in ("name", "model_id", "artifact_location", "lifecycle_stage")
    ] + [
        ("logged-models", a, search_logged, {k: None for k in m["lm_attrs"]}, "", False)
        for a in ("model_type", "source_run_id", "status_message")
    ]


FIELD_IDS = ["runs-params", "runs-tags", "runs-run_name", "runs-user_id", "runs-datasets.name",
             "experiments-name", "experiments-tags", "models-name", "models-tags",
             "versions-name", "versions-tags", "logged-params", "logged-tags",
             "runs-run_id", "runs-status", "runs-artifact_uri", "runs-datasets.digest",
             "runs-datasets.context", "versions-run_id", "versions-source_path",
             "logged-name", "logged-model_id", "logged-artifact_location",
             "logged-lifecycle_stage", "logged-model_type", "logged-source_run_id",
             "logged-status_message"]


@pytest.mark.parametrize("field", range(len(FIELD_IDS)), ids=FIELD_IDS)
def test_sql_metacharacters_match_literally(server, meta, field):
    """Each value, quoted the way the grammar allows, selects exactly the entities a
    literal comparison (or LIKE without an escape character) selects."""
    entity, ident, search, stored, prefix, double_ok = field_table(meta)[field]
    failures = []
    for value in META_VALUES:
        literal = prefix + value
        q = quoted(literal, double_ok)
        if q is None:
            continue
        for op in OPS:
            flt = f"{ident} {op} {q}"
            status, headers, body, got = search(server, meta, flt)
            if status != 200:
                failures.append((flt, status, body[:200]))
                continue
            want = {k for k, v in stored.items() if v is not None and compare(op, v, literal)}
            if got != want:
                failures.append((flt, "got", sorted(stored[k] for k in got),
                                 "want", sorted(stored[k] for k in want)))
    assert not failures, "\n".join(map(repr, failures[:20])) + f"\n({len(failures)} in all)"


INJECTIONS = [
    "params.p = 'x' OR '1'='1'", "params.p = 'x'; DELETE FROM runs", "params.p = 'x' --",
    "params.p = 'x' /*", "params.p = 'a'b'", "params.p = \"a'b", "params.p = a'b",
    "params.`p'; DROP TABLE runs; --` = 'x'", "tags.\"t\" = 'x\\'", "params.p LIKE '%' ESCAPE '\\'",
    "attributes.run_name IN ('a''b')", "params.p = 'zz' UNION SELECT run_uuid FROM runs",
    "metrics.m > 0 OR 1=1", "metrics.m > 1e999999", "attributes.start_time > '1; --'",
    "datasets.name = 'x') OR ('1'='1",
]


@pytest.mark.parametrize("search_name", ["runs", "experiments", "registered-models",
                                         "model-versions", "logged-models"])
def test_injection_attempts_are_400_or_match_nothing_extra(server, meta, search_name):
    """Illegal filters are a 400; a filter the grammar happens to accept may select
    only entities whose values literally satisfy it — here: none of them."""
    search = {"runs": search_runs, "experiments": search_experiments,
              "registered-models": search_models, "model-versions": search_versions,
              "logged-models": search_logged}[search_name]
    for flt in INJECTIONS:
        if search_name != "runs":
            flt = flt.replace("params.p", "name" if search_name != "logged-models" else "params.p")
        status, headers, body, got = search(server, meta, flt)
        never_5xx(status, body)
        if status == 400:
            check_error(status, headers, body, 400, INVALID)
        else:
            assert status == 200 and not got, (flt, got)
    # the tables are intact
    assert len(db_query(server, "SELECT run_uuid FROM runs WHERE experiment_id = ?",
                        (int(meta["exp"]),))) == len(META_VALUES) + 1


@pytest.mark.parametrize("order_by", [
    "params.`a'b` DESC", "params.p; DROP TABLE runs", "params.p -- x", "params.p /* */ ASC",
    "tags.\"t'\" ASC", "attributes.start_time DESC, (SELECT 1)", "metrics.`m\\` ASC"])
def test_metacharacters_in_order_by_are_400_or_harmless(server, meta, order_by):
    status, headers, body = post_raw(server, "runs/search", {
        "experiment_ids": [meta["exp"]], "order_by": [order_by], "max_results": 1000})
    never_5xx(status, body)
    if status == 200:
        assert len(json.loads(body)["runs"]) == len(META_VALUES) + 1
    else:
        check_error(status, headers, body, 400, INVALID)
    status, headers, body = raw_request(server, "GET", API + "registered-models/search?" +
                                urlencode({"order_by": order_by}))
    never_5xx(status, body)


@pytest.mark.parametrize("token", ["'; --", "eyJvZmZzZXQiOiAiMTsgLS0ifQ==",
                                   "eyJvZmZzZXQiOiAiMScgT1IgJzEnPScxIn0=", "%00", "\\"])
def test_metacharacters_in_page_tokens_are_400(server, meta, token):
    for status, headers, body in [
            post_raw(server, "runs/search", {"experiment_ids": [meta["exp"]], "page_token": token}),
            post_raw(server, "experiments/search", {"max_results": 10, "page_token": token}),
            raw_request(server, "GET", API + "registered-models/search?" + urlencode({"page_token": token})),
            post_raw(server, "logged-models/search",
                     {"experiment_ids": [meta["exp"]], "page_token": token})]:
        check_error(status, headers, body, 400, INVALID)
