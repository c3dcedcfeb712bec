#!/usr/bin/env python3
"""mlflowd benchmarks: each figure printed next to its target.

Starts the release binary on a fresh SQLite database in a temp dir, drives it
over loopback HTTP with stdlib-only client processes (so the client's GIL is
not what we measure), prints a table, and stops. Not a test: it never fails
on a slow figure, it reports it.

    /usr/bin/python3 bench/run.py --bin build/release/mlflowd [--only NAME ...]
"""
import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

RESULTS = []
PREFIX = ""  # "PostgreSQL: " in the --pg run
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """A keep-alive HTTP/1.1 client, one per process."""

    def __init__(self, port, user=None, password=None, headers=None):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.auth = dict(headers or {})
        if user:
            import base64
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.auth = {"Authorization": "Basic " + token}

    def send(self, method, path, body, headers):
        """The response; a connection the server closed while it sat idle between requests
        (--keep-alive-timeout) is opened again, as urllib3 does."""
        try:
            self.conn.request(method, path, body=body, headers=headers)
            return self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.conn.close()
            self.conn.request(method, path, body=body, headers=headers)
            return self.conn.getresponse()

    def raw(self, method, path, body):
        """The answer's bytes, not parsed: for timing the server alone."""
        resp = self.send(method, path, json.dumps(body).encode(),
                         {"Content-Type": "application/json", **self.auth})
        payload = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path} -> {resp.status} {payload[:300]!r}")
        return payload

    def call(self, method, path, body=None, params=None):
        if params:
            from urllib.parse import urlencode
            path += "?" + urlencode(params, doseq=True)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        headers.update(self.auth)
        resp = self.send(method, path, data, headers)
        payload = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path} -> {resp.status} {payload[:300]!r}")
        return json.loads(payload) if payload and payload[:1] in (b"{", b"[") else payload

    def api(self, method, endpoint, body=None, params=None):
        return self.call(method, "/api/2.0/mlflow/" + endpoint, body, params)


def search_p50(c, body, repeats):
    """The median of `repeats` timed runs/search calls, in ms (the answer parsed, as the
    mlflow client does)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        c.api("POST", "runs/search", body)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def report(name, value, unit, target, better="higher"):
    ok = value >= target if better == "higher" else value <= target
    name = PREFIX + name
    RESULTS.append((name, value, unit, target, better, ok))
    cmp = ">=" if better == "higher" else "<="
    print(f"  {name:<58} {value:>12,.1f} {unit:<10} target {cmp} {target:,} {unit}  "
          f"{'OK' if ok else 'BELOW TARGET'}", flush=True)


def start_server(binary, workdir, port, args=(), env=None):
    log = open(os.path.join(workdir, "server.log"), "wb")
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary, "server", "--port", str(port), "--quiet",
                             "--backend-store-uri", f"sqlite:///{workdir}/mlflow.db",
                             "--artifacts-destination", f"{workdir}/artifacts", *args],
                            cwd=workdir, stdout=log, stderr=log,
                            env=dict(os.environ, **(env or {})))
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return proc, (time.perf_counter() - t0) * 1000
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("server exited: " + open(os.path.join(workdir, "server.log")).read())
        time.sleep(0.0005)


def cpu_seconds(pid):
    """User + system CPU the process has used, all its threads (ended ones too), to the
    nanosecond: the process's CPU-time clock (clock_getcpuclockid's id: ~pid << 3 | 2).
    /proc/<pid>/stat counts 10 ms ticks, a 1% error on a 1-second measurement."""
    try:
        return time.clock_gettime(((~pid) << 3) | 2)
    except OSError:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# --- workloads (module-level so multiprocessing can pickle them) -----------

def _log_batch_worker(args):
    port, run_id, batches, offset = args
    c = Client(port)
    ts = int(time.time() * 1000)
    for b in range(batches):
        step0 = (offset + b) * 1000
        metrics = [{"key": f"m{i % 10}", "value": i * 0.5, "timestamp": ts, "step": step0 + i}
                   for i in range(1000)]
        c.api("POST", "runs/log-batch", {"run_id": run_id, "metrics": metrics})
    return batches * 1000


def _create_run_worker(args):
    port, exp_id, seconds = args
    c = Client(port)
    n = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        c.api("POST", "runs/create", {"experiment_id": exp_id, "start_time": int(time.time() * 1000),
                                      "tags": [{"key": "mlflow.user", "value": "bench"}]})
        n += 1
    return n


def _populate_worker(args):
    port, exp_id, count, seed, independent = args
    c = Client(port)
    for i in range(count):
        run = c.api("POST", "runs/create", {"experiment_id": exp_id, "start_time": 1_700_000_000_000 + seed * count + i})
        rid = run["run"]["info"]["run_id"]
        v = ((seed * count + i) * 7919) % 10007 / 10007.0
        metrics = [{"key": "accuracy", "value": v, "timestamp": 1, "step": 0},
                   {"key": "loss", "value": 1 - v, "timestamp": 1, "step": 0}]
        if independent:  # f1 and latency: independent of each other and of the rest
            rnd = random.Random(seed * count + i)
            metrics += [{"key": "f1", "value": rnd.random(), "timestamp": 1, "step": 0},
                        {"key": "latency", "value": rnd.random(), "timestamp": 1, "step": 0}]
        c.api("POST", "runs/log-batch", {
            "run_id": rid,
            "metrics": metrics,
            "params": [{"key": "lr", "value": str(v)}, {"key": "model", "value": f"m{i % 5}"}],
            "tags": [{"key": "team", "value": f"t{i % 3}"}]})
    return count


def bench_log_batch(port, clients=4, batches=25, target=80_000):
    c = Client(port)
    exp = c.api("POST", "experiments/create", {"name": "bench-log-batch"})["experiment_id"]
    runs = [c.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
            for _ in range(clients)]
    _log_batch_worker((port, runs[0], 2, 10_000))  # warm-up
    with mp.Pool(clients) as pool:
        t0 = time.perf_counter()
        points = sum(pool.map(_log_batch_worker, [(port, runs[i], batches, 0) for i in range(clients)]))
        dt = time.perf_counter() - t0
    report(f"log-batch 1000 metrics ({clients} clients)", points / dt, "points/s", target)
    t0 = time.perf_counter()
    points = _log_batch_worker((port, runs[0], batches, 100))
    report("log-batch 1000 metrics (1 client)", points / (time.perf_counter() - t0), "points/s",
           target)
    # Other batch shapes, one client, for reference: every point under its own key (each key's
    # latest value is written too), and a batch of params and tags as autologging sends.
    shapes = [("log-batch 1000 metrics under 1000 keys", lambda r, b: {
                   "run_id": r, "metrics": [{"key": f"k{i}", "value": i, "timestamp": 1, "step": b}
                                            for i in range(1000)]}),
              ("log-batch 100 params + 100 tags + 50 metrics", lambda r, b: {
                   "run_id": r, "params": [{"key": f"p{i}", "value": str(i)} for i in range(100)],
                   "tags": [{"key": f"t{i}", "value": str(b)} for i in range(100)],
                   "metrics": [{"key": f"m{i}", "value": i, "timestamp": 1, "step": b}
                               for i in range(50)]})]
    for label, body in shapes:
        times = []
        for b in range(20):
            run = c.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
            payload = body(run, b)
            t0 = time.perf_counter()
            c.api("POST", "runs/log-batch", payload)
            times.append((time.perf_counter() - t0) * 1000)
        print(f"  {PREFIX + label + ', p50':<58} {statistics.median(times):>12,.1f} ms"
              "         (for reference)")


def bench_create_run(port, clients=8, seconds=5):
    c = Client(port)
    exp = c.api("POST", "experiments/create", {"name": "bench-create-run"})["experiment_id"]
    with mp.Pool(clients) as pool:
        t0 = time.perf_counter()
        n = sum(pool.map(_create_run_worker, [(port, exp, seconds)] * clients))
        dt = time.perf_counter() - t0
    report(f"create-run ({clients} clients)", n / dt, "runs/s", 1_500)


def admin_db(uri, sql):
    import psycopg2
    conn = psycopg2.connect(uri)
    conn.autocommit = True
    conn.cursor().execute(sql)
    conn.close()


def bench_search_runs(port, runs=10_000, clients=8, repeats=50, target_ms=10, before=None,
                      independent=False):
    """`independent` (the PostgreSQL run) adds two metrics of independent values to every run
    and a shape on them; the SQLite run keeps the data its figure has always been taken on."""
    c = Client(port)
    exp = c.api("POST", "experiments/create", {"name": "bench-search"})["experiment_id"]
    per = runs // clients
    with mp.Pool(clients) as pool:
        pool.map(_populate_worker, [(port, exp, per, s, independent) for s in range(clients)])
    if before:  # e.g. PostgreSQL's VACUUM ANALYZE, as autovacuum does after a bulk load
        before()
    for max_results, target in ((100, target_ms), (1000, None)):
        body = {"experiment_ids": [exp], "filter": "metrics.accuracy > 0.5 and params.model = 'm1'",
                "order_by": ["metrics.loss DESC"], "max_results": max_results}
        got = c.api("POST", "runs/search", body)
        assert got.get("runs"), "search returned no runs"
        if max_results == 100:
            loaded = wait_for_cache(c, port, body)
            if loaded is not None:
                print(f"  {PREFIX + 'run-search cache: loaded after the first search in':<58} "
                      f"{loaded:>12,.2f} s          (for reference)")
        p50 = search_p50(c, body, repeats)
        name = f"search-runs filter+order over {runs:,} runs, page {max_results}, p50"
        if target:
            report(name, p50, "ms", target, better="lower")
        else:
            print(f"  {PREFIX + name:<58} {p50:>12,.1f} ms         (for reference)")
    # Other shapes, page 100, for reference: in this data loss = 1 - accuracy, so a filter on
    # accuracy keeps exactly the runs of lowest loss (the head of an ascending order, the tail
    # of the descending one above); f1 and latency are independent random values.
    shapes = [("the same, ascending (filter keeps the head)",
               "metrics.accuracy > 0.5 and params.model = 'm1'", "metrics.loss ASC")]
    if independent:
        shapes.append(("the same shape, independent values (a tenth kept)",
                       "metrics.f1 > 0.5 and params.model = 'm1'", "metrics.latency DESC"))
    shapes += [("one metric filter, order on another", "metrics.accuracy > 0.5",
                "metrics.loss DESC"),
               ("param filter, metric order", "params.model = 'm1'", "metrics.loss DESC"),
               ("filter on the sorted metric", "metrics.accuracy > 0.1", "metrics.accuracy DESC")]
    for label, filter, order in shapes:
        body = {"experiment_ids": [exp], "filter": filter, "order_by": [order], "max_results": 100}
        if wait_for_cache(c, port, body) is None:
            c.api("POST", "runs/search", body)
        p50 = search_p50(c, body, repeats // 2)
        print(f"  {PREFIX + 'search-runs ' + label:<58} {p50:>12,.1f} ms"
              "         (for reference)")
    # mlflow.search_runs() reads whole experiments in pages of 10,000 runs. Timed to the last
    # byte, without parsing the ~6.7 MB answer here.
    body = {"experiment_ids": [exp], "max_results": 10_000}
    c.raw("POST", "/api/2.0/mlflow/runs/search", body)
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        c.raw("POST", "/api/2.0/mlflow/runs/search", body)
        times.append((time.perf_counter() - t0) * 1000)
    print(f"  {PREFIX + 'search-runs, a page of 10,000 runs (search_runs)':<58} "
          f"{statistics.median(times):>12,.1f} ms         (for reference)")
    return exp


def cache_hits(port):
    """The run-search cache's hit counter on /metrics, or None (SQLite, or the cache off)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    for line in text.splitlines():
        if line.startswith('mlflowd_search_cache_searches_total{result="hit"}'):
            return int(line.split()[-1])
    return None


def wait_for_cache(c, port, body):
    """PostgreSQL's run-search cache loads what a search reads in the background after the
    first one (the database answers meanwhile): the search is asked again until the cache
    answers it. Seconds that took, or None without the cache (or a search it never takes)."""
    if cache_hits(port) is None:
        return None
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 60:
        before = cache_hits(port)
        c.api("POST", "runs/search", body)
        if cache_hits(port) > before:
            return time.perf_counter() - t0
        time.sleep(0.02)
    return None


def bench_search_without_cache(binary, workdir, db_uri, exp, repeats=30):
    """The headline search on a second server over the same database with the run-search
    cache off: what the SQL alone takes, for reference."""
    port = free_port()
    workdir = os.path.join(workdir, "without-cache")
    os.makedirs(workdir, exist_ok=True)
    proc, _ = start_server(binary, workdir, port, ["--backend-store-uri", db_uri,
                                                   "--search-cache-mb", "0"])
    try:
        c = Client(port)
        body = {"experiment_ids": [exp], "filter": "metrics.accuracy > 0.5 and params.model = 'm1'",
                "order_by": ["metrics.loss DESC"], "max_results": 100}
        c.api("POST", "runs/search", body)
        print(f"  {PREFIX + 'the same search without the run-search cache, p50':<58} "
              f"{search_p50(c, body, repeats):>12,.1f} ms         (for reference)")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()


def bench_search_among_experiments(port, db_uri, exp, repeats=20):
    """A database where other experiments log the same keys, as most do: four copies of the
    benchmark's experiment (100,000 runs each) and one of a tenth of it are added by SQL
    (minutes by the API), then the searches above run in the original experiment and in the
    small one. PostgreSQL reads one experiment's entries through mlflowd's per-experiment
    indexes; without them these took 120-300 ms."""
    c = Client(port)
    others = [c.api("POST", "experiments/create", {"name": f"bench-search-copy-{i}"})["experiment_id"]
              for i in range(5)]
    copies = ", ".join(f"({int(e)}, {'NULL' if i < 4 else 10_000})" for i, e in enumerate(others))
    admin_db(db_uri, f"""
        CREATE TEMP TABLE copy AS SELECT r.run_uuid AS old, c.exp,
               md5(r.run_uuid || c.exp) AS new
          FROM (VALUES {copies}) AS c(exp, lim)
          CROSS JOIN LATERAL (SELECT run_uuid FROM runs WHERE experiment_id = {int(exp)}
                              ORDER BY run_uuid LIMIT c.lim) r;
        INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id,
                          status, start_time, end_time, source_version, lifecycle_stage,
                          artifact_uri, experiment_id)
          SELECT c.new, r.name, r.source_type, r.source_name, r.entry_point_name, r.user_id,
                 r.status, r.start_time, r.end_time, r.source_version, r.lifecycle_stage,
                 r.artifact_uri, c.exp FROM runs r JOIN copy c ON c.old = r.run_uuid;
        INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)
          SELECT l.key, l.value, l.timestamp, l.step, l.is_nan, c.new
          FROM latest_metrics l JOIN copy c ON c.old = l.run_uuid;
        INSERT INTO params (key, value, run_uuid)
          SELECT p.key, p.value, c.new FROM params p JOIN copy c ON c.old = p.run_uuid;
        INSERT INTO tags (key, value, run_uuid)
          SELECT t.key, t.value, c.new FROM tags t JOIN copy c ON c.old = t.run_uuid;""")
    admin_db(db_uri, "VACUUM ANALYZE")
    shapes = [("metrics.accuracy > 0.5 and params.model = 'm1'", "metrics.loss DESC"),
              ("metrics.f1 > 0.5 and params.model = 'm1'", "metrics.latency DESC")]
    for where, label in ((exp, "100,000"), (others[-1], "10,000")):
        for filter, order in shapes:
            body = {"experiment_ids": [where], "filter": filter, "order_by": [order],
                    "max_results": 100}
            c.api("POST", "runs/search", body)
            wait_for_cache(c, port, body)
            kind = "independent" if "f1" in filter else "the figure's"
            print(f"  {PREFIX + f'search-runs in {label} of 510,000 runs, {kind} shape':<58} "
                  f"{search_p50(c, body, repeats):>12,.1f} ms         (for reference)")


def bench_metric_history(port, points=100_000, repeats=10):
    c = Client(port)
    exp = c.api("POST", "experiments/create", {"name": "bench-history"})["experiment_id"]
    rid = c.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
    for b in range(points // 1000):
        c.api("POST", "runs/log-batch", {"run_id": rid, "metrics": [
            {"key": "loss", "value": 1.0 / (b * 1000 + i + 1), "timestamp": 1_700_000_000_000 + b * 1000 + i,
             "step": b * 1000 + i} for i in range(1000)]})
    from urllib.parse import urlencode

    def fetch(params):
        """One GET, timed to the last byte received; JSON parsing is not timed (it is the
        client's cost, ~15 ms per 25k points in CPython, not the server's)."""
        resp = c.send("GET", "/api/2.0/mlflow/metrics/get-history?" + urlencode(params), None, {})
        raw = resp.read()
        assert resp.status == 200, raw[:200]
        return raw

    # The figure is the client's: MlflowClient.get_metric_history asks for pages of
    # 25,000 (GET_METRIC_HISTORY_MAX_RESULTS) and follows next_page_token.
    for label, page_size in (("paged as the client does, 25,000 a page", 25000),
                             ("single fetch", None)):
        times = []
        for _ in range(repeats):
            token, bodies, elapsed = None, [], 0.0
            while True:  # as MlflowClient.get_metric_history pages
                params = {"run_id": rid, "run_uuid": rid, "metric_key": "loss"}
                if page_size:
                    params["max_results"] = page_size
                if token:
                    params["page_token"] = token
                t0 = time.perf_counter()
                raw = fetch(params)
                elapsed += time.perf_counter() - t0
                page = json.loads(raw)
                bodies.append(len(page.get("metrics", [])))
                token = page.get("next_page_token")
                if not token:
                    break
            times.append(elapsed * 1000)
            assert sum(bodies) == points, bodies
        report(f"metric history of {points:,} points ({label}), p50", statistics.median(times),
               "ms", 60, better="lower")
        best = f"  best of {repeats} ({len(bodies)} request(s) each)"
        print(f"  {PREFIX + best:<58} {min(times):>12,.1f} ms         (for reference)")


def _timed_gets_worker(args):
    port, user, password, path, seconds, headers = args
    c = Client(port, user, password, headers)
    n = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        c.call("GET", path)
        n += 1
    return n


def _registry_populate_worker(args):
    port, first, count, versions = args
    c = Client(port)
    for i in range(first, first + count):
        name = f"model-{i:05d}"
        c.api("POST", "registered-models/create", {"name": name, "tags": [
            {"key": "team", "value": f"t{i % 4}"}, {"key": "stage", "value": f"s{i % 3}"},
            {"key": "framework", "value": f"f{i % 5}"}, {"key": "owner", "value": f"o{i % 7}"}]})
        for v in range(versions):
            c.api("POST", "model-versions/create", {"name": name, "source": f"s3://bucket/{name}/{v}"})
    return count


def bench_registry(port, models=5_000, versions_per_model=10, repeats=100):
    with mp.Pool(8) as pool:
        per = models // 8
        pool.map(_registry_populate_worker,
                 [(port, k * per, per, versions_per_model) for k in range(8)])
    c = Client(port)

    def p50(method, endpoint, params):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            c.api(method, endpoint, params=params)
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)

    got = c.api("GET", "registered-models/search", params={
        "filter": "tags.team = 't1' AND tags.stage = 's2' AND tags.framework = 'f3'",
        "max_results": 100})
    assert got.get("registered_models"), got
    report(f"registered-model search, 3 tag filters over {models:,} models, p50",
           p50("GET", "registered-models/search", {
               "filter": "tags.team = 't1' AND tags.stage = 's2' AND tags.framework = 'f3'",
               "max_results": 100}), "ms", 5, better="lower")
    report(f"model-version search by name over {models * versions_per_model:,} versions, p50",
           p50("GET", "model-versions/search", {"filter": "name = 'model-01234'",
                                                "max_results": 10000}), "ms", 10, better="lower")


def _create_experiments_worker(args):
    port, user, password, first, count = args
    c = Client(port, user, password)
    return [c.api("POST", "experiments/create", {"name": f"exp-{i:05d}"})["experiment_id"]
            for i in range(first, first + count)]


def _cpu_per_request(targets, pairs, path, clients, seconds, rounds):
    """Server CPU time per request for each target (label -> (port, pid, user, password,
    headers)), in rounds that take the targets in turn, so the machine's background load falls
    on each alike. Each (label, baseline) of `pairs` is measured back to back, in alternating
    order, and its cost is the median over rounds of that round's ratio: the machine's speed
    drifts by more than the cost measured, but not within a pair. Returns ({label: median
    us/request}, {label: median req/s}, {label: median cost in %})."""
    cpu, rate = {label: [] for label in targets}, {label: [] for label in targets}
    costs = {label: [] for label, _ in pairs}
    with mp.Pool(clients) as pool:
        def measure(label):
            port, pid, user, pw, headers = targets[label]
            c0, t0 = cpu_seconds(pid), time.perf_counter()
            n = sum(pool.map(_timed_gets_worker,
                             [(port, user, pw, path, seconds, headers)] * clients))
            rate[label].append(n / (time.perf_counter() - t0))
            cpu[label].append((cpu_seconds(pid) - c0) / n * 1e6)
            return cpu[label][-1]

        for r in range(rounds):
            paired = set()
            for label, base in pairs:
                first, second = (base, label) if r % 2 == 0 else (label, base)
                got = {first: measure(first), second: measure(second)}
                costs[label].append((got[label] / got[base] - 1) * 100)
                paired.update((label, base))
            for label in targets:
                if label not in paired:
                    measure(label)
    med = lambda d: {k: statistics.median(v) for k, v in d.items()}
    return med(cpu), med(rate), med(costs)


def _start_fake_issuer(workdir):
    """tests/tools-oidc/fake-issuer.mjs (Keycloak's paths for realm `test`) on a free port."""
    subprocess.run([os.path.join(REPO, "scripts", "oidc-test-tools.sh"), "install"], check=True)
    tools = os.path.join(REPO, "tests", "tools-oidc")
    port = free_port()
    log = open(os.path.join(workdir, "fake-issuer.log"), "ab")
    proc = subprocess.Popen(["node", os.path.join(tools, "fake-issuer.mjs"), str(port)],
                            stdout=log, stderr=log, cwd=tools)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/control/counts", timeout=1).read()
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the fake issuer did not start")


def _issuer_call(base, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(base + path, data=data), timeout=10) as r:
        return json.loads(r.read())


def bench_auth(port, binary, workdir, server_pid, clients=8, seconds=1.5, rounds=11,
               experiments=10_000, readable=100):
    """What authentication costs on a small request — Basic (basic-auth) and an OIDC bearer
    token (single sign-on, role-mapped) — and an in-SQL filtered search. The cost is the
    server's CPU time per request against the same request with auth off, which the 8 client
    processes sharing these 2 cores do not blur as they do throughput."""
    auth_dir = os.path.join(workdir, "auth")
    os.makedirs(auth_dir)
    ini = os.path.join(auth_dir, "basic_auth.ini")
    with open(ini, "w") as f:
        f.write("[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
                f"database_uri = sqlite:///{auth_dir}/basic_auth.db\n"
                "admin_username = admin\nadmin_password = password1234\n")
    auth_port = free_port()
    proc, _ = start_server(binary, auth_dir, auth_port, ["--app-name", "basic-auth"],
                           {"MLFLOW_AUTH_CONFIG_PATH": ini,
                            "MLFLOW_FLASK_SERVER_SECRET_KEY": "bench-secret"})
    sso_dir = os.path.join(workdir, "sso")
    os.makedirs(sso_dir)
    issuer_proc, issuer_base = _start_fake_issuer(sso_dir)
    sso_ini = os.path.join(sso_dir, "auth.ini")
    with open(sso_ini, "w") as f:
        f.write("[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
                f"database_uri = sqlite:///{sso_dir}/basic_auth.db\n"
                "admin_username = admin\nadmin_password = password1234\n"
                "authorization_function = mlflowd:sso\n\n[role_mappings]\nREAD = viewer\n\n"
                f"[sso]\nmodes = bearer\nissuer = {issuer_base}/realms/test\naudiences = mlflow\n")
    sso_port = free_port()
    sso_proc, _ = start_server(binary, sso_dir, sso_port, ["--app-name", "basic-auth"],
                               {"MLFLOW_AUTH_CONFIG_PATH": sso_ini,
                                "MLFLOW_FLASK_SERVER_SECRET_KEY": "bench-secret"})
    try:
        admin = Client(auth_port, "admin", "password1234")
        admin.call("POST", "/api/2.0/mlflow/users/create",
                   {"username": "reader", "password": "reader-password-1"})
        exp = "0"  # the Default experiment: the same small request on all three servers
        admin.api("POST", "experiments/permissions/create",
                  {"experiment_id": exp, "username": "reader", "permission": "READ"})
        token = _issuer_call(issuer_base, "/control/mint", {"claims": {
            "preferred_username": "viewer-user", "sub": "sub-viewer-user",
            "realm_access": {"roles": ["viewer"]}}})["token"]
        bearer = {"Authorization": "Bearer " + token}
        path = f"/api/2.0/mlflow/experiments/get?experiment_id={exp}"
        Client(sso_port, headers=bearer).call("GET", path)  # warm-up: JWKS fetched once
        jwks_before = _issuer_call(issuer_base, "/control/counts")["jwks"]
        # "The same request with auth off": the auth-off server gets the very same bytes,
        # credentials included (it ignores them), so the difference is what checking costs,
        # not what carrying a 1 KB token through the kernel and the HTTP parser costs.
        cpu, rates, costs = _cpu_per_request(
            {"off": (port, server_pid, None, None, None),
             "off+basic": (port, server_pid, "reader", "reader-password-1", None),
             "basic": (auth_port, proc.pid, "reader", "reader-password-1", None),
             "off+bearer": (port, server_pid, None, None, bearer),
             "bearer": (sso_port, sso_proc.pid, None, None, bearer)},
            [("basic", "off+basic"), ("bearer", "off+bearer")],
            path, clients, seconds, rounds)
        jwks_fetches = _issuer_call(issuer_base, "/control/counts")["jwks"] - jwks_before
        for label, name in (("basic", "basic-auth"), ("bearer", "bearer token (SSO)")):
            report(f"{name} cost on a small GET at {clients} clients, server CPU "
                   f"({cpu[label]:.1f} vs {cpu['off+' + label]:.1f} us/request)",
                   max(costs[label], 0.0), "%", 5, better="lower")
        print(f"  {'  auth off, no credentials sent (for reference)':<58} "
              f"{cpu['off']:>12,.1f} us/request")
        print(f"  {'  throughput off / basic / bearer (for reference)':<58} "
              f"{rates['off+basic']:>12,.0f} / {rates['basic']:,.0f} / "
              f"{rates['bearer']:,.0f} req/s")
        report("JWKS fetches on the request path after warm-up", jwks_fetches, "", 0,
               better="lower")
        with mp.Pool(8) as pool:
            per = experiments // 8
            ids = sum(pool.map(_create_experiments_worker,
                               [(auth_port, "admin", "password1234", k * per, per)
                                for k in range(8)]), [])
        for eid in ids[::len(ids) // readable][:readable]:
            admin.api("POST", "experiments/permissions/create",
                      {"experiment_id": eid, "username": "reader", "permission": "READ"})
        reader = Client(auth_port, "reader", "reader-password-1")
        body = {"max_results": 100, "filter": "name LIKE 'exp-%'"}
        got = reader.api("POST", "experiments/search", body)
        assert len(got.get("experiments", [])) == 100, len(got.get("experiments", []))
        times = []
        for _ in range(50):
            t0 = time.perf_counter()
            reader.api("POST", "experiments/search", body)
            times.append((time.perf_counter() - t0) * 1000)
        report(f"filtered experiment search, {readable} of {experiments:,} readable, p50",
               statistics.median(times), "ms", 10, better="lower")
    finally:
        for p in (proc, sso_proc):
            p.send_signal(signal.SIGTERM)
            p.wait()
        issuer_proc.terminate()
        issuer_proc.wait()


def _artifact_round_trip(port, server_pid, size_mb, stored=None):
    """PUT then GET of size_mb MiB through the proxy, with the server's RSS sampled every
    10 ms throughout; `stored(path)` (optional) checks where the upload landed before the
    download. Returns (upload MB/s, download MB/s, peak RSS MB)."""
    block = os.urandom(1 << 20)
    peak = [rss_mb(server_pid)]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(server_pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        path = "/api/2.0/mlflow-artifacts/artifacts/bench/big.bin"
        t0 = time.perf_counter()
        conn.putrequest("PUT", path)
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(size_mb << 20))
        conn.endheaders()
        for _ in range(size_mb):
            conn.send(block)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, resp.status
        up = size_mb / (time.perf_counter() - t0)
        if stored:
            stored("bench/big.bin")
        t0 = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        got = 0
        while True:
            chunk = resp.read(1 << 20)
            if not chunk:
                break
            got += len(chunk)
        down = size_mb / (time.perf_counter() - t0)
        assert resp.status == 200 and got == size_mb << 20, (resp.status, got)
        conn.request("DELETE", path)
        conn.getresponse().read()
    finally:
        done.set()
        sampler.join()
    return up, down, peak[0]


def bench_artifacts(port, server_pid, size_mb=1024):
    """A 1 GiB artifact up and down through the proxy (local destination), with the
    server's peak RSS sampled throughout: the body must stream, never sit in memory."""
    up, down, peak = _artifact_round_trip(port, server_pid, size_mb)
    report(f"artifact upload of {size_mb:,} MiB through the proxy (local disk)", up, "MB/s", 300)
    report(f"artifact download of {size_mb:,} MiB through the proxy (local disk)", down, "MB/s",
           300)
    report("server peak RSS during the 1 GiB transfers", peak, "MB", 64, better="lower")


def bench_artifacts_s3(binary, size_mb=1024):
    """The same 1 GiB round trip with an S3 destination: s3rver (started here as
    tests/integration/conftest.py does, on a free port, and stopped afterwards) behind a
    second mlflowd of its own. The figure that matters is mlflowd's peak RSS (uploads are
    spooled to $TMPDIR, then sent in 16 MiB parts; downloads stream); s3rver, in Node,
    sets the pace, so the throughputs are for reference."""
    import urllib.request
    binary = os.path.abspath(binary)  # start_server runs it from its workdir
    tools = os.path.join(REPO, "tests", "tools")
    workdir = tempfile.mkdtemp(prefix="mlflowd-bench-s3-")
    s3rver = proc = None
    try:
        subprocess.run([os.path.join(REPO, "scripts", "s3-test-server.sh"), "install"],
                       check=True, stdout=subprocess.DEVNULL)
        s3_port = free_port()
        log = open(os.path.join(workdir, "s3rver.log"), "wb")
        # s3rver makes continuation tokens with DES: OpenSSL 3 has it in the legacy provider only.
        s3rver = subprocess.Popen(
            ["node", "--openssl-legacy-provider", os.path.join(tools, "node_modules", ".bin", "s3rver"),
             "-d", os.path.join(workdir, "s3"), "-a", "127.0.0.1", "-p", str(s3_port),
             "--configure-bucket", "mlflow", "-s"], stdout=log, stderr=log)
        endpoint = f"http://127.0.0.1:{s3_port}"
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(endpoint + "/mlflow/", timeout=1).read()
                break
            except OSError as e:
                if getattr(e, "code", None):  # an HTTP answer: it is up
                    break
                if s3rver.poll() is not None or time.time() > deadline:
                    raise RuntimeError("s3rver did not start: " +
                                       open(os.path.join(workdir, "s3rver.log")).read())
                time.sleep(0.05)
        env = {"MLFLOW_S3_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "S3RVER",
               "AWS_SECRET_ACCESS_KEY": "S3RVER", "AWS_DEFAULT_REGION": "us-east-1",
               "TMPDIR": workdir}  # the upload spool
        port = free_port()
        proc, _ = start_server(binary, workdir, port,
                               ["--artifacts-destination", "s3://mlflow/artifacts"], env)

        def stored(path):
            req = urllib.request.Request(f"{endpoint}/mlflow/artifacts/{path}", method="HEAD")
            with urllib.request.urlopen(req, timeout=60) as r:
                assert int(r.headers["Content-Length"]) == size_mb << 20, r.headers

        up, down, peak = _artifact_round_trip(port, proc.pid, size_mb, stored)
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
        if s3rver:
            s3rver.terminate()
            try:
                s3rver.wait(timeout=10)
            except subprocess.TimeoutExpired:
                s3rver.kill()
                s3rver.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    for name, value in ((f"artifact upload of {size_mb:,} MiB through the proxy to S3 (s3rver)", up),
                        (f"artifact download of {size_mb:,} MiB through the proxy from S3", down)):
        print(f"  {PREFIX + name:<58} {value:>12,.1f} MB/s       (for reference)")
    report("server peak RSS during the 1 GiB transfers to S3", peak, "MB", 64, better="lower")


BENCHES = {
    "log_batch": bench_log_batch,
    "create_run": bench_create_run,
    "search_runs": bench_search_runs,
    "metric_history": bench_metric_history,
    "registry": bench_registry,
    "auth": bench_auth,
    "artifacts": bench_artifacts,
    "artifacts_s3": bench_artifacts_s3,
}


def run_postgres(binary):
    """The PostgreSQL figures of the scale-out issue, on the throw-away cluster of
    scripts/pg-test-server.sh (started and stopped here)."""
    global PREFIX
    import psycopg2  # Debian's python3-psycopg2 (scripts/install-deps.sh)
    script = os.path.join(REPO, "scripts", "pg-test-server.sh")
    admin_uri = subprocess.check_output([script, "start"]).decode().strip()
    name = f"mlflowd_bench_{os.getpid()}"
    workdir = tempfile.mkdtemp(prefix="mlflowd-bench-pg-")
    proc = None
    try:
        admin = psycopg2.connect(admin_uri)
        admin.autocommit = True
        admin.cursor().execute(f"CREATE DATABASE {name}")
        db_uri = admin_uri.rsplit("/", 1)[0] + "/" + name
        port = free_port()
        proc, _ = start_server(binary, workdir, port, ["--backend-store-uri", db_uri, "--workers", "8"])
        PREFIX = "PostgreSQL: "
        print(f"mlflowd benchmarks on PostgreSQL 15 ({os.cpu_count()} cores)")
        bench_log_batch(port, target=60_000)
        exp = bench_search_runs(port, runs=100_000, target_ms=20, independent=True,
                                before=lambda: admin_db(db_uri, "VACUUM ANALYZE"))
        bench_search_without_cache(binary, workdir, db_uri, exp)
        bench_search_among_experiments(port, db_uri, exp)
    finally:
        PREFIX = ""
        if proc:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
        try:
            admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.close()
        finally:
            subprocess.run([script, "stop"], check=False)
            shutil.rmtree(workdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--only", nargs="*", choices=sorted(BENCHES))
    ap.add_argument("--pg", action="store_true", help="run the PostgreSQL benchmarks instead")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)  # the servers run from their own work directories
    if args.pg:
        run_postgres(args.bin)
        below = [r for r in RESULTS if not r[5]]
        print(f"{len(RESULTS) - len(below)} of {len(RESULTS)} figures meet their targets")
        return
    workdir = tempfile.mkdtemp(prefix="mlflowd-bench-")
    print(f"mlflowd benchmarks ({os.cpu_count()} cores, SQLite in {workdir})")
    try:
        startups = []
        for i in range(5):
            d = os.path.join(workdir, f"startup{i}")
            os.makedirs(d)
            proc, ms = start_server(args.bin, d, free_port())
            startups.append(ms)
            proc.send_signal(signal.SIGTERM)
            proc.wait()
        report("start-up to first 200 on /health (fresh DB), median", statistics.median(startups),
               "ms", 50, better="lower")
        port = free_port()
        proc, _ = start_server(args.bin, workdir, port)
        time.sleep(0.5)
        report("idle RSS after start-up", rss_mb(proc.pid), "MB", 15, better="lower")
        try:
            for name, fn in BENCHES.items():
                if not args.only or name in args.only:
                    if name == "auth":
                        fn(port, args.bin, workdir, proc.pid)
                    elif name == "artifacts":
                        fn(port, proc.pid)
                    elif name == "artifacts_s3":
                        fn(args.bin)  # its own mlflowd, pointed at s3rver
                    else:
                        fn(port)
            print(f"  {'RSS after the benchmarks':<58} {rss_mb(proc.pid):>12,.1f} MB         (for reference)")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    below = [r for r in RESULTS if not r[5]]
    print(f"{len(RESULTS) - len(below)} of {len(RESULTS)} figures meet their targets")


if __name__ == "__main__":
    main()
