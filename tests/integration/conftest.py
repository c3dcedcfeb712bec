"""Integration fixtures: a real mlflowd process on a free loopback port with a
fresh SQLite database and artifact directory, spoken to over HTTP exactly as
the mlflow client does.

The binary is $MLFLOWD_BIN (the ASan+UBSan build under `make test`). When a
server stops, its stderr is checked for sanitizer reports and a clean exit, so
every test also proves no memory error or leak happened behind it.

One switch runs the whole suite on PostgreSQL: MLFLOWD_TEST_DB=postgres (with
MLFLOWD_TEST_PG_URI, an admin URI such as `scripts/pg-test-server.sh start`
prints; `make integration-pg` does all of it). Every server that is not given
a --backend-store-uri then gets its own new database, dropped after its test
(or module). Tests read a server's database with `db_connect(server)` /
`db_query(server, sql, params)`, which speak SQLite or PostgreSQL alike with
`?` placeholders and booleans as 0/1; in the PostgreSQL run,
`sqlite3.connect("<server workdir>/mlflow.db")` is routed the same way so
older tests keep working. Tests that need SQLite itself are marked
`@pytest.mark.requires_sqlite` and deselected (and counted) in that run."""
import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid

import pytest
import requests

from testdb import (PG_ADMIN_URI, TEST_DB, db_connect, db_query,  # noqa: F401 (for the tests)
                    pg_create_database, pg_drop_database, route_sqlite_path, unroute_sqlite_path)

BIN = os.environ.get("MLFLOWD_BIN", os.path.join(os.path.dirname(__file__), "../../build/test/mlflowd"))


def pytest_configure(config):
    config.addinivalue_line("markers", "requires_sqlite: needs the SQLite database file itself; "
                            "deselected when MLFLOWD_TEST_DB=postgres")
    config.addinivalue_line("markers", "requires_postgres: needs the PostgreSQL test cluster; "
                            "runs only when MLFLOWD_TEST_DB=postgres")


def pytest_collection_modifyitems(config, items):
    """Deselects (not skips) the other engine's tests; pytest counts them as deselected."""
    other = "requires_sqlite" if TEST_DB == "postgres" else "requires_postgres"
    elsewhere = [i for i in items if i.get_closest_marker(other)]
    if elsewhere:
        config.hook.pytest_deselected(items=elsewhere)
        items[:] = [i for i in items if not i.get_closest_marker(other)]


def pytest_report_header(config):
    return f"mlflowd test database: {TEST_DB}" + (
        f" ({PG_ADMIN_URI.split('@')[-1]})" if TEST_DB == "postgres" else "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One mlflowd process. `api` helpers return `requests.Response`."""

    def __init__(self, workdir, args=(), env=None):
        self.workdir = str(workdir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.workdir, "mlflowd.log")
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
        self.session = requests.Session()
        self.proc = None
        # The tracking database: the one given in args, else one the harness makes at start.
        self.db_uri = next((a.split("=", 1)[1] if "=" in a else self.args[i + 1]
                            for i, a in enumerate(self.args) if a.startswith("--backend-store-uri")),
                           None)

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        log = open(self.log_path, "ab")
        cmd = [BIN, "server", "--host", "127.0.0.1", "--port", str(self.port)]
        if not any(a.startswith("--backend-store-uri") for a in self.args):
            sqlite_path = os.path.realpath(f"{self.workdir}/mlflow.db")
            if TEST_DB == "postgres":
                self.db_uri = self.db_uri or pg_create_database(sqlite_path)
                route_sqlite_path(sqlite_path, self.db_uri)
            else:
                self.db_uri = f"sqlite:///{sqlite_path}"
            cmd += ["--backend-store-uri", self.db_uri]
        if not any(a.startswith("--artifacts-destination") for a in self.args):
            cmd += ["--artifacts-destination", f"{self.workdir}/mlartifacts"]
        self.proc = subprocess.Popen(cmd + self.args, cwd=self.workdir, env=self.env,
                                     stdout=log, stderr=log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflowd exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("mlflowd did not answer /health in 30 s:\n" + self.log())

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, check=True):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("mlflowd did not stop on SIGTERM")
        if check:
            text = self.log()
            assert not re.search(r"(AddressSanitizer|LeakSanitizer|runtime error:)", text), text[-20000:]
            assert self.proc.returncode == 0, f"mlflowd exit code {self.proc.returncode}\n{text[-5000:]}"

    def drop_database(self):
        """Drops the PostgreSQL database the harness made for this server (after stop)."""
        if self.db_uri and self.db_uri.startswith("postgresql") and not any(
                a.startswith("--backend-store-uri") for a in self.args):
            unroute_sqlite_path(os.path.realpath(f"{self.workdir}/mlflow.db"))
            pg_drop_database(self.db_uri)

    # --- HTTP helpers, shaped like the mlflow client's calls ---------------
    def get(self, path, params=None, **kw):
        return self.session.get(self.url + path, params=params, timeout=60, **kw)

    def post(self, path, json=None, **kw):
        return self.session.post(self.url + path, json=json if json is not None else {}, timeout=60, **kw)

    def patch(self, path, json=None, **kw):
        return self.session.patch(self.url + path, json=json, timeout=60, **kw)

    def delete(self, path, json=None, **kw):
        return self.session.delete(self.url + path, json=json, timeout=60, **kw)

    def put(self, path, data=None, **kw):
        return self.session.put(self.url + path, data=data, timeout=60, **kw)

    def api(self, method, endpoint, body=None, params=None, expect=200):
        """Calls /api/2.0/mlflow/<endpoint> and checks the status; returns JSON."""
        r = self.session.request(method, f"{self.url}/api/2.0/mlflow/{endpoint}", json=body,
                                 params=params, timeout=60)
        assert r.status_code == expect, f"{method} {endpoint} -> {r.status_code} {r.text}"
        return r.json() if r.content else {}


@pytest.fixture
def make_server(tmp_path_factory):
    """Factory: make_server(args=[...], env={...}) -> started Server; stopped after the test."""
    servers = []

    def make(args=(), env=None, workdir=None):
        s = Server(workdir or tmp_path_factory.mktemp("mlflowd"), args=args, env=env)
        servers.append(s)
        return s.start()

    yield make
    try:
        for s in servers:
            s.stop()
    finally:
        for s in servers:
            s.drop_database()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server shared by a test module (fresh DB per module)."""
    s = Server(tmp_path_factory.mktemp("mlflowd")).start()
    yield s
    try:
        s.stop()
    finally:
        s.drop_database()


def start_together(servers):
    """Starts the servers at once (one thread each); the errors of those that did not start,
    each with its server's log."""
    errors = []

    def start(s):
        try:
            s.start()
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=start, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def assert_error(resp, status, code, message_part=None):
    """MLflow's error contract: status, JSON body with error_code and message."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error_code"] == code, body
    assert isinstance(body.get("message"), str) and body["message"], body
    if message_part is not None:
        assert message_part in body["message"], body["message"]
    return body


def raw_request(server, method, target, body=None, headers=None, timeout=60):
    """Sends `target` and `body` byte for byte (no client-side quoting or dot-segment removal);
    returns (status, headers dict with lower-case names, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


# --- S3 (sso-and-deploy.md §6.3) -----------------------------------------------

class S3Server:
    """s3rver 3.7.1 with bucket `mlflow`, behind tests/tools/s3-verify-proxy.js, which checks
    every request's SigV4 signature with AWS's signer (s3rver checks none) before passing it on.
    `env` points mlflowd at the proxy. Tests read and write objects straight at s3rver with plain
    `requests` calls (`url(key)`; s3rver takes unsigned requests); `log()` is s3rver's request
    log, `verify_log()` the proxy's ("ok METHOD PATH" / "refused CODE METHOD PATH: why")."""

    bucket = "mlflow"

    def __init__(self, workdir):
        self.workdir = str(workdir)
        self.port = free_port()  # s3rver
        self.proxy_port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.env = {"MLFLOW_S3_ENDPOINT_URL": f"http://127.0.0.1:{self.proxy_port}",
                    "AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
                    "AWS_DEFAULT_REGION": "us-east-1"}
        self.procs = []

    def url(self, key=""):
        return f"{self.endpoint}/{self.bucket}/{key}"

    def _spawn(self, args, log_name):
        log = open(os.path.join(self.workdir, log_name), "ab")
        proc = subprocess.Popen(["node"] + args, stdout=log, stderr=log)
        self.procs.append(proc)
        return proc

    def _wait(self, proc, url, name):
        deadline = time.time() + 30
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}")
            try:
                requests.get(url, timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"{name} did not answer in 30 s")

    def start(self):
        root = os.path.join(os.path.dirname(__file__), "..", "..")
        tools = os.path.join(root, "tests", "tools")
        subprocess.run([os.path.join(root, "scripts", "s3-test-server.sh"), "install"], check=True)
        # s3rver makes continuation tokens with DES: OpenSSL 3 has it in the legacy provider only.
        s3rver = self._spawn(
            ["--openssl-legacy-provider", os.path.join(tools, "node_modules", ".bin", "s3rver"),
             "-d", os.path.join(self.workdir, "data"), "-a", "127.0.0.1", "-p", str(self.port),
             "--configure-bucket", self.bucket], "s3rver.log")
        self._wait(s3rver, self.url(), "s3rver")
        proxy = self._spawn([os.path.join(tools, "s3-verify-proxy.js"), str(self.proxy_port),
                             str(self.port)], "verify-proxy.log")
        self._wait(proxy, f"http://127.0.0.1:{self.proxy_port}/", "s3-verify-proxy")
        return self

    def _read(self, name):
        with open(os.path.join(self.workdir, name), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log(self):
        """s3rver's request log: one line per request with its method and URL."""
        return self._read("s3rver.log")

    def verify_log(self):
        return self._read("verify-proxy.log")

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """One s3rver (+ signature-checking proxy) for the whole run; tests keep apart by key prefix."""
    s = S3Server(tmp_path_factory.mktemp("s3rver"))
    try:
        s.start()
    except Exception:
        s.stop()
        raise
    yield s
    s.stop()


@pytest.fixture
def kserve_server(make_server, s3_server):
    """A server whose artifacts go to S3 (the KServe hand-off needs s3:// storage), namespace
    `models`, service account `sa-kserve`."""
    prefix = "kserve-" + uuid.uuid4().hex[:8]
    s = make_server(args=["--artifacts-destination", f"s3://mlflow/{prefix}",
                          "--kserve-namespace", "models", "--kserve-service-account", "sa-kserve"],
                    env=s3_server.env)
    s.s3_root = f"s3://mlflow/{prefix}"
    return s
