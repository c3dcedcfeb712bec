"""Two mlflowd replicas on one PostgreSQL (issue "Scale out"): concurrent
writers through both lose nothing and duplicate nothing, and a permission
revoked through one replica is enforced by the other within a second."""
import base64
import threading
import time
import uuid

import pytest
import requests

from conftest import Server
from testdb import pg_create_database, pg_drop_database

pytestmark = pytest.mark.requires_postgres

ADMIN = ("admin", "password1234")


def two_replicas(tmp_path, auth_ini, args=()):
    """Two mlflowd processes on one PostgreSQL tracking database and one auth database;
    `auth_ini` is the INI after its [mlflow] database_uri and admin lines."""
    tracking = pg_create_database(f"{tmp_path}/tracking-{uuid.uuid4().hex}")
    auth_db = pg_create_database(f"{tmp_path}/auth-{uuid.uuid4().hex}")
    ini = tmp_path / "auth.ini"
    ini.write_text("[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
                   f"database_uri = {auth_db}\nadmin_username = admin\n"
                   "admin_password = password1234\n" + auth_ini)
    env = {"MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_FLASK_SERVER_SECRET_KEY": "replicas"}
    servers = [Server(tmp_path / f"replica{i}", env=env,
                      args=[f"--backend-store-uri={tracking}", "--app-name", "basic-auth", *args])
               for i in range(2)]
    for s in servers:
        s.start()
    yield servers
    try:
        for s in servers:
            s.stop()
    finally:
        pg_drop_database(tracking)
        pg_drop_database(auth_db)


@pytest.fixture
def replicas(tmp_path):
    yield from two_replicas(tmp_path, "", [f"--artifacts-destination={tmp_path / 'artifacts'}"])


def auth_header(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def call(server, method, endpoint, body=None, params=None, user=ADMIN, expect=200):
    r = requests.request(method, f"{server.url}/api/2.0/mlflow/{endpoint}", json=body, params=params,
                         headers=auth_header(*user), timeout=60)
    if expect is not None:
        assert r.status_code == expect, (endpoint, r.status_code, r.text)
    return r


def test_sixteen_writers_through_two_replicas_lose_and_duplicate_nothing(replicas):
    a, b = replicas
    exp = call(a, "POST", "experiments/create", {"name": "replicated"}).json()["experiment_id"]
    acknowledged, failures = [], []
    lock = threading.Lock()

    def writer(n):
        server = replicas[n % 2]
        run = call(server, "POST", "runs/create", {"experiment_id": exp}).json()["run"]["info"]
        for batch in range(5):
            metrics = [{"key": f"m{k}", "value": n + batch / 10, "timestamp": 1000 + batch,
                        "step": batch * 20 + k} for k in range(20)]
            r = call(replicas[(n + batch) % 2], "POST", "runs/log-batch",
                     {"run_id": run["run_id"], "metrics": metrics}, expect=None)
            with lock:
                if r.status_code == 200:
                    acknowledged.append((run["run_id"], batch))
                else:
                    failures.append((r.status_code, r.text[:200]))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    assert len(acknowledged) == 16 * 5
    for run_id, batch in acknowledged:
        for k in (0, 19):  # first and last point of the batch, read through the other replica
            history = call(b if batch % 2 == 0 else a, "GET", "metrics/get-history",
                           params={"run_id": run_id, "metric_key": f"m{k}"}).json()["metrics"]
            steps = [m["step"] for m in history]
            assert steps.count(batch * 20 + k) == 1, (run_id, batch, k, steps)
    runs = call(b, "POST", "runs/search", {"experiment_ids": [exp], "max_results": 100}).json()["runs"]
    assert len(runs) == 16
    assert all(len(r["data"]["metrics"]) == 20 for r in runs)


def test_large_batches_sent_twice_at_once_through_two_replicas_keep_each_point_once(replicas):
    """Batches past 100 points go in by COPY, which has no ON CONFLICT: here every batch is
    sent by two writers at once, one through each replica (a client retrying while its first
    try still runs). Each COPY that meets the other's rows falls back to the INSERTs that skip
    them: all answers 200, no deadlock, every point stored once."""
    a, b = replicas
    exp = call(a, "POST", "experiments/create", {"name": "copies"}).json()["experiment_id"]
    runs = [call(a, "POST", "runs/create", {"experiment_id": exp}).json()["run"]["info"]["run_id"]
            for _ in range(4)]
    barrier = threading.Barrier(8)
    failures = []

    def writer(n):
        run_id = runs[n // 2]
        barrier.wait()
        for batch in range(4):
            metrics = [{"key": f"m{k % 7}", "value": batch + k / 1000, "timestamp": 1000 + batch,
                        "step": batch * 150 + k} for k in range(150)]
            r = call(replicas[n % 2], "POST", "runs/log-batch",
                     {"run_id": run_id, "metrics": metrics}, expect=None)
            if r.status_code != 200:
                failures.append((r.status_code, r.text[:200]))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    for run_id in runs:
        for k in range(7):
            history = call(b, "GET", "metrics/get-history",
                           params={"run_id": run_id, "metric_key": f"m{k}"}).json()["metrics"]
            steps = sorted(m["step"] for m in history)
            assert steps == [s for s in range(600) if s % 150 % 7 == k], (run_id, k)


def test_revoking_through_one_replica_is_enforced_by_the_other_within_a_second(replicas):
    a, b = replicas
    call(a, "POST", "users/create", {"username": "carol", "password": "carol-password-1"})
    exp = call(a, "POST", "experiments/create", {"name": "shared"}).json()["experiment_id"]
    call(a, "POST", "experiments/permissions/create",
         {"experiment_id": exp, "username": "carol", "permission": "READ"})
    carol = ("carol", "carol-password-1")
    call(b, "GET", "experiments/get", params={"experiment_id": exp}, user=carol)  # warms b's caches
    call(a, "DELETE", "experiments/permissions/delete",
         {"experiment_id": exp, "username": "carol"})
    revoked_at = time.monotonic()
    while True:
        r = call(b, "GET", "experiments/get", params={"experiment_id": exp}, user=carol, expect=None)
        if r.status_code == 403:
            break
        assert r.status_code == 200, r.text
        assert time.monotonic() - revoked_at < 1.0, "replica b still allows carol after 1 s"
        time.sleep(0.02)
    # a password change through b locks the old password out on a as well
    call(b, "PATCH", "users/update-password", {"username": "carol", "password": "carol-password-2"})
    changed_at = time.monotonic()
    while True:
        r = call(a, "GET", "experiments/search", params={"max_results": 10}, user=carol, expect=None)
        if r.status_code == 401:
            break
        assert time.monotonic() - changed_at < 1.0, "replica a still takes the old password after 1 s"
        time.sleep(0.02)


def test_the_same_password_set_again_elsewhere_never_refuses_it(replicas):
    """A re-hashed (or re-created) row with the same password: the other replica's cached
    verification no longer matches the row, and it verifies the password again rather than
    answering 401."""
    a, b = replicas
    call(a, "POST", "users/create", {"username": "dora", "password": "dora-password-1"})
    dora = ("dora", "dora-password-1")
    call(b, "GET", "experiments/search", params={"max_results": 1}, user=dora)
    call(a, "PATCH", "users/update-password", {"username": "dora", "password": "dora-password-1"})
    call(a, "DELETE", "users/delete", {"username": "dora"})
    call(a, "POST", "users/create", {"username": "dora", "password": "dora-password-1"})
    until = time.monotonic() + 1.5
    while time.monotonic() < until:
        call(b, "GET", "experiments/search", params={"max_results": 1}, user=dora)
        time.sleep(0.02)


@pytest.fixture
def sso_replicas(tmp_path):
    """The same, with single sign-on by trusted proxy headers (from 127.0.0.1) in floor mode."""
    yield from two_replicas(tmp_path, "authorization_function = mlflowd:sso\n"
                                      "\n[role_mappings]\nREAD = viewer\n"
                                      "\n[sso]\nmodes = trusted_header, basic\n"
                                      "mapping_mode = floor\n")


def test_sso_identities_follow_another_replicas_changes_within_a_second(sso_replicas):
    """What an SSO sign-in read (the grants of its user in floor mode, its binding) is read
    again within the decision cache's bound, not after auth_cache_ttl_seconds (300 s)."""
    a, b = sso_replicas

    def as_proxy(server, sub="sub-u"):  # u's groups map to nothing: only grants count
        return requests.get(f"{server.url}/api/2.0/mlflow/experiments/get",
                            params={"experiment_id": "0"},
                            headers={"X-Forwarded-Preferred-Username": "u",
                                     "X-Forwarded-User": sub, "X-Forwarded-Groups": "nobody"},
                            timeout=60).status_code

    assert as_proxy(a) == 403  # signs u in
    assert as_proxy(b) == 403  # warms b's caches
    call(a, "POST", "experiments/permissions/create",
         {"experiment_id": "0", "username": "u", "permission": "READ"})
    deadline = time.monotonic() + 1.0
    while as_proxy(b) != 200:
        assert time.monotonic() < deadline, "replica b does not see u's grant"
        time.sleep(0.02)
    call(a, "DELETE", "experiments/permissions/delete", {"experiment_id": "0", "username": "u"})
    removed_at = time.monotonic()
    while as_proxy(b) != 403:
        assert time.monotonic() - removed_at < 1.0, "replica b keeps u's grant after 1 s"
        time.sleep(0.02)
    # the binding removed on a and taken by another subject: b refuses the old one
    r = requests.delete(f"{a.url}/api/2.0/mlflowd/users/sso-binding", json={"username": "u"},
                        headers=auth_header(*ADMIN), timeout=60)
    assert r.status_code == 200, r.text
    assert as_proxy(a, sub="sub-other") == 403  # signs sub-other in: u is bound to it now
    rebound_at = time.monotonic()
    while True:
        r = requests.get(f"{b.url}/api/2.0/mlflowd/auth/whoami",
                         headers={"X-Forwarded-Preferred-Username": "u",
                                  "X-Forwarded-User": "sub-u"}, timeout=60)
        if r.status_code == 403:
            break
        assert time.monotonic() - rebound_at < 1.0, "replica b takes u's old subject after 1 s"
        time.sleep(0.02)
