"""Process-level behaviour: health, version, routing errors, CLI, start-up."""
import json
import os
import re
import socket
import sqlite3
import subprocess
import time
import uuid

import pytest
import requests

from conftest import BIN, assert_error, free_port
from test_auth_helpers import ADMIN, session, start_auth_server


def test_health_and_version(server):
    r = server.get("/health")
    assert r.status_code == 200 and r.text == "OK"
    r = server.get("/version")
    assert r.status_code == 200
    major, minor = (int(x) for x in r.text.split(".")[:2])
    assert (major, minor) >= (3, 4)  # the client enables OTLP export from 3.4


def test_unknown_endpoint_is_json_404(server):
    assert_error(server.get("/api/2.0/mlflow/no-such-thing"), 404, "ENDPOINT_NOT_FOUND")
    assert_error(server.get("/ajax-api/2.0/mlflow/no-such-thing"), 404, "ENDPOINT_NOT_FOUND")


def test_wrong_method_is_405(server):
    r = server.post("/health")
    assert r.status_code == 405
    assert r.json()["error_code"] == "BAD_REQUEST"


def test_head_is_a_get_without_its_body(server):
    """As Flask answers HEAD on every GET route: the same status and headers, no body
    (load balancers and `curl -I` use it); a route without GET is still 405."""
    import socket

    def head(path):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(f"HEAD {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        top, _, body = data.partition(b"\r\n\r\n")
        lines = top.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
        return int(lines[0].split()[1]), headers, body

    for path in ("/health", "/api/2.0/mlflow/experiments/get?experiment_id=0"):
        got = server.get(path) if path.startswith("/api") else server.session.get(server.url + path)
        status, headers, body = head(path)
        assert (status, body) == (got.status_code, b""), path
        assert int(headers["content-length"]) == len(got.content)
        assert headers["content-type"] == got.headers["Content-Type"]
    assert head("/api/2.0/mlflow/experiments/get?experiment_id=424242")[0] == 404
    assert head("/api/2.0/mlflow/experiments/create")[0] == 405


def test_max_connections_below_one_stops_the_start(make_server):
    with pytest.raises(RuntimeError) as e:
        make_server(args=["--max-connections", "0"])
    assert "--max-connections must be at least 1" in str(e.value)


def test_keep_alive_timeout_out_of_range_stops_the_start(make_server):
    for bad in ("0", "601"):
        with pytest.raises(RuntimeError) as e:
            make_server(args=["--keep-alive-timeout", bad])
        assert "--keep-alive-timeout must be from 1 to 600 seconds" in str(e.value)


def closed_within(sock, seconds):
    """True when the server closes `sock` within `seconds` (it sends nothing more)."""
    sock.settimeout(seconds)
    try:
        return sock.recv(4096) == b""
    except (socket.timeout, TimeoutError):
        return False
    except ConnectionResetError:
        return True


def test_idle_connections_are_closed_after_the_keep_alive_timeout(make_server):
    """One client's idle connections once held every slot for 600 s: a connection that sends
    nothing, or nothing more after an answer, is closed after --keep-alive-timeout; within a
    request (headers in, body pending) the limit stays long, and the next clients get in."""
    srv = make_server(args=["--keep-alive-timeout", "1", "--max-connections", "4"])
    idle = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(4)]
    answered = None
    try:
        assert all(closed_within(s, 5) for s in idle)
        answered = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        answered.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        head = answered.recv(4096)
        assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"OK"), head
        t0 = time.monotonic()
        assert closed_within(answered, 5)
        assert 0.5 < time.monotonic() - t0 < 4
        # a request whose body comes 3 s after its headers is still served
        body = b'{"name": "late-body"}'
        slow = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        slow.sendall(b"POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        time.sleep(3)
        slow.sendall(body)
        got = slow.recv(65536)
        assert got.startswith(b"HTTP/1.1 200"), got[:300]
        slow.close()
    finally:
        for s in idle + [answered]:
            if s:
                s.close()
    assert srv.get("/health").ok


def test_a_request_head_sent_a_byte_at_a_time_is_cut_at_the_keep_alive_timeout(make_server):
    """The keep-alive timeout counted idle time only: a client sending a byte of its
    request head now and then kept its connection (a thread and a --max-connections slot)
    for ever, and a few such clients locked everyone out. The head must now come whole
    within --keep-alive-timeout of the connection's start or its previous answer; a slow
    body and a connection reused after a pause are served as before."""
    srv = make_server(args=["--keep-alive-timeout", "2", "--max-connections", "4"])
    trickling = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(2)]
    t0 = time.monotonic()
    try:
        for s in trickling:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        closed_at = [None, None]
        while None in closed_at and time.monotonic() - t0 < 8:
            for i, s in enumerate(trickling):
                if closed_at[i] is None:
                    try:
                        s.sendall(b"X: y\r\n")
                    except OSError:
                        closed_at[i] = time.monotonic() - t0
                        continue
                    if closed_within(s, 0.05):
                        closed_at[i] = time.monotonic() - t0
            time.sleep(0.25)
        assert None not in closed_at, "a trickled request head kept its connection for 8 s"
        assert all(1.5 < t < 5 for t in closed_at), closed_at
    finally:
        for s in trickling:
            s.close()
    assert re.search(r"closed [12] connections? whose request head did not come whole in time",
                     srv.log())
    # the slots are free again; a connection used after a pause shorter than the timeout
    # is served, and so is a body sent slowly after its head
    reused = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        for _ in range(3):
            reused.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert reused.recv(4096).startswith(b"HTTP/1.1 200")
            time.sleep(1.5)
        body = b'{"name": "slow-body"}'
        reused.sendall(b"POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: localhost\r\n"
                       b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        for byte in body[:12]:
            time.sleep(0.3)  # 3.6 s in all, past the 2 s timeout
            reused.sendall(bytes([byte]))
        reused.sendall(body[12:])
        assert reused.recv(65536).startswith(b"HTTP/1.1 200")
    finally:
        reused.close()


def trickle_until_closed(port, head, seconds):
    """Sends `head`, then a byte every 0.25 s; the seconds until the server closed the
    connection, or None if it was still open after `seconds`."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    t0 = time.monotonic()
    try:
        sock.sendall(head)
        while time.monotonic() - t0 < seconds:
            try:
                sock.sendall(b" ")
            except OSError:
                return time.monotonic() - t0
            if closed_within(sock, 0.25):
                return time.monotonic() - t0
        return None
    finally:
        sock.close()


def test_a_refused_body_sent_a_byte_at_a_time_is_cut_too(make_server):
    """A refused request (here a cross-origin write, 403) has its body read so that the
    client sees the answer; that body, trickled, held the connection with a request's 600 s
    idle timeout. It must now come whole by a head's deadline."""
    srv = make_server(args=["--keep-alive-timeout", "2"])
    head = (b"POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: localhost\r\n"
            b"Origin: http://evil.example\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n")
    waited = trickle_until_closed(srv.port, head, 8)
    assert waited is not None and 1.5 < waited < 5, waited


def test_the_probe_port_cuts_a_trickled_head_after_10_s(make_server):
    """The probe port's 64 connections could be held the same way, failing every liveness
    probe; a head not in 10 s after the connection opened is cut there. A scraper's kept-alive
    connection, idle between scrapes, is not: it may idle 30 s after an answer."""
    import http.client
    probe = free_port()
    srv = make_server(args=["--health-port", str(probe), "--health-host", "127.0.0.1"])
    scraper = http.client.HTTPConnection("127.0.0.1", probe, timeout=10)
    scraper.request("GET", "/metrics")
    assert scraper.getresponse().read()
    waited = trickle_until_closed(probe, b"GET /health HTTP/1.1\r\nX: ", 16)
    assert waited is not None and 9 < waited < 13, waited
    assert requests.get(f"http://127.0.0.1:{probe}/health", timeout=5).ok
    scraper.request("GET", "/metrics")  # on the same connection, idle for 10 s and more
    assert scraper.getresponse().status == 200
    scraper.close()
    assert srv.log().count("did not come whole in time") == 1, srv.log()


def test_workers_below_one_stops_the_start(make_server):
    with pytest.raises(RuntimeError) as e:
        make_server(args=["--workers", "0"])
    assert "--workers must be at least 1" in str(e.value)


def test_a_port_in_use_stops_the_start(server, tmp_path):
    """A second server on a busy port must fail, as `mlflow server` does: with SO_REUSEPORT it
    listened beside the first and the kernel split requests between two databases."""
    proc = subprocess.run([BIN, "server", "--host", "127.0.0.1", "--port", str(server.port),
                           "--backend-store-uri", f"sqlite:///{tmp_path}/other.db",
                           "--artifacts-destination", str(tmp_path / "art")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert f"cannot listen on 127.0.0.1:{server.port}" in proc.stderr
    assert "LeakSanitizer" not in proc.stderr
    assert server.get("/health").status_code == 200


def test_new_database_has_default_experiment_and_stamp(server):
    db = sqlite3.connect(f"{server.workdir}/mlflow.db")
    assert db.execute("select version_num from alembic_version").fetchall() == [("bf29a5ff90ea",)]
    row = db.execute("select experiment_id, name, artifact_location, lifecycle_stage "
                     "from experiments").fetchall()
    assert row == [(0, "Default", "mlflow-artifacts:/0", "active")]


def test_cli_help_version_and_bad_flag():
    out = subprocess.run([BIN, "server", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for flag in ["--host", "--port", "--backend-store-uri", "--default-artifact-root",
                 "--serve-artifacts", "--no-serve-artifacts", "--artifacts-destination",
                 "--artifacts-only", "--workers", "--static-prefix"]:
        assert flag in out.stdout
    out = subprocess.run([BIN, "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("mlflowd ")
    # --help answers whatever the environment holds (a bad value stops only a start)
    bad = dict(os.environ, MLFLOW_TRUNCATE_LONG_VALUES="maybe")
    out = subprocess.run([BIN, "server", "--help"], capture_output=True, text=True, env=bad)
    assert out.returncode == 0 and "--static-prefix" in out.stdout, out.stderr
    out = subprocess.run([BIN, "server", "--no-such-flag"], capture_output=True, text=True)
    assert out.returncode != 0 and "unknown option" in out.stderr


def test_refuses_other_schema_revision(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("create table alembic_version (version_num varchar(32) not null)")
    db.execute("insert into alembic_version values ('0584bdc529eb')")
    db.execute("create table experiments (experiment_id integer primary key)")
    db.commit()
    out = subprocess.run([BIN, "db", "upgrade", f"sqlite:///{path}"], capture_output=True,
                         text=True)
    assert out.returncode != 0
    assert "0584bdc529eb" in out.stderr and "mlflow db upgrade" in out.stderr


def test_db_upgrade_creates_schema(tmp_path):
    path = tmp_path / "new.db"
    out = subprocess.run([BIN, "db", "upgrade", f"sqlite:///{path}"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    db = sqlite3.connect(path)
    assert db.execute("select version_num from alembic_version").fetchone() == ("bf29a5ff90ea",)
    assert db.execute("select count(*) from experiments").fetchone() == (0,)
    db.close()


def test_db_help_and_usage_exit_codes(tmp_path):
    """`db upgrade --help` prints the usage (exit 0) and opens no database named
    "--help"; a wrong command line is bad usage (exit 2)."""
    for args in (["db", "upgrade", "--help"], ["db", "--help"], ["db", "-h"]):
        out = subprocess.run([BIN, *args], capture_output=True, text=True, cwd=tmp_path)
        assert out.returncode == 0, (args, out.stderr)
        assert "Usage: mlflowd db upgrade URI" in out.stdout
    assert list(tmp_path.iterdir()) == []
    for args in (["db"], ["db", "upgrade"], ["db", "downgrade", "sqlite:///x.db"]):
        out = subprocess.run([BIN, *args], capture_output=True, text=True, cwd=tmp_path)
        assert out.returncode == 2 and "Usage:" in out.stderr, args


def test_first_server_start_after_db_upgrade_makes_default_with_its_root(make_server, tmp_path):
    """An init job runs `db upgrade` without artifact flags; the server's first start makes
    experiment 0 with the server's own --default-artifact-root."""
    path = tmp_path / "mlflow.db"
    out = subprocess.run([BIN, "db", "upgrade", f"sqlite:///{path}"], capture_output=True,
                         text=True, env=dict(os.environ, MLFLOW_DEFAULT_ARTIFACT_ROOT="./elsewhere"))
    assert out.returncode == 0, out.stderr
    s = make_server(args=["--backend-store-uri", f"sqlite:///{path}", "--no-serve-artifacts",
                          "--default-artifact-root", "s3://bkt/exp"])
    got = s.api("GET", "experiments/get", params={"experiment_id": "0"})["experiment"]
    assert got["artifact_location"] == "s3://bkt/exp/0"


def test_serves_connections_past_descriptor_1024(make_server):
    """select() cannot watch a descriptor numbered 1024 or more; with 1,100 clients
    connected (the default --max-connections is 1,024) the server must still answer."""
    import resource
    import socket
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # The server inherits it. Raising the hard limit needs root, which CI has.
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, max(hard, 4096)))
    socks = []
    try:
        srv = make_server(args=["--max-connections", "1500"])
        for _ in range(1100):
            socks.append(socket.create_connection(("127.0.0.1", srv.port), timeout=10))
        # The newest connections hold the highest descriptors in the server.
        last = socks[-1]
        last.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        got = b""
        while chunk := last.recv(4096):
            got += chunk
        assert got.startswith(b"HTTP/1.1 200"), got[:200]
        assert srv.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"}).ok
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_libjose_is_not_loaded_without_tokens_to_check(tmp_path):
    """libjose seeds OpenSSL's RNG in a constructor (~2.3 MB resident): a server that checks no
    JWT, even with basic auth on and after logins, never loads it (test_sso_bearer checks that
    the first token does)."""
    s = start_auth_server(tmp_path / "jose")
    try:
        r = session(s, *ADMIN).post(s.url + "/api/2.0/mlflow/experiments/create",
                                    json={"name": "no-jose"})
        assert r.status_code == 200, r.text
        with open(f"/proc/{s.proc.pid}/maps") as maps:
            libraries = {line.rsplit("/", 1)[-1] for line in maps if ".so" in line}
        assert any(lib.startswith("libmicrohttpd.so") for lib in libraries), libraries
        assert not any(lib.startswith("libjose.so") for lib in libraries), libraries
    finally:
        s.stop()
        s.drop_database()


def test_clients_that_do_not_read_their_answers_hold_no_database_connection(make_server):
    """A database connection goes back to the pool once the answer is built, not once a
    client has read it: --workers 2 and three clients sitting on ~9 MB histories they never
    read must leave the store usable (it used to hang every request until they left)."""
    import socket
    s = make_server(args=["--workers", "2"])
    exp = s.api("POST", "experiments/create", {"name": "slow-readers"})["experiment_id"]
    run = s.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
    for b in range(150):
        s.api("POST", "runs/log-batch", {"run_id": run, "metrics": [
            {"key": "m", "value": b * 1000 + i + 0.5, "timestamp": 1_700_000_000_000 + i,
             "step": b * 1000 + i} for i in range(1000)]})
    sockets = []
    try:
        for _ in range(3):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", s.port))
            sock.sendall((f"GET /api/2.0/mlflow/metrics/get-history?run_id={run}&metric_key=m "
                          "HTTP/1.1\r\nHost: localhost\r\n\r\n").encode())
            sockets.append(sock)
        time.sleep(2)
        r = s.session.post(f"{s.url}/api/2.0/mlflow/experiments/create",
                           json={"name": "while-they-sit"}, timeout=10)
        assert r.status_code == 200, r.text
        r = s.session.get(f"{s.url}/api/2.0/mlflow/runs/get", params={"run_id": run}, timeout=10)
        assert r.status_code == 200 and r.json()["run"]["data"]["metrics"][0]["step"] == 149999
    finally:
        for sock in sockets:
            sock.close()


def test_large_bodies_in_progress_share_one_memory_budget(make_server):
    """JSON bodies are read into memory: the bytes received of all of them together get
    4 x --max-body-size (at least 256 MiB), counted as they arrive. Clients that announce
    60 MiB and send nothing hold nothing; four that have sent ~60 MiB each leave no room
    for another large body (refused: 503, or the connection ends), while small requests
    still pass; the budget comes back when they end. (16 clients sending 60 MiB bodies
    used to take the process to 2 GB.)"""
    import socket
    import threading
    s = make_server()
    big = 60 << 20
    head = ("POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: localhost\r\n"
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n")

    def start(length, send):
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=60)
        sock.sendall(head.format(length).encode() + b'{"name": "' + b"a" * (send - 10))
        return sock

    def post_padded(size):
        body = json.dumps({"name": f"pad-{uuid.uuid4().hex[:8]}", "pad": "p" * size})
        try:
            return s.session.post(f"{s.url}/api/2.0/mlflow/experiments/create", data=body,
                                  headers={"Content-Type": "application/json"}, timeout=60)
        except requests.exceptions.ConnectionError:
            return None

    idle = [start(big, 1024) for _ in range(4)]
    try:
        time.sleep(0.3)
        assert post_padded(100).status_code == 200
        r = post_padded(30 << 20)
        assert r is not None and r.status_code == 200, r and r.text
    finally:
        for sock in idle:
            sock.close()

    full = []
    threads = [threading.Thread(target=lambda: full.append(start(big, big - 1024)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        r = post_padded(30 << 20)
        assert r is None or (r.status_code == 503 and "too many large request bodies" in r.text)
        assert post_padded(1000).status_code == 200  # small bodies always pass
    finally:
        for sock in full:
            sock.close()
    deadline = time.time() + 10
    while True:  # freed once the server sees them gone
        r = post_padded(30 << 20)
        if (r is not None and r.status_code == 200) or time.time() > deadline:
            break
        time.sleep(0.2)
    assert r is not None and r.status_code == 200


def test_a_body_is_charged_what_reading_it_takes(make_server):
    """The budget counted a body's bytes, but the tree jansson builds of `[{},{},...]` is
    ~80 times larger: one 8 MiB body took the process to ~650 MB, four 2 MiB ones at once as
    much. Once a body is in, the estimate of its tree is counted instead: a body whose tree
    alone would pass the budget is refused (413) without being read, and large bodies of the
    JSON clients send pass as before."""
    s = make_server()

    def rss_mb():
        with open(f"/proc/{s.proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024

    url = f"{s.url}/api/2.0/mlflow/experiments/search"
    headers = {"Content-Type": "application/json"}
    before = rss_mb()
    bomb = b'{"max_results": 1, "x": [' + b",".join([b"{}"] * (4 << 20)) + b"]}"
    r = s.session.post(url, data=bomb, headers=headers, timeout=60)
    assert_error(r, 413, "INVALID_PARAMETER_VALUE", "holds too many JSON values")
    assert rss_mb() - before < 250, (before, rss_mb())
    # the same values, fewer of them, are read (and the unknown field ignored)
    r = s.session.post(url, data=b'{"max_results": 1, "x": [' + b",".join([b"{}"] * 1000) + b"]}",
                       headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    run = s.api("POST", "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    batch = {"run_id": run, "metrics": [{"key": f"m{i % 50}", "value": i / 7, "timestamp": i,
                                         "step": i} for i in range(1000)]}
    assert s.api("POST", "runs/log-batch", batch) == {}


def test_sigterm_lets_requests_in_progress_finish(make_server):
    """On SIGTERM the server stops taking connections and /ready answers 503, but an upload
    in progress completes and is answered before the process ends (it used to be cut off)."""
    import signal
    import socket
    import requests
    from conftest import free_port
    probe = free_port()
    s = make_server(args=["--health-port", str(probe), "--health-host", "127.0.0.1"])
    exp = s.api("POST", "experiments/create", {"name": "draining"})["experiment_id"]
    payload = b"z" * (1 << 20)
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    sock.sendall((f"PUT /api/2.0/mlflow-artifacts/artifacts/{exp}/drain.bin HTTP/1.1\r\n"
                  f"Host: localhost\r\nContent-Length: {len(payload)}\r\n\r\n").encode() +
                 payload[:1000])
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert s.proc.poll() is None, "stopped with an upload in progress"
    r = requests.get(f"http://127.0.0.1:{probe}/ready", timeout=10)
    assert r.status_code == 503 and "shutting down" in r.text, r.text
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", s.port), timeout=5).close()
    sock.sendall(payload[1000:])
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(4096)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert b"Connection: close" in answer  # no next request on it while stopping
    assert s.proc.wait(timeout=30) == 0
    log = s.log()
    assert "waiting up to 25 s for 1 request in progress" in log
    assert "still in progress" not in log
    stored = os.path.join(s.workdir, "mlartifacts", exp, "drain.bin")
    assert os.path.getsize(stored) == len(payload)


def test_bad_s3_settings_stop_the_start_for_a_default_root_too(make_server):
    """A bad S3 setting stops the start when s3:// is only the default artifact root (no
    proxy), as it does for an s3:// destination; it used to surface as a 500 on the first
    artifact call."""
    with pytest.raises(RuntimeError) as e:
        make_server(args=["--no-serve-artifacts", "--default-artifact-root", "s3://bucket/x"],
                    env={"MLFLOWD_S3_PART_SIZE": "1"})
    assert "MLFLOWD_S3_PART_SIZE" in str(e.value)
    with pytest.raises(RuntimeError) as e:
        make_server(args=["--no-serve-artifacts", "--default-artifact-root", "s3://b/x"])
    assert "bucket name" in str(e.value)


def test_requests_libmicrohttpd_gives_up_on_are_freed(make_server):
    """A request whose query fills the connection's memory is dropped by libmicrohttpd
    before any handler runs, and it never reports that request complete: the connection's
    end frees it now (each one used to leak ~6 KiB and count as "in progress" forever,
    holding a graceful stop for its whole grace period)."""
    import socket
    s = make_server(args=["--shutdown-grace", "20"])
    query = "&".join(["a=1"] * 1500)
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        sock.sendall(f"GET /api/2.0/mlflow/experiments/get?experiment_id=0&{query} HTTP/1.1\r\n"
                     "Host: localhost\r\n\r\n".encode())
        sock.recv(4096)
        sock.close()
    assert s.api("GET", "experiments/get", params={"experiment_id": "0"})["experiment"]
    t0 = time.time()
    s.stop()  # also fails on any LeakSanitizer report
    assert time.time() - t0 < 10
    assert "still in progress" not in s.log()


def test_a_second_stop_signal_ends_the_wait(make_server):
    """An upload that never completes holds a graceful stop for --shutdown-grace; a second
    SIGTERM (as an impatient operator or supervisor sends) ends the process at once."""
    import signal
    import socket
    s = make_server()
    exp = s.api("POST", "experiments/create", {"name": "stalled"})["experiment_id"]
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    sock.sendall((f"PUT /api/2.0/mlflow-artifacts/artifacts/{exp}/never.bin HTTP/1.1\r\n"
                  "Host: localhost\r\nContent-Length: 1000000\r\n\r\n").encode() + b"z" * 1000)
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert s.proc.poll() is None
    t0 = time.time()
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=10) == 0
    assert time.time() - t0 < 3
    sock.close()
    assert "second stop signal" in s.log()


@pytest.mark.requires_sqlite
def test_a_request_held_by_the_database_does_not_hold_the_stop(make_server):
    """A request waiting on the database (here SQLite's lock, held by another process; in
    production a stalled PostgreSQL) kept the process alive past --shutdown-grace until the
    database let go: the stop now ends STOP_WATCHDOG_SECONDS (3) after the grace period."""
    import signal
    import sqlite3
    import threading
    s = make_server(args=["--shutdown-grace", "1"])
    holder = sqlite3.connect(os.path.join(s.workdir, "mlflow.db"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # every write waits for it (busy timeout 20 s)
    try:
        def write():  # cut off by the exit: no answer
            try:
                requests.post(s.url + "/api/2.0/mlflow/experiments/create", json={"name": "held"},
                              timeout=60)
            except requests.RequestException:
                pass

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        time.sleep(0.5)
        t0 = time.time()
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(timeout=15) == 0
        assert time.time() - t0 < 8
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    log = s.log()
    assert "stopping with 1 request still in progress" in log
    assert "the stop is held up by a request: exiting without the requests still in progress" in log


def test_sighup_and_sigusr_are_logged_and_ignored(make_server):
    """They killed the server at once (their default action); there is nothing to reload."""
    import signal
    s = make_server()
    for sig, name in ((signal.SIGHUP, "SIGHUP"), (signal.SIGUSR1, "SIGUSR1"),
                      (signal.SIGUSR2, "SIGUSR2")):
        s.proc.send_signal(sig)
        time.sleep(0.3)
        assert s.proc.poll() is None, name
        assert s.get("/health").ok
        assert f"received {name}: ignored" in s.log()


@pytest.mark.requires_sqlite
def test_sqlite_experiment_ids_beyond_32_bits_are_served(make_server, tmp_path):
    """SQLite's INTEGER has 64 bits, and a database migrated from MLflow's file store holds
    18-digit experiment ids: they are read, searched and written to (only PostgreSQL's
    32-bit column makes such a number name nothing)."""
    path = tmp_path / "big.db"
    out = subprocess.run([BIN, "db", "upgrade", f"sqlite:///{path}"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    big = "123456789012345678"
    db = sqlite3.connect(path)
    db.execute("INSERT INTO experiments VALUES (?, 'migrated', ?, 'active', 1, 1)",
               (int(big), str(tmp_path / "art")))
    db.commit()
    db.close()
    s = make_server(args=["--backend-store-uri", f"sqlite:///{path}"])
    assert s.api("GET", "experiments/get", params={"experiment_id": big})["experiment"][
        "name"] == "migrated"
    run = s.api("POST", "runs/create", {"experiment_id": big})["run"]["info"]
    assert run["experiment_id"] == big
    got = s.api("POST", "runs/search", {"experiment_ids": [big]})["runs"]
    assert [r["info"]["run_id"] for r in got] == [run["run_id"]]


@pytest.mark.requires_sqlite
def test_experiments_without_an_artifact_location_get_the_default_root(make_server, tmp_path):
    """An experiment another tool left without artifact_location (NULL or '') gives its runs
    <default root>/<experiment id>/<run id>/artifacts, as a new experiment would; they got
    "/<run id>/artifacts", and uploads landed at the filesystem's root."""
    path = tmp_path / "noloc.db"
    out = subprocess.run([BIN, "db", "upgrade", f"sqlite:///{path}"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    db = sqlite3.connect(path)
    db.execute("INSERT INTO experiments VALUES (3, 'null-loc', NULL, 'active', 1, 1)")
    db.execute("INSERT INTO experiments VALUES (4, 'empty-loc', '', 'active', 1, 1)")
    db.commit()
    db.close()
    s = make_server(args=["--backend-store-uri", f"sqlite:///{path}"])
    for exp in ("3", "4"):
        run = s.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]
        assert run["artifact_uri"] == f"mlflow-artifacts:/{exp}/{run['run_id']}/artifacts"
        r = s.session.post(f"{s.url}/ajax-api/2.0/mlflow/upload-artifact",
                           params={"run_uuid": run["run_id"], "path": "x.txt"}, data=b"hi",
                           timeout=30)
        assert r.status_code == 200, r.text
        stored = os.path.join(s.workdir, "mlartifacts", exp, run["run_id"], "artifacts", "x.txt")
        assert open(stored, "rb").read() == b"hi"
        assert not os.path.exists(f"/{run['run_id']}")


@pytest.mark.requires_sqlite
def test_registry_rows_without_creation_time_leave_it_out(make_server, tmp_path):
    """A registered model or version whose creation_time is NULL (another tool's row) has no
    creation_timestamp in the answer, as MLflow's to_proto leaves out None (it said 0)."""
    path = tmp_path / "reg.db"
    out = subprocess.run([BIN, "db", "upgrade", f"sqlite:///{path}"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    db = sqlite3.connect(path)
    db.execute("INSERT INTO registered_models (name, creation_time, last_updated_time, "
               "description) VALUES ('legacy', NULL, NULL, NULL)")
    db.execute("INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
               "current_stage, source, status) VALUES ('legacy', 1, NULL, NULL, 'None', "
               "'s3://b/m', 'READY')")
    db.commit()
    db.close()
    s = make_server(args=["--backend-store-uri", f"sqlite:///{path}"])
    model = s.api("GET", "registered-models/get", params={"name": "legacy"})["registered_model"]
    assert "creation_timestamp" not in model and model["name"] == "legacy"
    version = s.api("GET", "model-versions/get",
                    params={"name": "legacy", "version": "1"})["model_version"]
    assert "creation_timestamp" not in version and version["source"] == "s3://b/m"


def test_empty_variables_are_unset_ones(make_server):
    """As click reads `mlflow server`'s variables, an empty one (a chart's or compose file's
    blank value) is an unset one: defaults, not refusals or a proxy switched off."""
    s = make_server(env={name: "" for name in (
        "MLFLOW_PORT", "MLFLOW_HOST", "MLFLOW_WORKERS", "MLFLOW_BACKEND_STORE_URI",
        "MLFLOW_REGISTRY_STORE_URI", "MLFLOW_SERVE_ARTIFACTS", "MLFLOW_SERVER_X_FRAME_OPTIONS",
        "MLFLOWD_MAX_BODY_SIZE", "MLFLOWD_HEALTH_HOST", "MLFLOWD_KSERVE_NAMESPACE")})
    r = s.get("/health")
    assert r.status_code == 200 and r.headers.get("X-Frame-Options") == "SAMEORIGIN"
    r = s.put("/api/2.0/mlflow-artifacts/artifacts/0/x.txt", data=b"kept")
    assert r.status_code == 200, r.text


def test_an_empty_destination_variable_is_the_default_destination(tmp_path):
    """MLFLOW_ARTIFACTS_DESTINATION="" once made the working directory (the databases beside
    it) the proxy's root; it is ./mlartifacts, as when the variable is unset."""
    (tmp_path / "notes.txt").write_text("not an artifact")
    port = free_port()
    env = dict(os.environ, MLFLOW_ARTIFACTS_DESTINATION="", MLFLOW_DEFAULT_ARTIFACT_ROOT="")
    with open(tmp_path / "mlflowd.log", "wb") as log:
        proc = subprocess.Popen([BIN, "server", "--host", "127.0.0.1", "--port", str(port),
                                 "--backend-store-uri", f"sqlite:///{tmp_path}/mlflow.db"],
                                cwd=tmp_path, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "mlflowd.log").read_text()
            try:
                if requests.get(url + "/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                assert time.time() < deadline
                time.sleep(0.05)
        artifacts = url + "/api/2.0/mlflow-artifacts/artifacts/"
        assert requests.get(artifacts + "notes.txt", timeout=10).status_code == 404
        assert requests.get(artifacts + "mlflow.db", timeout=10).status_code == 404
        assert requests.put(artifacts + "0/x.txt", data=b"x", timeout=10).status_code == 200
        assert (tmp_path / "mlartifacts" / "0" / "x.txt").read_bytes() == b"x"
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0
    text = (tmp_path / "mlflowd.log").read_text()
    assert "Sanitizer" not in text and "runtime error" not in text, text


def test_a_bad_kserve_namespace_stops_the_start(make_server):
    with pytest.raises(RuntimeError, match="not a Kubernetes namespace name"):
        make_server(args=["--kserve-namespace", "Bad_NS"])


def test_auth_config_without_auth_is_reported(make_server, tmp_path):
    s = make_server(args=["--auth-config", str(tmp_path / "missing.ini")])
    assert "ignored: authentication is off" in s.log()
    assert s.api("POST", "experiments/create", {"name": "open"})["experiment_id"]


def test_mlflow_server_command_lines_start_it(make_server, tmp_path):
    """Flags of `mlflow server` that mean nothing here are accepted, so its command lines
    (a chart's args, a start script) start mlflowd: metrics are always at /metrics, the
    Python servers' options are named as ignored."""
    s = make_server(args=["--expose-prometheus", str(tmp_path / "prometheus"),
                          "--gunicorn-opts", "--timeout 60", "--uvicorn-opts", "--loop asyncio",
                          "--waitress-opts", "--threads 8", "--dev"])
    assert "are options of mlflow server's Python servers: ignored" in s.log()
    assert not (tmp_path / "prometheus").exists()
    r = s.get("/metrics")
    assert r.status_code == 200 and "mlflowd_http_requests_total" in r.text, r.text[:300]


@pytest.mark.parametrize("destination", ["", "file:", "file://"])
def test_an_empty_artifacts_destination_stops_the_start(make_server, destination):
    """--artifacts-destination "" made the working directory the proxy's root, the tracking
    database beside it: a client's PUT .../artifacts/mlflow.db replaced it ("file://"
    overran a buffer)."""
    with pytest.raises(RuntimeError) as e:
        make_server(args=["--artifacts-destination", destination])
    assert "names no directory" in str(e.value) and "Sanitizer" not in str(e.value)


@pytest.mark.requires_sqlite
def test_a_database_inside_the_artifacts_destination_is_warned_about(make_server, tmp_path):
    s = make_server(args=["--artifacts-destination", "."], workdir=tmp_path)
    assert "is inside the artifacts destination" in s.log()
    apart = make_server(workdir=tmp_path / "apart")
    assert "is inside the artifacts destination" not in apart.log()


def test_an_auth_database_inside_the_artifacts_destination_is_warned_about(tmp_path):
    """The auth database holds password hashes: the same warning, whatever the tracking
    database's engine."""
    work = tmp_path / "srv"
    s = start_auth_server(work, args=["--artifacts-destination", str(work)])
    try:
        assert "the auth database" in s.log() and "is inside the artifacts destination" in s.log()
    finally:
        s.stop()


@pytest.mark.parametrize("args,env,message", [
    (["--max-body-size", "-1"], {}, "not a valid size in bytes"),  # -1 was no limit at all
    (["--max-body-size", "+5"], {}, "not a valid size in bytes"),
    (["--max-body-size", " 5"], {}, "not a valid size in bytes"),
    ([], {"MLFLOWD_MAX_BODY_SIZE": "-1"}, "MLFLOWD_MAX_BODY_SIZE"),
    (["--port", "+5000"], {}, "not a valid number"),
    (["--x-frame-options", "ALLOW-FROM https://a.example"], {}, "SAMEORIGIN, DENY or NONE"),
    (["--x-frame-options", "DENY\r\nSet-Cookie: a=b"], {}, "SAMEORIGIN, DENY or NONE"),
    (["--allowed-hosts", ",,,"], {}, "names no host"),
    (["--cors-allowed-origins", " , "], {}, "names no origin"),
    (["--static-prefix", "/my prefix"], {}, "letters, digits"),
    (["--static-prefix", "/api"], {}, "choose another prefix"),
    (["--static-prefix", "/metrics"], {}, "choose another prefix"),
    (["--static-prefix", "/health/mlflow"], {}, "choose another prefix"),
    (["--auth-config", ""], {}, "--auth-config is empty"),
    ([], {"MLFLOW_TRUNCATE_LONG_VALUES": "no"}, "MLFLOW_TRUNCATE_LONG_VALUES"),
    ([], {"MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH": "-1"}, "MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH"),
    ([], {"MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH": "2k"}, "MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH"),
    ([], {"MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX": "^(?:s3|gs)://"},
     "not a POSIX extended regular expression"),
    # glibc reads \d as the letter d: a pattern that compiles, with another meaning
    ([], {"MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX": r"^s3://b/\d+$"},
     "not a POSIX extended regular expression"),
])
def test_an_invalid_value_stops_the_start(make_server, args, env, message):
    """README: an invalid value stops the start with the reason, never read as another."""
    with pytest.raises(RuntimeError) as e:
        make_server(args=args, env=env)
    assert message in str(e.value) and "exited with 1" in str(e.value), str(e.value)


def test_environment_only_settings_are_read_at_start(make_server):
    """MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH and MLFLOW_TRUNCATE_LONG_VALUES in any case."""
    s = make_server(env={"MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH": "40",
                         "MLFLOW_TRUNCATE_LONG_VALUES": "FALSE"})
    assert_error(s.post("/api/2.0/mlflow/experiments/create",
                        {"name": "long", "artifact_location": "/tmp/" + "x" * 40}),
                 400, "INVALID_PARAMETER_VALUE", "cannot be greater than 40 characters")
    run = s.api("POST", "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    assert_error(s.post("/api/2.0/mlflow/runs/log-parameter",
                        {"run_id": run, "key": "p", "value": "v" * 6001}),
                 400, "INVALID_PARAMETER_VALUE", "exceeded length limit of 6000")


def test_a_bad_s3_ignore_tls_stops_the_start(make_server):
    """MLFLOW_S3_IGNORE_TLS took any value but true and 1 as false (README: a bad S3 value stops
    the start, naming the variable)."""
    with pytest.raises(RuntimeError) as e:
        make_server(args=["--artifacts-destination", "s3://bucket/x"],
                    env={"MLFLOW_S3_IGNORE_TLS": "yes"})
    assert "MLFLOW_S3_IGNORE_TLS" in str(e.value)


def test_the_start_log_brackets_an_ipv6_host(tmp_path):
    port = free_port()
    proc = subprocess.Popen([BIN, "server", "--host", "::1", "--port", str(port),
                             "--backend-store-uri", f"sqlite:///{tmp_path}/mlflow.db",
                             "--artifacts-destination", str(tmp_path / "art")],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        lines = []
        while not any("ready in" in line for line in lines):
            line = proc.stderr.readline()
            assert line, "".join(lines)
            lines.append(line)
        assert f"listening on http://[::1]:{port}" in "".join(lines), "".join(lines)
    finally:
        proc.terminate()
        rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 0 and "Sanitizer" not in rest, rest


def test_server_help_names_the_short_forms():
    out = subprocess.run([BIN, "server", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for line in ("--host, -h VALUE", "--port, -p VALUE", "--workers, -w VALUE"):
        assert line in out.stdout, out.stdout
    assert "largest request line and headers together" in out.stdout
