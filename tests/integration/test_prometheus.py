"""/metrics in Prometheus' text format (like `mlflow server --expose-prometheus`): request
counters by route pattern, method and status, latency histograms, auth decisions and the
tracking DB pool; and the --health-port listener that serves /health, /ready and /metrics
without credentials on its own address (R-HELM-4, R-HELM-9)."""
import re

import pytest
import requests

from conftest import free_port
from test_auth_helpers import start_auth_server

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')


def parse(text):
    """{(name, frozenset(labels)): value}; also checks every line is valid exposition."""
    samples, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        base = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
        assert m.group(1) in typed or base in typed, f"no # TYPE for {m.group(1)}"
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


ROUTE = "/api/2.0/mlflow/experiments/get"


def test_counters_move_after_requests(server):
    r = server.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    before = parse(r.text)
    for _ in range(3):
        server.get("/api/2.0/mlflow/experiments/get", {"experiment_id": "0"})
    server.get("/api/2.0/mlflow/experiments/get", {"experiment_id": "424242"})
    server.get("/api/2.0/mlflow/no/such/route")
    after = parse(server.get("/metrics").text)
    ok = dict(method="GET", route=ROUTE, status="200")
    assert value(after, "mlflowd_http_requests_total", **ok) - \
        value(before, "mlflowd_http_requests_total", **ok) == 3
    missing = dict(method="GET", route=ROUTE, status="404")
    assert value(after, "mlflowd_http_requests_total", **missing) - \
        value(before, "mlflowd_http_requests_total", **missing) == 1
    assert value(after, "mlflowd_http_requests_total", method="GET", route="unmatched",
                 status="404") >= 1
    # the histogram covers every status of the route; buckets are cumulative
    count = value(after, "mlflowd_http_request_duration_seconds_count", method="GET", route=ROUTE)
    assert count - value(before, "mlflowd_http_request_duration_seconds_count", method="GET",
                         route=ROUTE) == 4
    assert value(after, "mlflowd_http_request_duration_seconds_bucket", method="GET", route=ROUTE,
                 le="+Inf") == count
    buckets = sorted((float(dict(k[1])["le"]), v) for k, v in after.items()
                     if k[0] == "mlflowd_http_request_duration_seconds_bucket"
                     and dict(k[1])["route"] == ROUTE)
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)
    assert value(after, "mlflowd_http_request_duration_seconds_sum", method="GET", route=ROUTE) > 0
    assert value(after, "mlflowd_db_pool_size") == 4
    assert value(after, "mlflowd_db_pool_connections", state="in_use") + \
        value(after, "mlflowd_db_pool_connections", state="idle") == 4
    assert value(after, "mlflowd_build_info", version="0.1.0") == 1


def test_health_port_serves_probes_and_metrics_without_auth(tmp_path):
    health_port = free_port()
    s = start_auth_server(tmp_path, args=["--health-port", str(health_port),
                                          "--health-host", "127.0.0.1"])
    try:
        health = f"http://127.0.0.1:{health_port}"
        assert requests.get(health + "/health", timeout=10).text == "OK"
        r = requests.get(health + "/ready", timeout=10)
        assert r.status_code == 200 and r.json() == {"status": "ready"}
        assert requests.get(health + "/api/2.0/mlflow/experiments/search",
                            timeout=10).status_code == 404
        # on the API port, /metrics is behind auth like everything else
        assert requests.get(s.url + "/metrics", timeout=10).status_code == 401
        before = parse(requests.get(health + "/metrics", timeout=10).text)
        requests.get(s.url + "/api/2.0/mlflow/experiments/search", timeout=10)  # no credentials
        requests.get(s.url + "/api/2.0/mlflow/experiments/search", auth=("admin", "nope"),
                     timeout=10)
        ok = requests.get(s.url + "/api/2.0/mlflow/experiments/search",
                          params={"max_results": 1}, auth=("admin", "password1234"), timeout=10)
        assert ok.status_code == 200
        after = parse(requests.get(health + "/metrics", timeout=10).text)
        for decision, moved in (("unauthenticated", 2), ("allowed", 1)):
            assert value(after, "mlflowd_auth_decisions_total", decision=decision) - \
                value(before, "mlflowd_auth_decisions_total", decision=decision) == moved, decision
    finally:
        s.stop()
        s.drop_database()


@pytest.mark.parametrize("bad", ["70000", "x"])
def test_bad_health_port_is_refused(make_server, bad):
    with pytest.raises(RuntimeError, match="health-port"):
        make_server(args=["--health-port", bad])
