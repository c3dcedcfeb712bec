"""Security properties that cut across endpoints.

  * No secret reaches the log or the databases in the clear: after logins (good and
    bad), password changes by the user and by the admin, a refused too-short password,
    a signup through the form and Basic headers naming unknown users, neither any
    password, nor its `user:password` Base64 form, nor the server's CSRF secret appears
    in the server's output or in any file the server wrote (the auth DB holds hashes).
  * Reflected input cannot become markup: the signup form's answer escapes a hostile
    user name; JSON errors quoting a path are served as application/json.
  * Every error the server writes is JSON with MLflow's error shape, even for requests
    that never reach a handler (unknown path, wrong method, bad Content-Type).

Constant-time comparison is reviewed, not tested here: the auth code compares
password digests, CSRF MACs and cached-credential digests with CRYPTO_memcmp
(src/auth/passwords.c, auth.c, credential_cache.c)."""
import base64
import os
import re
import time
import uuid

import requests

from test_auth_helpers import call, session, start_auth_server


def token():
    return uuid.uuid4().hex[:12]


def test_no_secret_in_logs_or_files(tmp_path):
    """R-SSO-15: no password or Authorization value reaches the log."""
    secrets = {
        "admin": f"Adm1n-{token()}-pw",
        "flask": f"Flask-{token()}-key",
        "alice1": f"Alice-first-{token()}",
        "alice2": f"Alice-second-{token()}",
        "alice3": f"Alice-by-admin-{token()}",
        "wrong": f"Wrong-guess-{token()}",
        "short": f"Sh{token()[:6]}",        # under 12 characters: refused
        "bob": f"Bob-signup-{token()}",
        "ghost": f"Ghost-{token()}-pw",
        "query": f"Query-{token()}-pw",
        "dup": f"Dup-{token()}-password",
    }
    server = start_auth_server(tmp_path / "sec", env={
        "MLFLOWD_MLFLOW_ADMIN_PASSWORD": secrets["admin"],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets["flask"]})
    try:
        admin = session(server, "admin", secrets["admin"])
        api = "/api/2.0/mlflow/"

        def ok(r):
            assert r.status_code == 200, r.text
            return r

        ok(call(admin, server, "GET", api + "users/get", params={"username": "admin"}))
        assert call(session(server, "admin", secrets["wrong"]), server, "GET",
                    api + "users/get", params={"username": "admin"}).status_code == 401
        ok(call(admin, server, "POST", api + "users/create",
                body={"username": "alice", "password": secrets["alice1"]}))
        alice = session(server, "alice", secrets["alice1"])
        ok(call(alice, server, "GET", api + "users/get", params={"username": "alice"}))
        ok(call(alice, server, "POST", api + "experiments/create", body={"name": f"sec-{token()}"}))
        ok(call(alice, server, "PATCH", api + "users/update-password",
                body={"username": "alice", "password": secrets["alice2"]}))
        assert call(alice, server, "GET", api + "users/get",
                    params={"username": "alice"}).status_code == 401   # old password
        ok(call(admin, server, "PATCH", api + "users/update-password",
                body={"username": "alice", "password": secrets["alice3"]}))
        ok(call(session(server, "alice", secrets["alice3"]), server, "GET", api + "users/get",
                params={"username": "alice"}))
        r = call(admin, server, "POST", api + "users/create",
                 body={"username": f"shorty-{token()}", "password": secrets["short"]})
        assert r.status_code == 400 and secrets["short"] not in r.text, r.text
        r = call(admin, server, "POST", api + "users/create",
                 body={"username": "alice", "password": secrets["dup"]})
        assert r.status_code == 400 and secrets["dup"] not in r.text, r.text
        # the signup form
        page = ok(admin.get(server.url + "/signup"))
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        ok(admin.post(server.url + api + "users/create-ui",
                      data={"username": "bob", "password": secrets["bob"], "csrf_token": csrf}))
        # unknown users, malformed headers, a password in a query string
        assert call(session(server, "ghost", secrets["ghost"]), server, "GET",
                    api + "experiments/search", params={"max_results": 1}).status_code == 401
        header = "Basic " + base64.b64encode(f"ghost:{secrets['ghost']}x".encode()).decode()
        assert requests.get(server.url + "/version", headers={"Authorization": header},
                            timeout=60).status_code == 401
        assert call(admin, server, "GET", api + "users/get",
                    params={"username": "admin", "password": secrets["query"]}).status_code == 200
    finally:
        server.stop()

    texts = {"server log": server.log().encode()}
    for root, _, files in os.walk(server.workdir):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                texts[os.path.relpath(path, server.workdir)] = f.read()
    assert "basic_auth.db" in texts, sorted(texts)
    forms = {}
    for name, secret in secrets.items():
        forms[f"{name} password"] = secret.encode()
        for user in ("admin", "alice", "bob", "ghost"):
            forms[f"{name} as {user}:password Base64"] = base64.b64encode(
                f"{user}:{secret}".encode()).rstrip(b"=")[:-2]
    found = [(form, where) for form, needle in forms.items()
             for where, text in texts.items() if needle in text]
    assert not found, f"secrets written in the clear: {found}"
    # the log is not empty: it did record the logins and password changes
    log = texts["server log"].decode("utf-8", "replace")
    assert "audit:" in log and "alice" in log, log[-3000:]


def test_a_password_in_the_user_name_field_is_not_logged(tmp_path):
    """A Basic header without a colon (a token sent as the user name, a password typed
    into the browser's user-name field) must not put that text into the audit log: an
    unknown user name is as likely to be a secret as a name."""
    secret = f"Tok3n-{token()}-{token()}"
    server = start_auth_server(tmp_path / "tok")
    try:
        for text in (secret, f"{secret}:", f"admin{secret}:password1234"):
            header = "Basic " + base64.b64encode(text.encode()).decode()
            r = requests.get(server.url + "/version", headers={"Authorization": header}, timeout=60)
            assert r.status_code == 401
    finally:
        server.stop()
    log = server.log()
    assert secret not in log, [line for line in log.splitlines() if secret in line]


def test_signup_answer_escapes_a_hostile_user_name(tmp_path):
    server = start_auth_server(tmp_path / "xss")
    try:
        admin = session(server, "admin")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"',
                         admin.get(server.url + "/signup").text).group(1)
        name = 'x"</script><script>alert(1)</script><img src=x onerror=alert(2)>\\'
        r = admin.post(server.url + "/api/2.0/mlflow/users/create-ui",
                       data={"username": name, "password": "hostile-password-1", "csrf_token": csrf})
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/html")
        assert "<script>alert(1)" not in r.text and "<img" not in r.text, r.text
        # the alert's JavaScript string is not closed early by the name's quote
        m = re.search(r'alert\("(.*?)"\);', r.text, re.S)
        assert m and "Successfully signed up user: x" in m.group(1), r.text
        assert '"' not in m.group(1).replace('\\"', ""), m.group(1)
        assert "</script" not in m.group(1).lower(), m.group(1)
    finally:
        server.stop()


def test_errors_quoting_input_are_json_not_html(server):
    for method, path, headers in [
            ("GET", "/api/2.0/mlflow/<script>alert(1)</script>", {}),
            ("GET", "/<svg onload=alert(1)>", {}),
            ("PUT", "/api/2.0/mlflow/experiments/<b>create</b>", {}),
            ("POST", "/api/2.0/mlflow/experiments/create", {"Content-Type": "text/<b>html</b>"})]:
        r = requests.request(method, server.url + path, data=b"{}", headers=headers, timeout=60)
        assert 400 <= r.status_code < 500, r.text
        ctype = r.headers.get("Content-Type", "")
        if "<" in r.text:
            assert ctype.startswith("application/json"), (path, ctype, r.text)
        body = r.json()
        assert body["error_code"] and body["message"], body


def test_server_does_not_advertise_itself_in_detail(server):
    """Answers carry no Server header naming library versions an attacker could look up
    (libmicrohttpd adds none unless asked)."""
    r = requests.get(server.url + "/health", timeout=60)
    assert "microhttpd" not in r.headers.get("Server", "").lower(), r.headers
    r = requests.get(server.url + "/no/such/path", timeout=60)
    assert "microhttpd" not in r.text.lower()


def test_refused_bodies_are_not_read_without_end(tmp_path):
    """An unauthenticated request's body is read as far as --max-body-size (so a client
    that sends first and reads after, as the mlflow client does, sees the 401 rather than a
    reset), then the connection ends; a client that asked "Expect: 100-continue" gets the
    401 at once instead of "100 Continue" (it used to be told to send its gigabyte, and any
    refused body was read to its end)."""
    import socket
    s = start_auth_server(tmp_path, args=["--max-body-size", str(4 << 20)])
    try:
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        sock.sendall(b"PUT /api/2.0/mlflow-artifacts/artifacts/1/big.bin HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Length: 1000000000\r\nExpect: 100-continue\r\n\r\n")
        answer = sock.recv(4096).decode()
        sock.close()
        assert answer.startswith("HTTP/1.1 401") and "100 Continue" not in answer, answer

        sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        sock.sendall(b"POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
        sent, ended = 0, False
        try:
            while sent < 64 << 20:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            ended = True
        sock.close()
        assert ended and sent < 16 << 20, sent
        # a refused body within the limit is read, and the client gets its 401
        for size in (1000, 3 << 20):
            r = requests.post(f"{s.url}/api/2.0/mlflow/experiments/create",
                              json={"name": "x" * size}, auth=("admin", "wrong-password"),
                              timeout=30)
            assert r.status_code == 401, (size, r.text)
    finally:
        s.stop()


def test_control_characters_cannot_forge_log_lines(server):
    """A path with an escaped newline is logged as \\x0a: one request, one line."""
    r = requests.get(f"{server.url}/api/2.0/mlflow/x%0a2026-01-01T00:00:00.000Z%20INFO%20forged",
                     timeout=30)
    assert r.status_code == 404
    lines = server.log().splitlines()
    assert not any(line.startswith("2026-01-01T00:00:00.000Z INFO forged") for line in lines)
    assert any("/x\\x0a2026-01-01T00:00:00.000Z INFO forged" in line for line in lines)


def test_refusals_a_client_never_reads_hold_no_database_connection(tmp_path):
    """A permission check that reads the database and refuses (here: a READ user's
    log-batch on a run that does not exist, 404) gives its connection back before the
    refusal is written: a user pipelining such requests without reading the answers
    cannot take the pool (--workers 1) from everyone else."""
    import socket
    s = start_auth_server(tmp_path, args=["--workers", "1"], default_permission="READ")
    try:
        admin = session(s, "admin", "password1234")
        assert admin.post(f"{s.url}/api/2.0/mlflow/users/create",
                          json={"username": "reader1", "password": "reader-password-1"},
                          timeout=30).status_code == 200
        token = base64.b64encode(b"reader1:reader-password-1").decode()
        body = '{"run_id": "%s", "metrics": []}' % ("0" * 32)
        one = (f"POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: localhost\r\n"
               f"Authorization: Basic {token}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n{body}").encode()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", s.port))
        sock.settimeout(3)
        try:
            for _ in range(1000):  # until the server stops reading: blocked writing refusals
                sock.sendall(one * 100)
        except (socket.timeout, OSError):
            pass
        time.sleep(1)
        r = admin.post(f"{s.url}/api/2.0/mlflow/runs/search", json={"experiment_ids": ["0"]},
                       timeout=25)
        assert r.status_code == 200, r.text
        sock.close()
    finally:
        s.stop()
