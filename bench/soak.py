#!/usr/bin/env python3
"""Soak: a fixed number of mixed reads and writes over many keep-alive connections,
with the server's memory watched. Used by `make soak` (minutes, nightly-style) and by
tests/integration/test_soak.py (a brief run in CI against the ASan build).

What it checks, and fails on:
  * every request answers 200 (no error, no reset, no timeout);
  * RSS stays flat: after a warm-up, the largest RSS of the last quarter of the run is
    at most the largest of the first quarter x 1.5 + a few MB (VmRSS from
    /proc/<pid>/status, sampled every 100 ms);
  * when it started the server itself (--bin): a clean exit on SIGTERM and no
    AddressSanitizer / LeakSanitizer / UBSan report in its log.

The load is stdlib only: one thread per connection, each with its own http.client
keep-alive connection and its own run, doing a weighted mix of log-batch (unique
steps), log-metric, set-tag, run/experiment reads, searches, metric history, registry
searches and small artifact uploads/downloads/listings. Per-request cost stays bounded
(searches and histories are paged) so a flat RSS is the right expectation.

    /usr/bin/python3 bench/soak.py --bin build/test/mlflowd --requests 200000
    /usr/bin/python3 bench/soak.py --port 5000 --pid 1234 --requests 20000
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

API = "/api/2.0/mlflow/"
ART = "/api/2.0/mlflow-artifacts/artifacts/"
# ASan keeps freed memory in a quarantine (256 MB by default) that fills over minutes
# and would read as growth; a small one keeps use-after-free detection and a flat RSS.
SOAK_ASAN_OPTIONS = ("detect_leaks=1:abort_on_error=0:quarantine_size_mb=16:"
                     "thread_local_quarantine_size_kb=256:malloc_context_size=10")


class Failure(Exception):
    pass


class Worker(threading.Thread):
    """One connection; runs its share of the operations."""

    def __init__(self, index, port, n_requests, setup, seed, stats):
        super().__init__(daemon=True)
        self.index, self.port, self.n = index, port, n_requests
        self.setup, self.stats = setup, stats
        self.rng = random.Random(seed * 1000 + index)
        self.conn = None
        self.runs = [setup["runs"][index]]
        self.step = 0
        self.files = []
        self.errors = []
        self.latencies = {}

    def connect(self):
        if self.conn:
            self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def call(self, op, method, path, body=None, params=None, raw=None, ctype=None):
        if params:
            path += "?" + urllib.parse.urlencode(params, doseq=True)
        data, headers = None, {}
        if body is not None:
            data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
        elif raw is not None:
            data, headers = raw, {"Content-Type": ctype or "application/octet-stream"}
        start = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            payload = resp.read()
        except (OSError, http.client.HTTPException) as e:
            self.errors.append(f"{op}: {type(e).__name__}: {e}")
            self.connect()
            return None
        self.latencies.setdefault(op, []).append(time.perf_counter() - start)
        if resp.status != 200:
            self.errors.append(f"{op}: {method} {path[:120]} -> {resp.status} {payload[:200]!r}")
            return None
        if resp.getheader("Connection", "").lower() == "close":
            self.connect()
        return payload

    # --- the operations (name, weight) -------------------------------------------
    def op_log_batch(self):
        run = self.rng.choice(self.runs)
        self.step += 1
        step = self.index * 10_000_000 + self.step
        body = {"run_id": run, "metrics": [
            {"key": f"m{k}", "value": self.rng.random(), "timestamp": 1_700_000_000_000 + step,
             "step": step} for k in range(10)]}
        if self.step % 5 == 0:
            body["params"] = [{"key": f"p{step}", "value": "x" * 50}]
            body["tags"] = [{"key": "phase", "value": str(step % 7)}]
        self.call("log-batch", "POST", API + "runs/log-batch", body)

    def op_log_metric(self):
        self.step += 1
        self.call("log-metric", "POST", API + "runs/log-metric", {
            "run_id": self.rng.choice(self.runs), "key": "loss", "value": self.rng.random(),
            "timestamp": 1_700_000_000_000 + self.step,
            "step": self.index * 10_000_000 + self.step})

    def op_set_tag(self):
        run = self.rng.choice(self.runs)
        self.call("set-tag", "POST", API + "runs/set-tag", {
            "run_id": run, "run_uuid": run, "key": "note", "value": f"v{self.rng.random()}"})

    def op_get_run(self):
        run = self.rng.choice(self.setup["runs"])
        self.call("get-run", "GET", API + "runs/get", params={"run_id": run, "run_uuid": run})

    def op_search_runs(self):
        flt = self.rng.choice(["", "metrics.m1 > 0.5", "tags.phase = '3'",
                               "attributes.status = 'RUNNING'", "params.p5 = 'x'"])
        self.call("search-runs", "POST", API + "runs/search", {
            "experiment_ids": [self.setup["exp"]], "filter": flt, "max_results": 25,
            "order_by": [self.rng.choice(["metrics.m2 DESC", "start_time DESC", "tags.phase"])]})

    def op_history(self):
        self.call("history", "GET", API + "metrics/get-history", params={
            "run_id": self.rng.choice(self.setup["runs"]),
            "metric_key": f"m{self.rng.randrange(10)}", "max_results": 100})

    def op_search_experiments(self):
        self.call("search-exps", "POST", API + "experiments/search",
                  {"max_results": 100, "filter": "name LIKE 'soak%'"})

    def op_get_experiment(self):
        self.call("get-exp", "GET", API + "experiments/get",
                  params={"experiment_id": self.setup["exp"]})

    def op_registry(self):
        if self.rng.random() < 0.5:
            self.call("search-models", "GET", API + "registered-models/search",
                      params={"filter": "name LIKE 'soak%'", "max_results": 50})
        else:
            self.call("get-version", "GET", API + "model-versions/get",
                      params={"name": self.setup["model"], "version": "1"})

    def op_artifact_put(self):
        name = f"{self.setup['exp']}/soak/{self.index}/f{len(self.files)}.txt"
        if self.call("artifact-put", "PUT", ART + name, raw=os.urandom(512).hex().encode(),
                     ctype="text/plain") is not None:
            self.files.append(name)

    def op_artifact_get(self):
        if not self.files:
            return self.op_artifact_put()
        self.call("artifact-get", "GET", ART + self.rng.choice(self.files))

    def op_artifact_list(self):
        self.call("artifact-list", "GET", ART.rstrip("/"),
                  params={"path": f"{self.setup['exp']}/soak/{self.index}"})

    def op_new_run(self):
        payload = self.call("create-run", "POST", API + "runs/create", {
            "experiment_id": self.setup["exp"], "start_time": int(time.time() * 1000)})
        if payload:
            self.runs.append(json.loads(payload)["run"]["info"]["run_id"])
            self.runs = self.runs[-4:]

    OPS = [("op_log_batch", 20), ("op_log_metric", 10), ("op_set_tag", 5), ("op_get_run", 15),
           ("op_search_runs", 8), ("op_history", 10), ("op_search_experiments", 5),
           ("op_get_experiment", 5), ("op_registry", 5), ("op_artifact_put", 5),
           ("op_artifact_get", 6), ("op_artifact_list", 4), ("op_new_run", 2)]

    def run(self):
        self.connect()
        names = [o for o, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        for _ in range(self.n):
            getattr(self, self.rng.choices(names, weights)[0])()
            with self.stats["lock"]:
                self.stats["done"] += 1
            if len(self.errors) > 20:
                break
        self.conn.close()


def setup_world(port, connections):
    """One experiment, a run per connection, a registered model with a version."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(method, endpoint, body=None, params=None):
        path = API + endpoint + ("?" + urllib.parse.urlencode(params) if params else "")
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"} if body is not None else {})
        resp = conn.getresponse()
        payload = resp.read()
        if resp.status != 200:
            raise Failure(f"setup {endpoint}: {resp.status} {payload[:300]!r}")
        return json.loads(payload)

    tag = f"{os.getpid()}-{int(time.time() * 1000)}"
    exp = call("POST", "experiments/create", {"name": f"soak-{tag}"})["experiment_id"]
    runs = [call("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
            for _ in range(connections)]
    model = f"soak-model-{tag}"
    call("POST", "registered-models/create", {"name": model})
    call("POST", "model-versions/create", {"name": model, "run_id": runs[0],
                                           "source": f"mlflow-artifacts:/{exp}/{runs[0]}/artifacts/m"})
    conn.close()
    return {"exp": exp, "runs": runs, "model": model}


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise Failure(f"no VmRSS for pid {pid}")


def rss_is_flat(samples, factor=1.5, slack_kb=8192):
    """(ok, first quarter max, last quarter max) over samples taken after the warm-up."""
    if len(samples) < 8:
        return True, None, None
    q = len(samples) // 4
    first, last = max(samples[:q]), max(samples[-q:])
    return last <= first * factor + slack_kb, first, last


def phase(port, connections, n_requests, setup, seed, pid, progress_label=None):
    """Runs n_requests spread over `connections` workers; returns (workers, rss samples,
    seconds)."""
    stats = {"done": 0, "lock": threading.Lock()}
    per = [n_requests // connections + (1 if i < n_requests % connections else 0)
           for i in range(connections)]
    workers = [Worker(i, port, per[i], setup, seed, stats) for i in range(connections)]
    samples = []
    stop = threading.Event()

    def sampler():
        last_print = time.monotonic()
        while not stop.wait(0.1):
            if pid:
                try:
                    samples.append(rss_kb(pid))
                except (OSError, Failure):
                    return
            if progress_label and time.monotonic() - last_print > 10:
                last_print = time.monotonic()
                print(f"  {progress_label}: {stats['done']}/{n_requests} requests, "
                      f"RSS {samples[-1] // 1024 if samples else '?'} MB", flush=True)

    t = threading.Thread(target=sampler, daemon=True)
    start = time.monotonic()
    t.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    t.join()
    return workers, samples, time.monotonic() - start


def run_soak(port, pid=None, connections=64, requests=20000, seed=1, warmup=0.15,
             progress=False, rss_factor=1.5, rss_slack_kb=8192):
    """Drives the server on 127.0.0.1:port. Returns a result dict; result["ok"] says
    whether every check passed, result["problems"] says why not."""
    setup = setup_world(port, connections)
    n_warm = int(requests * warmup)
    warm, _, _ = phase(port, connections, n_warm, setup, seed, None,
                       "warm-up" if progress else None)
    workers, samples, seconds = phase(port, connections, requests - n_warm, setup, seed + 1,
                                      pid, "soak" if progress else None)
    workers = warm + workers
    errors = [e for w in workers for e in w.errors]
    latencies = {}
    for w in workers:
        for op, values in w.latencies.items():
            latencies.setdefault(op, []).extend(values)
    flat, first, last = rss_is_flat(samples, rss_factor, rss_slack_kb)
    problems = []
    if errors:
        problems.append(f"{len(errors)} failed requests, e.g. {errors[:3]}")
    if not flat:
        problems.append(f"RSS grew: last quarter max {last} kB > first quarter max {first} kB "
                        f"x {rss_factor} + {rss_slack_kb} kB")
    done = sum(len(v) for v in latencies.values())
    return {
        "ok": not problems, "problems": problems, "requests": done, "errors": errors,
        "seconds": seconds, "rps": (requests - n_warm) / seconds if seconds else 0,
        "rss_samples_kb": samples, "rss_first_quarter_max_kb": first,
        "rss_last_quarter_max_kb": last,
        "latency_ms": {op: {"n": len(v), "p50": sorted(v)[len(v) // 2] * 1000,
                            "p99": sorted(v)[min(len(v) - 1, int(len(v) * 0.99))] * 1000}
                       for op, v in sorted(latencies.items())},
    }


def print_result(result):
    print(f"soak: {result['requests']} requests, {result['rps']:.0f} req/s after warm-up, "
          f"{len(result['errors'])} errors")
    if result["rss_first_quarter_max_kb"]:
        print(f"soak: RSS max first quarter {result['rss_first_quarter_max_kb'] / 1024:.1f} MB, "
              f"last quarter {result['rss_last_quarter_max_kb'] / 1024:.1f} MB "
              f"({len(result['rss_samples_kb'])} samples)")
    for op, s in result["latency_ms"].items():
        print(f"  {op:<14} n={s['n']:<7} p50 {s['p50']:7.2f} ms   p99 {s['p99']:8.2f} ms")
    for p in result["problems"]:
        print(f"soak: FAIL: {p}")
    print("soak: OK" if result["ok"] else "soak: FAILED", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary, workdir, extra_args):
    port = free_port()
    log_path = os.path.join(workdir, "mlflowd.log")
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", SOAK_ASAN_OPTIONS)
    env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [binary, "server", "--host", "127.0.0.1", "--port", str(port), "--quiet",
             "--backend-store-uri", f"sqlite:///{workdir}/mlflow.db",
             "--artifacts-destination", f"{workdir}/mlartifacts", *extra_args],
            cwd=workdir, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Failure(f"mlflowd exited with {proc.returncode}: see {log_path}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return proc, port, log_path
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise Failure("mlflowd did not answer /health within 60 s")


def stop_server(proc, log_path):
    """SIGTERM; returns problems (exit code, sanitizer reports)."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return ["mlflowd did not stop within 120 s of SIGTERM"]
    with open(log_path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    problems = []
    if re.search(r"(AddressSanitizer|LeakSanitizer|runtime error:)", text):
        problems.append("sanitizer report in the server log:\n" + text[-8000:])
    if proc.returncode != 0:
        problems.append(f"mlflowd exit code {proc.returncode}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", help="start this mlflowd on a fresh SQLite database and stop it after")
    ap.add_argument("--port", type=int, help="drive an already running server on 127.0.0.1")
    ap.add_argument("--pid", type=int, help="its process id, for RSS sampling")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rss-factor", type=float, default=1.5)
    ap.add_argument("--rss-slack-mb", type=int, default=8)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir of --bin")
    ap.add_argument("--json", help="write the result here")
    ap.add_argument("server_args", nargs="*", help="extra mlflowd flags (after --)")
    args = ap.parse_args()
    if bool(args.bin) == bool(args.port):
        ap.error("give exactly one of --bin and --port")
    proc = workdir = None
    problems = []
    try:
        if args.bin:
            workdir = tempfile.mkdtemp(prefix="mlflowd-soak-")
            proc, port, log_path = start_server(os.path.abspath(args.bin), workdir,
                                                args.server_args)
            pid = proc.pid
            print(f"soak: mlflowd pid {pid} on port {port}, workdir {workdir}", flush=True)
        else:
            port, pid = args.port, args.pid
        result = run_soak(port, pid, args.connections, args.requests, args.seed, progress=True,
                          rss_factor=args.rss_factor, rss_slack_kb=args.rss_slack_mb * 1024)
        if proc:
            problems += stop_server(proc, log_path)
            proc = None
        result["problems"] += problems
        result["ok"] = not result["problems"]
        print_result(result)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f)
        return 0 if result["ok"] else 1
    except Failure as e:
        print(f"soak: FAIL: {e}", file=sys.stderr)
        return 1
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        if workdir and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
