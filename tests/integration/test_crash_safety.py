"""Crash safety: what a client was told is stored survives a SIGKILL of the server,
exactly once, and nothing half-written appears.

Eight writer threads, each with its own run and its own keep-alive connection, log
batches (runs/log-batch: metrics with a step unique to the batch, one param and one tag
named after the batch) as fast as the server takes them. Mid-way the server is killed
with SIGKILL — no shutdown, no flush — and restarted on the same database; three rounds
of that (killed after different amounts of work), then a last server checks:

  * every batch that got a 200 is there exactly once: one history row per
    (run, key, step), its param and its tag present;
  * a batch in flight at the kill is there completely or not at all (a batch is one
    transaction);
  * no (run, key, step) has more than one row, and latest_metrics agrees with the
    history (the highest step of each key is the latest value);
  * SQLite: PRAGMA integrity_check is ok; PostgreSQL (MLFLOWD_TEST_DB=postgres): the
    counts above, read through testdb.db_query.

The restarted server then takes more writes, and stops cleanly (sanitizer-checked)."""
import http.client
import json
import os
import signal
import threading
import time

from conftest import TEST_DB, db_query

WRITERS = 8
KEYS = ("loss", "acc", "lr")
KILL_AFTER_ACKS = (150, 600, 1500)  # batches acknowledged (in all) before each round's kill
KILL_DEADLINE_SECONDS = 60          # kill anyway after this long


class Writer(threading.Thread):
    """Logs batches for one run until the server goes away."""

    def __init__(self, port, run_id, index, acked_total, round_no=0):
        super().__init__(daemon=True)
        self.port, self.run_id, self.index, self.round = port, run_id, index, round_no
        self.acked, self.attempted = [], []
        self.acked_total = acked_total
        self.error = None

    def batch(self, n):
        step = self.index * 1_000_000 + self.round * 100_000 + n
        return step, {
            "run_id": self.run_id,
            "metrics": [{"key": k, "value": step + i / 10, "timestamp": 1_700_000_000_000 + n,
                         "step": step} for i, k in enumerate(KEYS)],
            "params": [{"key": f"p{step}", "value": str(step)}],
            "tags": [{"key": f"t{step}", "value": str(step)}],
        }

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        n = 0
        try:
            while True:
                step, body = self.batch(n)
                self.attempted.append(step)
                conn.request("POST", "/api/2.0/mlflow/runs/log-batch", body=json.dumps(body),
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                answer = resp.read()
                if resp.status != 200:
                    self.error = f"batch {step}: {resp.status} {answer[:300]!r}"
                    return
                self.acked.append(step)
                with self.acked_total[1]:
                    self.acked_total[0] += 1
                n += 1
        except (OSError, http.client.HTTPException):
            return  # the server was killed
        finally:
            conn.close()


def counts_by_step(server, run_ids):
    """{(run, key, step): number of history rows} for the writers' runs."""
    out = {}
    for run_id in run_ids:
        rows = db_query(server, "SELECT key, step, COUNT(*) FROM metrics WHERE run_uuid = ?"
                        " GROUP BY key, step", (run_id,))
        for key, step, n in rows:
            out[(run_id, key, int(step))] = int(n)
    return out


def keys_present(server, table, run_id):
    return {r[0] for r in db_query(server, f"SELECT key FROM {table} WHERE run_uuid = ?",
                                   (run_id,))}


def run_round(server, run_ids, round_no, kill_after):
    """Writers against `server` until `kill_after` batches are acknowledged; SIGKILL."""
    acked_total = [0, threading.Lock()]
    writers = [Writer(server.port, run_ids[i], i, acked_total, round_no) for i in range(WRITERS)]
    for w in writers:
        w.start()
    deadline = time.monotonic() + KILL_DEADLINE_SECONDS
    while acked_total[0] < kill_after and time.monotonic() < deadline:
        time.sleep(0.005)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    for w in writers:
        w.join(timeout=60)
        assert not w.is_alive()
    assert not [w.error for w in writers if w.error], [w.error for w in writers if w.error]
    n_acked = sum(len(w.acked) for w in writers)
    print(f"crash round {round_no}: {n_acked} batches acknowledged, "
          f"{sum(len(w.attempted) for w in writers) - n_acked} in flight at the kill")
    assert n_acked >= min(kill_after, 50), f"only {n_acked} batches before the kill"
    return writers


def test_acknowledged_batches_survive_sigkill_exactly_once(make_server, tmp_path):
    workdir = tmp_path / "crash"
    first = make_server(workdir=workdir, args=["--quiet", "--workers", "8"])
    exp = first.api("POST", "experiments/create", {"name": "crash-safety"})["experiment_id"]
    run_ids = [first.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
               for _ in range(WRITERS)]

    writers = []
    server = first
    for round_no, kill_after in enumerate(KILL_AFTER_ACKS):
        if round_no:
            server = make_server(workdir=workdir, args=["--quiet", "--workers", "8"])
            assert server.db_uri == first.db_uri
        writers += run_round(server, run_ids, round_no, kill_after)

    # Restart on the same database (and workdir: same SQLite file or PostgreSQL database).
    second = make_server(workdir=workdir, args=["--quiet"])
    assert second.db_uri == first.db_uri

    if TEST_DB == "sqlite":
        assert db_query(second, "PRAGMA integrity_check") == [("ok",)]
        assert db_query(second, "PRAGMA foreign_key_check") == []

    counts = counts_by_step(second, run_ids)
    duplicates = {k: n for k, n in counts.items() if n != 1}
    assert not duplicates, f"rows stored more than once: {sorted(duplicates.items())[:10]}"

    steps_by_run = {}
    for (run_id, key, step) in counts:
        steps_by_run.setdefault(run_id, {}).setdefault(step, set()).add(key)
    for w in writers:
        stored = {s: k for s, k in steps_by_run.get(w.run_id, {}).items()
                  if (s // 100_000) % 10 == w.round}
        params = keys_present(second, "params", w.run_id)
        tags = keys_present(second, "tags", w.run_id)
        lost = [s for s in w.acked if stored.get(s) != set(KEYS)]
        assert not lost, f"writer {w.index}: acknowledged batches missing: {lost[:10]}"
        lost = [s for s in w.acked if f"p{s}" not in params or f"t{s}" not in tags]
        assert not lost, f"writer {w.index}: params/tags of acknowledged batches missing: {lost[:10]}"
        # Anything stored was attempted, and is whole (a batch is one transaction).
        attempted = set(w.attempted)
        for step, keys in stored.items():
            assert step in attempted, f"writer {w.index}: step {step} was never sent"
            assert keys == set(KEYS), f"writer {w.index}: batch {step} half-written: {keys}"
            assert f"p{step}" in params and f"t{step}" in tags, \
                f"writer {w.index}: batch {step} has metrics but not its param/tag"
        stored_params = {int(p[1:]) for p in params
                         if p.startswith("p") and (int(p[1:]) // 100_000) % 10 == w.round}
        assert stored_params <= set(stored), \
            f"writer {w.index}: params without metrics: {sorted(stored_params - set(stored))[:10]}"
    # latest_metrics agrees with the history after recovery
    for run_id in run_ids:
        stored = steps_by_run.get(run_id, {})
        if stored:
            top = max(stored)
            latest = {r[0]: (int(r[1]), float(r[2])) for r in db_query(
                second, "SELECT key, step, value FROM latest_metrics WHERE run_uuid = ?",
                (run_id,))}
            assert set(latest) == set(KEYS), latest
            for i, key in enumerate(KEYS):
                assert latest[key] == (top, top + i / 10), (run_id, key, latest[key], top)

    # The API sees the same thing, and the restarted server takes writes again.
    for run_id in run_ids:
        hist = second.api("GET", "metrics/get-history",
                          params={"run_id": run_id, "metric_key": "loss"})["metrics"]
        steps = [m["step"] for m in hist]
        acked = {s for w in writers if w.run_id == run_id for s in w.acked}
        assert len(steps) == len(set(steps)) and acked <= set(steps)
    step, body = Writer(second.port, run_ids[0], 99, [0, threading.Lock()]).batch(0)
    second.api("POST", "runs/log-batch", body)
    assert counts_by_step(second, [run_ids[0]])[(run_ids[0], "loss", step)] == 1
    if TEST_DB == "sqlite":
        assert os.path.exists(os.path.join(str(workdir), "mlflow.db"))
