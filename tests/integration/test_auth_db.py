"""Auth database and configuration (schema.md §5, auth.md §1, §6, config.md):
databases written by MLflow itself (current DDL and a pre-3.6 one) are served
and upgraded, the startup admin is created once and never reset, several
replicas sharing one auth DB see password changes at once, and a bad INI file
stops the start with a message naming the problem."""
import os
import sqlite3
import subprocess

import pytest

from conftest import BIN, Server, free_port
from test_auth_helpers import (admin_api, assert_forbidden, assert_unauthenticated, auth_env,
                               call, session, start_auth_server, unique, write_ini)

HEAD = "0965eb92f5f0"

# schema.md Appendix B: what MLflow's migrations create.
MLFLOW_AUTH_DDL = """
CREATE TABLE alembic_version_auth (
	version_num VARCHAR(32) NOT NULL,
	CONSTRAINT alembic_version_auth_pkc PRIMARY KEY (version_num)
);
CREATE TABLE experiment_permissions (
	id INTEGER NOT NULL,
	experiment_id VARCHAR(255) NOT NULL,
	user_id INTEGER NOT NULL,
	permission VARCHAR(255),
	PRIMARY KEY (id),
	CONSTRAINT fk_user_id FOREIGN KEY(user_id) REFERENCES users (id),
	CONSTRAINT unique_experiment_user UNIQUE (experiment_id, user_id)
);
CREATE TABLE registered_model_permissions (
	id INTEGER NOT NULL,
	name VARCHAR(255) NOT NULL,
	user_id INTEGER NOT NULL,
	permission VARCHAR(255),
	PRIMARY KEY (id),
	CONSTRAINT fk_user_id FOREIGN KEY(user_id) REFERENCES users (id),
	CONSTRAINT unique_name_user UNIQUE (name, user_id)
);
CREATE TABLE scorer_permissions (
	id INTEGER NOT NULL,
	experiment_id VARCHAR(255) NOT NULL,
	scorer_name VARCHAR(256) NOT NULL,
	user_id INTEGER NOT NULL,
	permission VARCHAR(255),
	PRIMARY KEY (id),
	CONSTRAINT fk_scorer_perm_user_id FOREIGN KEY(user_id) REFERENCES users (id),
	CONSTRAINT unique_scorer_user UNIQUE (experiment_id, scorer_name, user_id)
);
CREATE TABLE users (
	id INTEGER NOT NULL,
	username VARCHAR(255),
	password_hash VARCHAR(255),
	is_admin BOOLEAN,
	PRIMARY KEY (id),
	UNIQUE (username)
);
"""

# Hashes of "password1234" from auth.md §6, as older werkzeug releases wrote them.
PBKDF2_600K = ("pbkdf2:sha256:600000$abcdefghijklmnop$4006a4e16079d6a3714ff8d7afe8a3c3272207e2d0"
               "206aa5f1e2d81261a34690")
PBKDF2_260K = ("pbkdf2:sha256:260000$abcdefghijklmnop$e899cf972d255b26b6b68a9ef80f00520c66daea0e"
               "31011662d58edbe14cfcbf")
SCRYPT_16K = ("scrypt:16384:8:1$abcdefghijklmnop$beca6b8866895c524ed3d41a60e26df2a98c0d19f6f107b1"
              "e0dd43966d6c898779ce2c018d8eb9ca2f003cc59c5d4eddc34ac6435d1163f1c541680c64d0ca09")


def fill_users(conn):
    conn.executemany("INSERT INTO users (id, username, password_hash, is_admin) VALUES (?,?,?,?)",
                     [(1, "admin", PBKDF2_600K, 1), (2, "old", PBKDF2_260K, 0),
                      (3, "newer", SCRYPT_16K, 0)])
    conn.execute("INSERT INTO experiment_permissions (experiment_id, user_id, permission) "
                 "VALUES ('7', 2, 'MANAGE')")
    conn.execute("INSERT INTO registered_model_permissions (name, user_id, permission) "
                 "VALUES ('legacy-model', 2, 'EDIT')")


def schema_of(path):
    """MLflow's tables (mlflowd adds only tables of its own, named mlflowd_*)."""
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type='table' "
                        "AND name NOT LIKE 'mlflowd\\_%' ESCAPE '\\' ORDER BY name").fetchall()
    version = conn.execute("SELECT version_num FROM alembic_version_auth").fetchall()
    conn.close()
    return dict(rows), version


def test_database_made_by_mlflow_is_served_unchanged(tmp_path):
    """R-SSO-14: werkzeug pbkdf2 and scrypt hashes of an MLflow auth DB verify."""
    db = tmp_path / "basic_auth.db"
    conn = sqlite3.connect(db)
    conn.executescript(MLFLOW_AUTH_DDL)
    conn.execute("INSERT INTO alembic_version_auth VALUES (?)", (HEAD,))
    fill_users(conn)
    conn.commit()
    conn.close()
    before = schema_of(db)
    s = start_auth_server(tmp_path)
    try:
        # The admin row is MLflow's (pbkdf2), never reset by the start.
        for user in ("admin", "old", "newer"):
            r = call(session(s, user, "password1234"), s, "GET", "/api/2.0/mlflow/users/get",
                     params={"username": user})
            assert r.status_code == 200, (user, r.text)
        got = admin_api(s, "GET", "experiments/permissions/get",
                        params={"experiment_id": "7", "username": "old"})
        assert got["experiment_permission"] == {"experiment_id": "7", "user_id": 2,
                                                "permission": "MANAGE"}
    finally:
        s.stop()
    assert schema_of(db) == before


def test_legacy_database_is_upgraded_to_head(tmp_path):
    db = tmp_path / "basic_auth.db"
    legacy = ";\n".join(stmt for stmt in MLFLOW_AUTH_DDL.split(";")
                       if "alembic_version_auth" not in stmt and "scorer_permissions" not in stmt)
    conn = sqlite3.connect(db)
    conn.executescript(legacy + ";")
    fill_users(conn)
    conn.commit()
    conn.close()
    s = start_auth_server(tmp_path)
    try:
        r = call(session(s, "old", "password1234"), s, "GET",
                 "/api/2.0/mlflow/registered-models/permissions/get",
                 params={"name": "legacy-model", "username": "old"})
        assert r.status_code == 403  # EDIT is not MANAGE
        got = admin_api(s, "GET", "users/get", params={"username": "old"})["user"]
        assert got["registered_model_permissions"] == [
            {"name": "legacy-model", "user_id": 2, "permission": "EDIT"}]
        assert got["scorer_permissions"] == []
        admin_api(s, "POST", "scorers/permissions/create",
                  {"experiment_id": "7", "scorer_name": "s", "username": "old",
                   "permission": "READ"}, version="3.0")
    finally:
        s.stop()
    tables, version = schema_of(db)
    assert version == [(HEAD,)]
    assert "scorer_permissions" in tables and "alembic_version_auth" in tables


def test_admin_is_created_once_and_never_reset(tmp_path):
    s = start_auth_server(tmp_path)
    admin_api(s, "PATCH", "users/update-password",
              {"username": "admin", "password": "changed-password-1"}, expect=200)
    s.stop()
    s = start_auth_server(tmp_path)  # the INI still says password1234
    try:
        assert_unauthenticated(call(session(s, "admin", "password1234"), s, "GET",
                                    "/api/2.0/mlflow/users/get", params={"username": "admin"}))
        r = call(session(s, "admin", "changed-password-1"), s, "GET",
                 "/api/2.0/mlflow/users/get", params={"username": "admin"})
        assert r.status_code == 200 and r.json()["user"]["is_admin"] is True
    finally:
        s.stop()


def test_replicas_sharing_the_auth_db_see_password_changes_at_once(tmp_path):
    a = start_auth_server(tmp_path / "a")
    ini = write_ini(tmp_path / "a")  # same auth DB file for both
    b = Server(tmp_path / "b", args=["--auth"], env=auth_env(ini)).start()
    try:
        admin_api(a, "POST", "users/create", {"username": "rep", "password": "replica-pass-1"})
        old_on_b = session(b, "rep", "replica-pass-1")
        path = "/api/2.0/mlflow/users/get"
        assert call(old_on_b, b, "GET", path, params={"username": "rep"}).status_code == 200
        call(session(a, "rep", "replica-pass-1"), a, "PATCH",
             "/api/2.0/mlflow/users/update-password",
             body={"username": "rep", "password": "replica-pass-2"})
        assert_unauthenticated(call(old_on_b, b, "GET", path, params={"username": "rep"}))
        admin_api(a, "DELETE", "users/delete", {"username": "rep"})
        assert_unauthenticated(call(session(b, "rep", "replica-pass-2"), b, "GET", path,
                                    params={"username": "rep"}))
    finally:
        b.stop()
        a.stop()


def test_auth_tables_may_share_the_tracking_database(tmp_path):
    """MLflow lets the auth app's database_uri name the tracking database: its tables (and
    mlflowd's SSO tables) are no reason to refuse that database as "not MLflow's", however
    the two schemas come to be made (auth first here, on a new file)."""
    db = tmp_path / "shared.db"
    ini = tmp_path / "shared.ini"
    ini.write_text(open(write_ini(tmp_path / "srv")).read().replace(
        f"sqlite:///{tmp_path / 'srv'}/basic_auth.db", f"sqlite:///{db}"))
    s = Server(tmp_path / "srv", args=["--auth", f"--backend-store-uri=sqlite:///{db}"],
               env=auth_env(str(ini))).start()
    try:
        admin_api(s, "POST", "experiments/create", {"name": "in-shared-db"})
        admin_api(s, "POST", "users/create", {"username": "shared", "password": "shared-pass-1"})
    finally:
        s.stop()
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert conn.execute("SELECT count(*) FROM experiments WHERE name = 'in-shared-db'"
                            ).fetchone() == (1,)
    assert {"users", "experiments", "mlflowd_sessions", "alembic_version",
            "alembic_version_auth"} <= tables
    # a database with a stranger's table is still refused
    stranger = tmp_path / "stranger.db"
    with sqlite3.connect(stranger) as conn:
        conn.execute("CREATE TABLE users (id INTEGER)")
    out = subprocess.run([BIN, "db", "upgrade", f"sqlite:///{stranger}"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode != 0 and "no MLflow schema revision" in out.stderr


def test_grants_changed_by_another_process_are_enforced_at_once(tmp_path):
    """mlflowd remembers the rows it read for a decision (half a second at most), but a
    change to the shared SQLite auth DB — by another replica, or by MLflow itself writing
    the file — shows on the very next request."""
    a = start_auth_server(tmp_path / "a", default_permission="NO_PERMISSIONS")
    ini = write_ini(tmp_path / "a", default_permission="NO_PERMISSIONS")
    b = Server(tmp_path / "b", args=["--auth"], env=auth_env(ini)).start()
    try:
        admin_api(a, "POST", "users/create", {"username": "rev", "password": "revoke-pass-1"})
        grant = {"experiment_id": "0", "username": "rev", "permission": "READ"}
        admin_api(a, "POST", "experiments/permissions/create", grant)
        rev = session(b, "rev", "revoke-pass-1")
        path, params = "/api/2.0/mlflow/experiments/get", {"experiment_id": "0"}
        for _ in range(3):  # remembered now
            assert call(rev, b, "GET", path, params=params).status_code == 200
        admin_api(a, "DELETE", "experiments/permissions/delete",
                  {"experiment_id": "0", "username": "rev"})
        assert_forbidden(call(rev, b, "GET", path, params=params))
        admin_api(a, "POST", "experiments/permissions/create", grant)
        assert call(rev, b, "GET", path, params=params).status_code == 200
        # a writer that is not mlflowd (MLflow's own server, a migration, an admin's sqlite3)
        db = sqlite3.connect(str(tmp_path / "a" / "basic_auth.db"))
        with db:
            db.execute("UPDATE experiment_permissions SET permission = 'NO_PERMISSIONS'")
        db.close()
        assert_forbidden(call(rev, b, "GET", path, params=params))
        assert_forbidden(call(rev, a, "GET", path, params=params))
    finally:
        b.stop()
        a.stop()


def test_default_no_permissions_hides_everything_but_own_creations(tmp_path):
    s = start_auth_server(tmp_path, default_permission="NO_PERMISSIONS")
    try:
        admin_api(s, "POST", "users/create", {"username": "nina", "password": "nina-password-1"})
        nina = session(s, "nina", "nina-password-1")
        theirs = admin_api(s, "POST", "experiments/create", {"name": unique("admins")})
        assert_forbidden(call(nina, s, "GET", "/api/2.0/mlflow/experiments/get",
                              params={"experiment_id": theirs["experiment_id"]}))
        r = call(nina, s, "POST", "/api/2.0/mlflow/experiments/create",
                 body={"name": unique("ninas")})
        assert r.status_code == 200, r.text
        mine = r.json()["experiment_id"]
        r = call(nina, s, "GET", "/api/2.0/mlflow/experiments/get",
                 params={"experiment_id": mine})
        assert r.status_code == 200, r.text
        r = call(nina, s, "POST", "/api/2.0/mlflow/experiments/search",
                 body={"max_results": 100})
        assert r.status_code == 200, r.text
        assert [e["experiment_id"] for e in r.json().get("experiments", [])] == [mine]
        r = s.session.get(s.url + "/api/2.0/mlflow-artifacts/artifacts/x.txt",
                          auth=("nina", "nina-password-1"))
        assert_forbidden(r)
    finally:
        s.stop()


def test_app_name_basic_auth_turns_the_layer_on(tmp_path):
    ini = write_ini(tmp_path)
    s = Server(tmp_path, args=["--app-name", "basic-auth"], env=auth_env(ini)).start()
    try:
        assert_unauthenticated(s.session.get(s.url + "/version"))
    finally:
        s.stop()


def test_missing_secret_key_only_warns(tmp_path):
    ini = write_ini(tmp_path)
    env = auth_env(ini)
    env.pop("MLFLOW_FLASK_SERVER_SECRET_KEY")
    s = Server(tmp_path, args=["--auth"], env=dict(env, MLFLOW_FLASK_SERVER_SECRET_KEY="")).start()
    try:
        assert "MLFLOW_FLASK_SERVER_SECRET_KEY is not set" in s.log()
    finally:
        s.stop()


def start_expecting_failure(tmp_path, ini_text, extra_env=None):
    path = tmp_path / "bad.ini"
    path.write_text(ini_text)
    env = dict(os.environ, MLFLOW_AUTH_CONFIG_PATH=str(path), **(extra_env or {}))
    proc = subprocess.run(
        [BIN, "server", "--auth", "--port", str(free_port()),
         "--backend-store-uri", f"sqlite:///{tmp_path}/mlflow.db",
         "--artifacts-destination", f"{tmp_path}/art"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0, proc.stderr
    return proc.stderr


@pytest.mark.parametrize("text,part", [
    ("[mlflow]\ndefault_permision = READ\n", "unknown key 'default_permision'"),
    ("[mlflw]\ndefault_permission = READ\n", "unknown section [mlflw]"),
    ("[mlflow]\ndefault_permission = ALL\n", "default_permission 'ALL'"),
    ("[mlflow]\nauthorization_function = my_company.auth:check\n",
     "authorization_function 'my_company.auth:check' is not supported"),
    ("[mlflow]\nadmin_password = short\n", "Password must be a string longer than 12"),
])
def test_bad_config_stops_the_start_naming_key_and_file(tmp_path, text, part):
    text = text + f"database_uri = sqlite:///{tmp_path}/a.db\n" if "[mlflow]" in text else text
    err = start_expecting_failure(tmp_path, text)
    assert part in err, err
    assert "bad.ini" in err or "admin_password" in err, err


def test_missing_config_file_stops_the_start(tmp_path):
    env = dict(os.environ, MLFLOW_AUTH_CONFIG_PATH=str(tmp_path / "nope.ini"))
    proc = subprocess.run([BIN, "server", "--auth", "--port", str(free_port())], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "nope.ini" in proc.stderr


def test_environment_overrides_the_file(tmp_path):
    ini = write_ini(tmp_path)
    env = auth_env(ini, MLFLOWD_MLFLOW_ADMIN_USERNAME="root",
                   MLFLOWD_MLFLOW_ADMIN_PASSWORD="root-password-123",
                   MLFLOWD_MLFLOW_DEFAULT_PERMISION="NO_PERMISSIONS")  # misspelt: not read
    s = Server(tmp_path, args=["--auth"], env=env).start()
    try:
        r = call(session(s, "root", "root-password-123"), s, "GET", "/api/2.0/mlflow/users/get",
                 params={"username": "root"})
        assert r.status_code == 200 and r.json()["user"]["is_admin"] is True
        # the misspelt override is named at start, not silently dropped
        assert ("environment variable MLFLOWD_MLFLOW_DEFAULT_PERMISION names no key" in s.log())
        assert "MLFLOWD_MLFLOW_ADMIN_PASSWORD names no key" not in s.log()
    finally:
        s.stop()


def test_an_auth_database_lacking_tables_is_refused(tmp_path):
    """An auth database stamped at head must be whole: with a table dropped, the start stops
    naming it, rather than serving 500s from the requests that use it."""
    start_auth_server(tmp_path).stop()
    conn = sqlite3.connect(tmp_path / "basic_auth.db")
    conn.execute("DROP TABLE registered_model_permissions")
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError) as e:
        start_auth_server(tmp_path)
    assert "lacks the tables registered_model_permissions" in str(e.value), str(e.value)[-800:]


def test_db_upgrade_auth_makes_and_upgrades_an_auth_database(tmp_path):
    """`mlflowd db upgrade --auth URI`: what the server's start does to an auth database
    (MLflow's schema at head, a pre-3.6 one upgraded, mlflowd's SSO tables), run by a
    deployment's init job as the database's owner; no admin user (the server makes it)."""
    def upgrade(db):
        return subprocess.run([BIN, "db", "upgrade", "--auth", f"sqlite:///{db}"],
                              capture_output=True, text=True, timeout=60)

    fresh = tmp_path / "fresh.db"
    for _ in range(2):  # and again: nothing to do
        r = upgrade(fresh)
        assert r.returncode == 0, r.stderr
    tables, version = schema_of(fresh)
    assert version == [(HEAD,)]
    assert {"users", "experiment_permissions", "scorer_permissions"} <= set(tables)
    conn = sqlite3.connect(fresh)
    ours = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name LIKE 'mlflowd%'")}
    assert ours == {"mlflowd_sso_identities", "mlflowd_access_tokens", "mlflowd_sessions"}
    assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)
    conn.close()
    legacy = tmp_path / "legacy.db"
    conn = sqlite3.connect(legacy)
    conn.executescript(";\n".join(stmt for stmt in MLFLOW_AUTH_DDL.split(";")
                                  if "alembic_version_auth" not in stmt
                                  and "scorer_permissions" not in stmt) + ";")
    fill_users(conn)
    conn.commit()
    conn.close()
    r = upgrade(legacy)
    assert r.returncode == 0, r.stderr
    tables, version = schema_of(legacy)
    assert version == [(HEAD,)] and "scorer_permissions" in tables
    r = subprocess.run([BIN, "db", "upgrade", "--auth"], capture_output=True, text=True)
    assert r.returncode == 2
