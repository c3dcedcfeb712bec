"""Shared pieces of the auth tests (no tests here): an mlflowd with basic-auth on, its users,
and sessions that speak as them (the way the mlflow client does: preemptive
`Authorization: Basic` on every request)."""
import os
import uuid

import requests

from conftest import Server

ADMIN = ("admin", "password1234")
UNAUTHENTICATED_TEXT = (
    "You are not authenticated. Please see "
    "https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow "
    "on how to authenticate.")

# name -> level granted on every test resource (None: no row, default applies)
USERS = {
    "noperm": "NO_PERMISSIONS",
    "reader": "READ",
    "plain": None,
    "editor": "EDIT",
    "manager": "MANAGE",
}


def password_of(name):
    return f"pw-{name}-0123456789"


def write_ini(workdir, default_permission="READ", extra=""):
    os.makedirs(str(workdir), exist_ok=True)
    path = os.path.join(str(workdir), "basic_auth.ini")
    with open(path, "w") as f:
        f.write("[mlflow]\n"
                f"default_permission = {default_permission}\n"
                f"database_uri = sqlite:///{workdir}/basic_auth.db\n"
                "admin_username = admin\n"
                "admin_password = password1234\n"
                "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
                + extra)
    return path


def auth_env(ini_path, **more):
    env = {"MLFLOW_AUTH_CONFIG_PATH": ini_path, "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret"}
    env.update(more)
    return env


def start_auth_server(workdir, args=(), default_permission="READ", extra_ini="", env=None):
    ini = write_ini(workdir, default_permission, extra_ini)
    return Server(workdir, args=["--auth", *args], env=auth_env(ini, **(env or {}))).start()


def session(server, user=None, password=None):
    """A requests session for `user` (None = anonymous)."""
    s = requests.Session()
    if user is not None:
        s.auth = (user, password if password is not None else
                  (ADMIN[1] if user == "admin" else password_of(user)))
    return s


def call(s, server, method, path, params=None, body=None, data=None, headers=None):
    url = server.url + path
    kw = {"params": params, "timeout": 60, "headers": headers}
    if data is not None:
        kw["data"] = data
    elif body is not None or method in ("POST", "PATCH", "DELETE"):
        kw["json"] = body if body is not None else {}
    return s.request(method, url, **kw)


def admin_api(server, method, endpoint, body=None, params=None, expect=200, version="2.0"):
    r = call(session(server, "admin"), server, method, f"/api/{version}/mlflow/{endpoint}",
             params=params, body=body)
    assert r.status_code == expect, f"{method} {endpoint} -> {r.status_code} {r.text}"
    return r.json() if r.content else {}


def create_users(server, users=USERS):
    for name in users:
        r = call(session(server, "admin"), server, "POST", "/api/2.0/mlflow/users/create",
                 body={"username": name, "password": password_of(name)})
        assert r.status_code in (200, 400), r.text


def grant(server, kind, key, user, level):
    if kind == "exp":
        admin_api(server, "POST", "experiments/permissions/create",
                  {"experiment_id": key, "username": user, "permission": level})
    else:
        admin_api(server, "POST", "registered-models/permissions/create",
                  {"name": key, "username": user, "permission": level})


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def assert_unauthenticated(r):
    assert r.status_code == 401, r.text
    assert r.headers["WWW-Authenticate"] == 'Basic realm="mlflow"'
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.text == UNAUTHENTICATED_TEXT


def assert_forbidden(r):
    assert r.status_code == 403, r.text
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.text == "Permission denied"
