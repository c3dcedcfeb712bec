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
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

RESULTS = []
PREFIX = ""  # "PostgreSQL: " in the --pg run
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """A keep-alive HTTP/1.1 client, one per process."""

    def __init__(self, port, user=None, password=None):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.auth = {}
        if user:
            import base64
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.auth = {"Authorization": "Basic " + token}

    def call(self, method, path, body=None, params=None):
        if params:
            from urllib.parse import urlencode
            path += "?" + urlencode(params, doseq=True)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        headers.update(self.auth)
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        payload = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path} -> {resp.status} {payload[:300]!r}")
        return json.loads(payload) if payload and payload[:1] in (b"{", b"[") else payload

    def api(self, method, endpoint, body=None, params=None):
        return self.call(method, "/api/2.0/mlflow/" + endpoint, body, params)


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
    """User + system CPU the process has used."""
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
    port, exp_id, count, seed = args
    c = Client(port)
    for i in range(count):
        run = c.api("POST", "runs/create", {"experiment_id": exp_id, "start_time": 1_700_000_000_000 + seed * count + i})
        rid = run["run"]["info"]["run_id"]
        v = ((seed * count + i) * 7919) % 10007 / 10007.0
        c.api("POST", "runs/log-batch", {
            "run_id": rid,
            "metrics": [{"key": "accuracy", "value": v, "timestamp": 1, "step": 0},
                        {"key": "loss", "value": 1 - v, "timestamp": 1, "step": 0}],
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


def bench_search_runs(port, runs=10_000, clients=8, repeats=50, target_ms=10, before=None):
    c = Client(port)
    exp = c.api("POST", "experiments/create", {"name": "bench-search"})["experiment_id"]
    per = runs // clients
    with mp.Pool(clients) as pool:
        pool.map(_populate_worker, [(port, exp, per, s) for s in range(clients)])
    if before:  # e.g. PostgreSQL's ANALYZE, as autovacuum would do after a bulk load
        before()
    for max_results, target in ((100, target_ms), (1000, None)):
        body = {"experiment_ids": [exp], "filter": "metrics.accuracy > 0.5 and params.model = 'm1'",
                "order_by": ["metrics.loss DESC"], "max_results": max_results}
        got = c.api("POST", "runs/search", body)
        assert got.get("runs"), "search returned no runs"
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            c.api("POST", "runs/search", body)
            times.append((time.perf_counter() - t0) * 1000)
        name = f"search-runs filter+order over {runs:,} runs, page {max_results}, p50"
        if target:
            report(name, statistics.median(times), "ms", target, better="lower")
        else:
            print(f"  {PREFIX + name:<58} {statistics.median(times):>12,.1f} ms         (for reference)")


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
        c.conn.request("GET", "/api/2.0/mlflow/metrics/get-history?" + urlencode(params))
        resp = c.conn.getresponse()
        raw = resp.read()
        assert resp.status == 200, raw[:200]
        return raw

    for label, page_size in (("client paging, 25,000 a page", 25000), ("one request", None)):
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


def _timed_gets_worker(args):
    port, user, password, path, seconds = args
    c = Client(port, user, password)
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


def bench_auth(port, binary, workdir, server_pid, clients=8, seconds=6, experiments=10_000,
               readable=100):
    """Basic-auth overhead on a small request, and an in-SQL filtered search. The cost is
    measured as the server's CPU time per request (auth on vs off), which the 8 client
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
    try:
        admin = Client(auth_port, "admin", "password1234")
        admin.call("POST", "/api/2.0/mlflow/users/create",
                   {"username": "reader", "password": "reader-password-1"})
        exp = admin.api("POST", "experiments/create", {"name": "small"})["experiment_id"]
        admin.api("POST", "experiments/permissions/create",
                  {"experiment_id": exp, "username": "reader", "permission": "READ"})
        Client(port).api("POST", "experiments/create", {"name": "small"})
        path = f"/api/2.0/mlflow/experiments/get?experiment_id={exp}"
        rates, cpu_per_request = {}, {}
        for label, p, pid, user, pw in (("off", port, server_pid, None, None),
                                        ("on", auth_port, proc.pid, "reader", "reader-password-1")):
            with mp.Pool(clients) as pool:
                c0, t0 = cpu_seconds(pid), time.perf_counter()
                n = sum(pool.map(_timed_gets_worker, [(p, user, pw, path, seconds)] * clients))
                rates[label] = n / (time.perf_counter() - t0)
                cpu_per_request[label] = (cpu_seconds(pid) - c0) / n * 1e6
        cost = (cpu_per_request["on"] / cpu_per_request["off"] - 1) * 100
        report(f"basic-auth cost on a small GET at {clients} clients, server CPU "
               f"({cpu_per_request['on']:.0f} vs {cpu_per_request['off']:.0f} us/request)",
               max(cost, 0.0), "%", 5, better="lower")
        print(f"  {'  throughput with auth / without (for reference)':<58} "
              f"{rates['on']:>12,.0f} / {rates['off']:,.0f} req/s")
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
        proc.send_signal(signal.SIGTERM)
        proc.wait()


def bench_artifacts(port, server_pid, size_mb=1024):
    """A 1 GiB artifact up and down through the proxy (local destination), with the
    server's peak RSS sampled throughout: the body must stream, never sit in memory."""
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
        assert got == size_mb << 20, got
        conn.request("DELETE", path)
        conn.getresponse().read()
    finally:
        done.set()
        sampler.join()
    report(f"artifact upload of {size_mb:,} MiB through the proxy (local disk)", up, "MB/s", 300)
    report(f"artifact download of {size_mb:,} MiB through the proxy (local disk)", down, "MB/s",
           300)
    report("server peak RSS during the 1 GiB transfers", peak[0], "MB", 64, better="lower")


BENCHES = {
    "log_batch": bench_log_batch,
    "create_run": bench_create_run,
    "search_runs": bench_search_runs,
    "metric_history": bench_metric_history,
    "registry": bench_registry,
    "auth": bench_auth,
    "artifacts": bench_artifacts,
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
        bench_search_runs(port, runs=100_000, target_ms=20,
                          before=lambda: admin_db(db_uri, "ANALYZE"))
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
