"""Shared pieces of the single sign-on tests (no tests here): the test issuers started on
127.0.0.1 (tests/tools-oidc), an mlflowd with `authorization_function = mlflowd:sso`, and
sessions that speak with a bearer token, trusted headers or from another loopback address."""
import json
import os
import subprocess
import time

import requests
from requests.adapters import HTTPAdapter

from conftest import Server, free_port

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
TOOLS = os.path.join(ROOT, "tests", "tools-oidc")

MAPPINGS = {
    "admin": "mlflow-admin",
    "MANAGE": "devops",
    "EDIT": "editor, /data-science",
    "READ": "viewer, mlflow:reader",
}


def install_tools():
    subprocess.run([os.path.join(ROOT, "scripts", "oidc-test-tools.sh"), "install"], check=True)


class NodeServer:
    """A node script of tests/tools-oidc on a free loopback port."""

    def __init__(self, workdir, script, *args):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        os.makedirs(str(workdir), exist_ok=True)
        self.log_path = os.path.join(str(workdir), script + ".log")
        self.cmd = ["node", os.path.join(TOOLS, script), str(self.port), *args]
        self.proc = None

    def start(self, probe):
        install_tools()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=log, cwd=TOOLS)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.cmd[1]} exited: {self.log()}")
            try:
                requests.get(self.base + probe, timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.cmd[1]} did not answer in 30 s")

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class FakeIssuer(NodeServer):
    """tests/tools-oidc/fake-issuer.mjs: Keycloak's paths for realm `test`, mints tokens."""

    def __init__(self, workdir):
        super().__init__(workdir, "fake-issuer.mjs")
        self.issuer = f"{self.base}/realms/test"

    def start(self):
        return super().start("/control/counts")

    def mint(self, claims=None, header=None, key="k1", variant=""):
        r = requests.post(self.base + "/control/mint", timeout=10, data=json.dumps(
            {"claims": claims or {}, "header": header or {}, "key": key, "variant": variant}))
        r.raise_for_status()
        return r.json()["token"]

    def counts(self):
        return requests.get(self.base + "/control/counts", timeout=10).json()

    def rotate(self):
        requests.post(self.base + "/control/rotate", timeout=10).raise_for_status()

    def fail(self, discovery=False, jwks=False):
        """Discovery answers 503 / the JWKS answers 200 with no usable keys (jwks="huge": a 200 of
        2 MiB), until called again."""
        requests.post(self.base + "/control/fail", data=json.dumps(
            {"discovery": discovery, "jwks": jwks}), timeout=10).raise_for_status()

    def set_user(self, **user):
        requests.post(self.base + "/control/user", data=json.dumps(user), timeout=10).raise_for_status()

    def delay_refresh(self, ms):
        """Refresh-token grants answer `ms` later, until called again."""
        requests.post(self.base + "/control/delay", data=json.dumps({"refresh_ms": ms}),
                      timeout=10).raise_for_status()


def claims_for(username, sub=None, roles=(), client_roles=(), groups=(), **more):
    claims = {"preferred_username": username, "email": f"{username}@example.test",
              "sub": sub or f"sub-{username}", "realm_access": {"roles": list(roles)},
              "resource_access": {"mlflow": {"roles": list(client_roles)}},
              "groups": list(groups)}
    claims.update(more)
    return claims


def write_sso_ini(workdir, issuer, sso=None, mappings=None, default_permission="READ",
                  function="mlflowd:sso"):
    os.makedirs(str(workdir), exist_ok=True)
    path = os.path.join(str(workdir), "auth.ini")
    settings = {"modes": "bearer", "issuer": issuer, "audiences": "mlflow"}
    settings.update(sso or {})
    with open(path, "w") as f:
        f.write("[mlflow]\n"
                f"default_permission = {default_permission}\n"
                f"database_uri = sqlite:///{workdir}/basic_auth.db\n"
                "admin_username = admin\n"
                "admin_password = password1234\n"
                f"authorization_function = {function}\n\n[role_mappings]\n")
        for level, roles in (MAPPINGS if mappings is None else mappings).items():
            f.write(f"{level} = {roles}\n")
        f.write("\n[sso]\n")
        for k, v in settings.items():
            if v is not None:
                f.write(f"{k} = {v}\n")
    return path


def start_sso_server(workdir, issuer, sso=None, mappings=None, args=(), env=None, **ini):
    path = write_sso_ini(workdir, issuer, sso, mappings, **ini)
    e = {"MLFLOW_AUTH_CONFIG_PATH": path, "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret-key"}
    e.update(env or {})
    return Server(workdir, args=["--auth", *args], env=e).start()


def bearer(token):
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    return s


class SourceAddressAdapter(HTTPAdapter):
    """Connects from a given local address (127.0.0.2 is loopback too, but not trusted)."""

    def __init__(self, address, **kw):
        self.address = address
        super().__init__(**kw)

    def init_poolmanager(self, *a, **kw):
        kw["source_address"] = (self.address, 0)
        return super().init_poolmanager(*a, **kw)


def session_from(address):
    s = requests.Session()
    s.mount("http://", SourceAddressAdapter(address))
    return s


def api(s, server, method, endpoint, body=None, params=None, version="2.0", service="mlflow"):
    url = f"{server.url}/api/{version}/{service}/{endpoint}"
    if method == "GET":
        return s.get(url, params=params, timeout=60)
    return s.request(method, url, json=body if body is not None else {}, params=params, timeout=60)


def assert_invalid_token(r):
    assert r.status_code == 401, r.text
    assert r.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"', r.headers
    body = r.json()
    assert body["error_code"] == "UNAUTHENTICATED", body
    return body["message"]
