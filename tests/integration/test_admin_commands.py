"""`mlflowd admin init-db | init-bucket | keycloak` — the provisioning the Helm chart's hook Jobs
run (sso-and-deploy.md §2.6, §4.4, R-HELM-11). Each runs twice: the first run creates, the second
finds everything in place and changes nothing. init-db runs against the PostgreSQL test cluster
(in the PostgreSQL pass of `make test`), init-bucket against s3rver behind the SigV4-checking
proxy (with --minio-user also against a fake of MinIO's admin API that checks signatures and
decrypts the add-user bodies), keycloak against a fake of Keycloak's Admin REST API that keeps
state like Keycloak and records every call, so the calls and payloads are compared with §2.6."""
import json
import os
import subprocess
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from conftest import BIN, S3Server
from testdb import PG_ADMIN_URI


def admin(*args, env=None):
    full_env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", **(env or {}))
    out = subprocess.run([BIN, "admin", *args], env=full_env, capture_output=True, text=True,
                         timeout=120)
    assert "Sanitizer" not in out.stderr and "runtime error" not in out.stderr, out.stderr
    return out


def summary(out):
    return out.stdout.strip().splitlines()[-1]


# --- init-db ---------------------------------------------------------------------------------

def pg(sql, params=(), dbname=None):
    import psycopg2
    uri = PG_ADMIN_URI if not dbname else PG_ADMIN_URI.rsplit("/", 1)[0] + "/" + dbname
    conn = psycopg2.connect(uri)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def catalog(prefix):
    """Everything init-db may touch: roles (password verifier included) and databases."""
    roles = pg("SELECT rolname, rolcanlogin, rolpassword FROM pg_authid WHERE rolname LIKE %s "
               "ORDER BY 1", (prefix + "%",))
    dbs = pg("SELECT datname, pg_get_userbyid(datdba), datacl::text FROM pg_database "
             "WHERE datname LIKE %s ORDER BY 1", (prefix + "%",))
    return roles, dbs


@pytest.fixture
def pg_prefix():
    prefix = "mlfd_adm_" + uuid.uuid4().hex[:8]
    yield prefix
    for db in (prefix, prefix + "_auth", prefix + "_other"):
        pg(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    pg(f"DROP ROLE IF EXISTS {prefix}")


@pytest.mark.requires_postgres
def test_init_db_creates_once_then_changes_nothing(pg_prefix, tmp_path):
    password = "it's a \"secret\" \\ with spaces"
    env = {"MLFLOWD_DB_PASSWORD": password}
    first = admin("init-db", "--admin-uri", PG_ADMIN_URI, "--prefix", pg_prefix, env=env)
    assert first.returncode == 0, first.stderr
    assert summary(first) == "init-db: 3 created, 0 updated, 0 unchanged"
    snapshot = catalog(pg_prefix)
    second = admin("init-db", "--admin-uri", PG_ADMIN_URI, "--prefix", pg_prefix, env=env)
    assert second.returncode == 0, second.stderr
    assert summary(second) == "init-db: 0 created, 0 updated, 3 unchanged"
    assert catalog(pg_prefix) == snapshot
    # the role logs in to both databases, owns them, and PUBLIC may not connect
    host = PG_ADMIN_URI.split("@", 1)[1].split("/", 1)[0]
    quoted = urllib.parse.quote(password, safe="")
    for db in (pg_prefix, pg_prefix + "_auth"):
        assert pg("SELECT pg_get_userbyid(datdba), has_database_privilege('public', oid, "
                  "'CONNECT') FROM pg_database WHERE datname = %s", (db,)) == [(pg_prefix, False)]
        import psycopg2
        psycopg2.connect(f"postgresql://{pg_prefix}:{quoted}@{host}/{db}").close()
    # the schema goes in with the new role (what the chart's migration Job does next)
    uri = f"postgresql://{pg_prefix}:{quoted}@{host}/{pg_prefix}"
    up = subprocess.run([BIN, "db", "upgrade", uri], capture_output=True, text=True)
    assert up.returncode == 0, up.stderr
    assert pg("SELECT version_num FROM alembic_version", dbname=pg_prefix) == [("bf29a5ff90ea",)]
    assert quoted not in up.stderr and password not in up.stderr


@pytest.mark.requires_postgres
def test_init_db_with_an_admin_that_is_no_superuser(pg_prefix):
    """README: the admin only needs to be a role that may create roles and databases (as on
    managed PostgreSQL). On PostgreSQL 15 such an admin must join the new role to make it a
    database's owner. One that may not create roles fails, and its error shows no password
    verifier (an offline attack's input)."""
    host = PG_ADMIN_URI.split("@", 1)[1].split("/", 1)[0]
    managed, weak = pg_prefix + "_mgd", pg_prefix + "_weak"
    pg(f"CREATE ROLE {managed} LOGIN CREATEROLE CREATEDB PASSWORD 'managed-pw'")
    pg(f"CREATE ROLE {weak} LOGIN CREATEDB PASSWORD 'weak-pw'")
    try:
        env = {"MLFLOWD_DB_PASSWORD": "app-password"}
        uri = f"postgresql://{managed}:managed-pw@{host}/postgres"
        out = admin("init-db", "--admin-uri", uri, "--prefix", pg_prefix, env=env)
        assert out.returncode == 0, out.stderr
        assert summary(out) == "init-db: 3 created, 0 updated, 0 unchanged"
        out = admin("init-db", "--admin-uri", uri, "--prefix", pg_prefix, env=env)
        assert summary(out) == "init-db: 0 created, 0 updated, 3 unchanged", out.stdout
        out = admin("init-db", "--admin-uri", f"postgresql://{weak}:weak-pw@{host}/postgres",
                    "--prefix", pg_prefix + "_other", env=env)
        assert out.returncode == 1 and "permission denied to create role" in out.stderr, out.stderr
        assert "SCRAM-SHA-256" not in out.stderr and "'***'" in out.stderr, out.stderr
        assert "\\x0a" not in out.stderr, out.stderr
    finally:
        for db in (pg_prefix, pg_prefix + "_auth"):
            pg(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        pg(f"DROP ROLE IF EXISTS {managed}")
        pg(f"DROP ROLE IF EXISTS {weak}")


@pytest.mark.requires_postgres
def test_init_db_repairs_what_drifted(pg_prefix, tmp_path):
    pw_file = tmp_path / "pw"
    pw_file.write_text("first-password\n")
    args = ["init-db", "--admin-uri", PG_ADMIN_URI, "--prefix", pg_prefix,
            "--password-file", str(pw_file), "--no-auth-database"]
    assert summary(admin(*args)) == "init-db: 2 created, 0 updated, 0 unchanged"
    pg(f"ALTER ROLE {pg_prefix} PASSWORD 'changed-elsewhere'")
    pg(f"GRANT CONNECT ON DATABASE {pg_prefix} TO PUBLIC")
    out = admin(*args)
    assert summary(out) == "init-db: 0 created, 2 updated, 0 unchanged", out.stdout
    assert summary(admin(*args)) == "init-db: 0 created, 0 updated, 2 unchanged"
    # TEMPORARY given to PUBLIC is taken back too (only CONNECT was looked at)
    pg(f"GRANT TEMPORARY ON DATABASE {pg_prefix} TO PUBLIC")
    assert summary(admin(*args)) == "init-db: 0 created, 1 updated, 1 unchanged"
    assert not pg("SELECT has_database_privilege('public', %s, 'TEMPORARY')", (pg_prefix,))[0][0]


@pytest.mark.requires_postgres
def test_init_db_new_database_for_an_existing_role_leaves_the_role_alone(pg_prefix):
    """The role's password is tried on its database: when that database is new, the role
    is reported unchanged (not "password set") and its password keeps working."""
    env = {"MLFLOWD_DB_PASSWORD": "pw-one"}
    base = ["init-db", "--admin-uri", PG_ADMIN_URI, "--prefix", pg_prefix, "--no-auth-database"]
    assert summary(admin(*base, env=env)) == "init-db: 2 created, 0 updated, 0 unchanged"
    before = pg("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (pg_prefix,))
    out = admin(*base, "--database", pg_prefix + "_other", env=env)
    assert summary(out) == "init-db: 1 created, 0 updated, 1 unchanged", out.stdout
    assert f'unchanged role "{pg_prefix}"' in out.stdout
    assert pg("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (pg_prefix,)) == before


@pytest.mark.requires_postgres
def test_init_db_refuses_bad_names_and_missing_password(pg_prefix, tmp_path):
    out = admin("init-db", "--admin-uri", PG_ADMIN_URI, "--prefix", "Bad-Name",
                env={"MLFLOWD_DB_PASSWORD": "x"})
    assert out.returncode == 1 and "Bad-Name" in out.stderr
    out = admin("init-db", "--admin-uri", PG_ADMIN_URI, "--prefix", pg_prefix,
                env={"MLFLOWD_DB_PASSWORD": ""})
    assert out.returncode == 1 and "MLFLOWD_DB_PASSWORD" in out.stderr
    # a password file longer than read was cut short, and a directory read as no password
    (tmp_path / "long").write_text("a" * 5000)
    for path, part in ((tmp_path / "long", "longer than 4096 bytes"), (tmp_path, "cannot read")):
        out = admin("init-db", "--admin-uri", PG_ADMIN_URI, "--prefix", pg_prefix,
                    "--password-file", str(path))
        assert out.returncode == 1 and part in out.stderr, out.stderr
    assert catalog(pg_prefix) == ([], [])


def test_exit_status_separates_bad_values_from_bad_usage():
    """README: 1 = failed, a flag with an invalid value included; 2 = bad usage. A bad boolean
    (flag or variable) exited 2."""
    out = admin("init-db", "--no-auth-database=maybe")
    assert out.returncode == 1 and "is not true or false" in out.stderr, out.stderr
    out = admin("init-bucket", "--destination", "s3://b/x", env={"MLFLOW_S3_IGNORE_TLS": "yes"})
    assert out.returncode == 1 and "MLFLOW_S3_IGNORE_TLS" in out.stderr, out.stderr
    assert admin("init-db", "--no-such-flag").returncode == 2
    assert admin("init-db", "--prefix").returncode == 2


def test_init_db_unreachable_server_names_it_without_the_password():
    out = admin("init-db", "--admin-uri", "postgresql://postgres:topsecret@127.0.0.1:1/postgres",
                env={"MLFLOWD_DB_PASSWORD": "x"})
    assert out.returncode == 1
    assert "127.0.0.1" in out.stderr and "topsecret" not in out.stderr


# --- init-bucket -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """An s3rver of this module's own: the requests refused on purpose here stay out of the
    session server's signature log, which test_s3_artifacts.py audits."""
    s = S3Server(tmp_path_factory.mktemp("s3rver-admin"))
    try:
        s.start()
    except Exception:
        s.stop()
        raise
    yield s
    s.stop()


def test_init_bucket_creates_once_then_changes_nothing(s3_server):
    bucket = "mlflowd-init-" + uuid.uuid4().hex[:8]
    env = dict(s3_server.env, MLFLOW_ARTIFACTS_DESTINATION=f"s3://{bucket}/artifacts")
    assert requests.get(f"{s3_server.endpoint}/{bucket}", timeout=10).status_code == 404
    first = admin("init-bucket", env=env)
    assert first.returncode == 0, first.stderr
    assert summary(first) == "init-bucket: 1 created, 0 updated, 0 unchanged"
    assert requests.get(f"{s3_server.endpoint}/{bucket}", timeout=10).status_code == 200
    second = admin("init-bucket", "--destination", f"s3://{bucket}/other", env=env)
    assert second.returncode == 0, second.stderr
    assert summary(second) == "init-bucket: 0 created, 0 updated, 1 unchanged"
    log = s3_server.verify_log()
    ours = [line for line in log.splitlines() if f"/{bucket}" in line]
    assert ours == [f"ok HEAD /{bucket}", f"ok PUT /{bucket}", f"ok HEAD /{bucket}"]  # signed


def test_init_bucket_errors(s3_server):
    env = dict(s3_server.env, AWS_ACCESS_KEY_ID="WRONG")
    out = admin("init-bucket", "--destination", "s3://mlflowd-wrong-key/x", env=env)
    assert out.returncode == 1 and "403" in out.stderr
    out = admin("init-bucket", "--destination", "/local/dir", env=s3_server.env)
    assert out.returncode == 1 and "s3://bucket" in out.stderr
    out = admin("init-bucket", "--destination", "s3://Bad_Bucket", env=s3_server.env)
    assert out.returncode == 1 and "bucket name" in out.stderr
    # Names S3 refuses to create are refused before any call, with the rule they break.
    for name, rule in (("abc-", "start and end"), ("a..b", "start and end"),
                       ("192.168.1.2", "IP address"), ("xn--abc", "prefix"),
                       ("data-s3alias", "suffix"), ("ab", "3 to 63")):
        out = admin("init-bucket", "--destination", f"s3://{name}/x", env=s3_server.env)
        assert out.returncode == 1 and "not a valid S3 bucket name" in out.stderr, name
        assert rule in out.stderr, (name, out.stderr)
    out = admin("init-bucket", "--destination", "s3://my.bucket-1/x", env=s3_server.env)
    assert out.returncode == 0, out.stderr
    # no destination at all (an empty variable is an unset one) is bad usage
    env = dict(s3_server.env, MLFLOW_ARTIFACTS_DESTINATION="", MLFLOW_DEFAULT_ARTIFACT_ROOT="")
    out = admin("init-bucket", env=env)
    assert out.returncode == 2 and "--destination" in out.stderr, out.stderr


# --- init-bucket --minio-user: MinIO's admin API -------------------------------------------------

class MinioAdminFake:
    """tests/tools/minio-admin-fake.js: MinIO's admin API v3 as far as init-bucket uses it. It
    checks every SigV4 signature with AWS's signer, decrypts the add-user bodies itself (madmin's
    PBKDF2 + AES-GCM format over sio framing, its framing proved against sio-go's vectors at
    start-up) and records each call; `state()` is its policies, users and calls."""

    root_key, root_secret = "minio-root", "minio-root-secret-key"

    def __init__(self, workdir):
        from conftest import free_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(str(workdir), "minio-admin-fake.log")
        self.proc = None

    def start(self):
        tools = os.path.join(os.path.dirname(__file__), "..", "tools")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["node", os.path.join(tools, "minio-admin-fake.js"), str(self.port), self.root_key,
             self.root_secret], stdout=log, stderr=log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"minio-admin-fake exited: {open(self.log_path).read()}")
            try:
                self.state()
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("minio-admin-fake did not answer in 30 s")

    def state(self):
        return requests.get(f"{self.url}/_fake/state", timeout=10).json()

    def reset(self):
        requests.post(f"{self.url}/_fake/reset", timeout=10).raise_for_status()

    def drift(self, **changes):
        requests.post(f"{self.url}/_fake/drift", json=changes, timeout=10).raise_for_status()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def minio_fake(tmp_path_factory):
    fake = MinioAdminFake(tmp_path_factory.mktemp("minio-admin"))
    try:
        fake.start()
    except Exception:
        fake.stop()
        raise
    yield fake
    fake.stop()


@pytest.fixture
def minio(minio_fake):
    minio_fake.reset()
    return minio_fake


MINIO_USER, MINIO_USER_SECRET = "mlflow-server", "s3cr3t-of-the-server"


def minio_env(s3_server, minio, bucket, **extra):
    """s3rver for the bucket, the fake for the admin API, the fake's root keys as the admin's."""
    return {**s3_server.env, "MLFLOW_ARTIFACTS_DESTINATION": f"s3://{bucket}/artifacts",
            "MLFLOWD_MINIO_ADMIN_URL": minio.url, "MLFLOWD_MINIO_ADMIN_ACCESS_KEY": minio.root_key,
            "MLFLOWD_MINIO_ADMIN_SECRET_KEY": minio.root_secret, "MLFLOWD_MINIO_USER": MINIO_USER,
            "MLFLOWD_MINIO_USER_SECRET_KEY": MINIO_USER_SECRET, **extra}


def bucket_policy(bucket):
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow",
         "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
         "Resource": [f"arn:aws:s3:::{bucket}"]},
        {"Effect": "Allow",
         "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject",
                    "s3:ListMultipartUploadParts", "s3:PutObject"],
         "Resource": [f"arn:aws:s3:::{bucket}/*"]}]}


def calls(minio, since=0):
    return [(c["method"], c["path"], c["query"], c["status"])
            for c in minio.state()["calls"][since:]]


def test_init_bucket_minio_user_and_policy_once_then_nothing(s3_server, minio):
    bucket = "mlflowd-minio-" + uuid.uuid4().hex[:8]
    policy = f"mlflowd-{bucket}"
    env = minio_env(s3_server, minio, bucket)
    first = admin("init-bucket", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        f'created bucket "{bucket}"',
        f'created MinIO policy "{policy}" (bucket "{bucket}")',
        f'created MinIO user "{MINIO_USER}"',
        f'created MinIO policy "{policy}" attached to user "{MINIO_USER}"',
        "init-bucket: 4 created, 0 updated, 0 unchanged"]
    admin_path = "/minio/admin/v3/"
    assert calls(minio) == [
        ("GET", admin_path + "info-canned-policy", {"name": policy}, 404),
        ("PUT", admin_path + "add-canned-policy", {"name": policy}, 200),
        ("GET", admin_path + "user-info", {"accessKey": MINIO_USER}, 404),
        ("PUT", admin_path + "add-user", {"accessKey": MINIO_USER}, 200),
        ("PUT", admin_path + "set-user-or-group-policy",
         {"isGroup": "false", "policyName": policy, "userOrGroup": MINIO_USER}, 200)]
    state = minio.state()
    # the add-user body was decrypted by the fake with the admin's secret key: the C encryption
    # round-trips under madmin's documented format
    (add_user,) = [c for c in state["calls"] if c["path"].endswith("/add-user")]
    assert add_user["decrypted"] == {"secretKey": MINIO_USER_SECRET, "status": "enabled"}
    assert state["policies"][policy] == bucket_policy(bucket)
    assert state["users"] == {MINIO_USER: {"secretKey": MINIO_USER_SECRET, "status": "enabled",
                                           "policies": [policy]}}
    n = len(state["calls"])
    second = admin("init-bucket", env=env)
    assert second.returncode == 0, second.stderr
    assert summary(second) == "init-bucket: 0 created, 0 updated, 4 unchanged"
    # only looks, the user's keys proved by a GetBucketLocation signed with them
    assert calls(minio, n) == [
        ("GET", admin_path + "info-canned-policy", {"name": policy}, 200),
        ("GET", admin_path + "user-info", {"accessKey": MINIO_USER}, 200),
        ("GET", f"/{bucket}", {"location": ""}, 200)]
    after = minio.state()
    assert (after["policies"], after["users"]) == (state["policies"], state["users"])
    for out in (first, second):
        assert MINIO_USER_SECRET not in out.stdout + out.stderr
        assert minio.root_secret not in out.stdout + out.stderr


def test_init_bucket_minio_repairs_what_drifted(s3_server, minio):
    bucket = "mlflowd-minio-" + uuid.uuid4().hex[:8]
    policy = "mlflow-artifacts"
    env = minio_env(s3_server, minio, bucket, MLFLOWD_MINIO_POLICY=policy)
    first = admin("init-bucket", env=env)
    assert summary(first) == "init-bucket: 4 created, 0 updated, 0 unchanged"
    # by hand in MinIO: the policy widened, the secret key changed, the policy replaced
    minio.drift(policies={policy: {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::*"}]}},
                users={MINIO_USER: {"secretKey": "changed-elsewhere", "policies": ["readonly"]}})
    out = admin("init-bucket", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1:] == [
        f'updated MinIO policy "{policy}" (bucket "{bucket}")',
        f'created MinIO policy "{policy}" attached to user "{MINIO_USER}"',
        f'updated MinIO user "{MINIO_USER}" (secret key set)',
        "init-bucket: 1 created, 2 updated, 1 unchanged"]
    state = minio.state()
    assert state["policies"][policy] == bucket_policy(bucket)
    # the user's other policy is kept
    assert state["users"][MINIO_USER] == {"secretKey": MINIO_USER_SECRET, "status": "enabled",
                                          "policies": ["readonly", policy]}
    again = admin("init-bucket", env=env)
    assert summary(again) == "init-bucket: 0 created, 0 updated, 4 unchanged"
    minio.drift(users={MINIO_USER: {"status": "disabled"}})
    out = admin("init-bucket", env=env)
    assert f'updated MinIO user "{MINIO_USER}" (enabled, secret key set)' in out.stdout
    assert summary(out) == "init-bucket: 0 created, 1 updated, 3 unchanged"
    assert minio.state()["users"][MINIO_USER]["status"] == "enabled"


def test_init_bucket_minio_refusals(s3_server, minio):
    buckets = ["mlflowd-minio-" + uuid.uuid4().hex[:8]]

    def run(*args, **extra):
        return admin("init-bucket", *args, env=minio_env(s3_server, minio, buckets[-1], **extra))

    def writes():
        return [c for c in calls(minio) if c[0] != "GET"]

    # a wrong admin secret key: MinIO's 403, named, with what to set
    out = run(MLFLOWD_MINIO_ADMIN_SECRET_KEY="not-the-root-secret")
    assert out.returncode == 1
    assert "403 SignatureDoesNotMatch" in out.stderr, out.stderr
    assert "MLFLOWD_MINIO_ADMIN_SECRET_KEY" in out.stderr
    assert "not-the-root-secret" not in out.stderr and MINIO_USER_SECRET not in out.stderr
    assert writes() == [] and minio.state()["users"] == {}
    out = run(MLFLOWD_MINIO_ADMIN_ACCESS_KEY="nobody")
    assert out.returncode == 1 and "403 InvalidAccessKeyId" in out.stderr
    # keys that sign correctly but are not an admin's
    minio.drift(users={"plain-user": {"secretKey": "plain-user-secret"}})
    out = run(MLFLOWD_MINIO_ADMIN_ACCESS_KEY="plain-user",
              MLFLOWD_MINIO_ADMIN_SECRET_KEY="plain-user-secret")
    assert out.returncode == 1 and "403 AccessDenied" in out.stderr and "admin" in out.stderr
    assert writes() == []
    # settings refused before any request, the bucket's included
    minio.reset()
    buckets.append("mlflowd-minio-" + uuid.uuid4().hex[:8])
    out = run(MLFLOWD_MINIO_USER_SECRET_KEY="")
    assert out.returncode == 1 and "MLFLOWD_MINIO_USER_SECRET_KEY" in out.stderr
    out = run(MLFLOWD_MINIO_USER_SECRET_KEY="short")
    assert out.returncode == 1 and "8 to 40" in out.stderr and "short" not in out.stderr
    out = run(MLFLOWD_MINIO_USER=minio.root_key)
    assert out.returncode == 1 and "admin's own access key" in out.stderr
    out = run("--minio-policy", "a,b")
    assert out.returncode == 1 and "--minio-policy 'a,b'" in out.stderr
    out = run(MLFLOWD_MINIO_USER="")
    assert out.returncode == 1 and "need --minio-user" in out.stderr
    assert calls(minio) == []
    assert requests.get(f"{s3_server.endpoint}/{buckets[-1]}", timeout=10).status_code == 404


# --- keycloak ----------------------------------------------------------------------------------

class FakeKeycloak:
    """Enough of Keycloak's token endpoint and Admin REST API (§2.6) to provision against:
    clients with protocol mappers, realm roles, groups with children, group realm-role
    mappings. 201 + Location on create, 409 on duplicates, 404 on unknown objects."""

    def __init__(self, realm="platform"):
        self.realm = realm
        self.calls = []
        self.clients, self.roles, self.groups, self.group_roles = {}, {}, {}, {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, body=None, location=None):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else None
                url = urllib.parse.urlsplit(self.path)
                call = {"method": method, "path": url.path, "query": url.query,
                        "auth": self.headers.get("Authorization"),
                        "content_type": self.headers.get("Content-Type"), "body": raw}
                fake.calls.append(call)
                status, body, location = fake.route(method, url, raw, call)
                self._answer(status, body, location)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_PUT(self):
                self._handle("PUT")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def route(self, method, url, raw, call):
        path = urllib.parse.unquote(url.path)
        if path == "/realms/master/protocol/openid-connect/token":
            form = urllib.parse.parse_qs(raw)
            ok = (form.get("grant_type") == ["client_credentials"] and
                  form.get("client_secret") == ["bootstrap-secret"]) or \
                 (form.get("grant_type") == ["password"] and form.get("client_id") == ["admin-cli"]
                  and form.get("password") == ["admin-pw"])
            return (200, {"access_token": "admin-token", "expires_in": 60}, None) if ok else \
                (401, {"error": "invalid_client"}, None)
        if call["auth"] != "Bearer admin-token":
            return 401, {"error": "HTTP 401 Unauthorized"}, None
        base = f"/admin/realms/{self.realm}"
        assert path.startswith(base), path
        p, body = path[len(base):], json.loads(raw) if raw else None
        loc = self.url + base
        if p == "/clients" and method == "GET":
            want = urllib.parse.parse_qs(url.query).get("clientId", [None])[0]
            return 200, [c for c in self.clients.values() if c["clientId"] == want], None
        if p == "/clients" and method == "POST":
            if any(c["clientId"] == body["clientId"] for c in self.clients.values()):
                return 409, {"errorMessage": "exists"}, None
            cid = str(uuid.uuid4())
            self.clients[cid] = dict(body, id=cid, protocolMappers=[
                dict(m, id=str(uuid.uuid4())) for m in body.get("protocolMappers", [])])
            return 201, None, f"{loc}/clients/{cid}"
        if p.startswith("/clients/") and p.count("/") == 2:
            client = self.clients[p.split("/")[2]]
            if method == "GET":
                return 200, {k: v for k, v in client.items() if k != "secret"}, None
            if method == "PUT":  # Keycloak updates the fields given
                client.update(body)
                return 204, None, None
        if p.startswith("/clients/") and p.endswith("/client-secret") and method == "GET":
            client = self.clients[p.split("/")[2]]
            return 200, {"type": "secret", "value": client.get("secret")}, None
        if p.startswith("/clients/") and p.endswith("/protocol-mappers/models"):
            client = self.clients[p.split("/")[2]]
            if method == "GET":
                return 200, client["protocolMappers"], None
            client["protocolMappers"].append(dict(body, id=str(uuid.uuid4())))
            return 201, None, f"{loc}{p}/x"
        if p == "/roles" and method == "POST":
            if body["name"] in self.roles:
                return 409, {"errorMessage": "exists"}, None
            self.roles[body["name"]] = dict(body, id=str(uuid.uuid4()))
            return 201, None, f"{loc}/roles/{urllib.parse.quote(body['name'])}"
        if p.startswith("/roles/") and method == "GET":
            role = self.roles.get(p[len("/roles/"):])
            return (200, role, None) if role else (404, {"error": "Could not find role"}, None)
        if p.startswith("/group-by-path/"):
            group = self.groups.get("/" + p[len("/group-by-path/"):])
            return (200, group, None) if group else (404, {"error": "Group path does not exist"}, None)
        if method == "POST" and (p == "/groups" or (p.startswith("/groups/") and p.endswith("/children"))):
            parent = "" if p == "/groups" else next(
                g["path"] for g in self.groups.values() if g["id"] == p.split("/")[2])
            gpath = f"{parent}/{body['name']}"
            if gpath in self.groups:
                return 409, {"errorMessage": "exists"}, None
            gid = str(uuid.uuid4())
            self.groups[gpath] = {"id": gid, "name": body["name"], "path": gpath}
            return 201, None, f"{loc}/groups/{gid}"
        if p.startswith("/groups/") and p.endswith("/role-mappings/realm"):
            gid = p.split("/")[2]
            have = self.group_roles.setdefault(gid, [])
            if method == "GET":
                return 200, have, None
            for role in body:
                assert self.roles[role["name"]]["id"] == role["id"]
                if role not in have:
                    have.append(role)
            return 204, None, None
        return 404, {"error": "unknown " + p}, None


@pytest.fixture
def keycloak():
    kc = FakeKeycloak()
    yield kc
    kc.close()


KC_ENV = {"KEYCLOAK_ADMIN_CLIENT_ID": "bootstrap", "KEYCLOAK_ADMIN_CLIENT_SECRET": "bootstrap-secret",
          "MLFLOWD_KEYCLOAK_CLIENT_SECRET": "proxy-client-secret"}

AUDIENCE = {"name": "aud-mlflow", "protocol": "openid-connect",
            "protocolMapper": "oidc-audience-mapper",
            "config": {"included.client.audience": "mlflow", "access.token.claim": "true",
                       "id.token.claim": "false"}}
GROUPS = {"name": "groups", "protocol": "openid-connect",
          "protocolMapper": "oidc-group-membership-mapper",
          "config": {"claim.name": "groups", "full.path": "true", "id.token.claim": "true",
                     "access.token.claim": "true", "userinfo.token.claim": "true"}}
REALM_ROLES = {"name": "realm-roles-id", "protocol": "openid-connect",
               "protocolMapper": "oidc-usermodel-realm-role-mapper",
               "config": {"claim.name": "realm_access.roles", "multivalued": "true",
                          "jsonType.label": "String", "id.token.claim": "true",
                          "access.token.claim": "true"}}


def write_role_ini(tmp_path):
    path = tmp_path / "auth.ini"
    path.write_text("[mlflow]\ndefault_permission = NO_PERMISSIONS\n\n[role_mappings]\n"
                    "admin = mlflow-admin\nMANAGE = devops\nEDIT = /data-science/team-a, dataanalyst\n"
                    "READ = mlflow-viewer, /data-science\n")
    return str(path)


def run_keycloak(kc, tmp_path, *extra, env=None):
    return admin("keycloak", "--url", kc.url + "/", "--realm", "platform",
                 "--domain", "mlflow.example.com", "--auth-config", write_role_ini(tmp_path),
                 *extra, env=dict(KC_ENV, **(env or {})))


def test_keycloak_calls_and_payloads_match_the_spec(keycloak, tmp_path):
    out = run_keycloak(keycloak, tmp_path)
    assert out.returncode == 0, out.stderr + out.stdout
    calls = keycloak.calls
    token = calls[0]
    assert (token["method"], token["path"]) == ("POST", "/realms/master/protocol/openid-connect/token")
    assert token["content_type"] == "application/x-www-form-urlencoded"
    assert urllib.parse.parse_qs(token["body"]) == {
        "grant_type": ["client_credentials"], "client_id": ["bootstrap"],
        "client_secret": ["bootstrap-secret"]}
    admin_calls = calls[1:]
    assert all(c["auth"] == "Bearer admin-token" for c in admin_calls)
    assert all(c["content_type"] == "application/json" for c in admin_calls if c["body"])
    # 2. the client: looked up by clientId, then created with the §2.6 representation
    assert (admin_calls[0]["method"], admin_calls[0]["path"], admin_calls[0]["query"]) == (
        "GET", "/admin/realms/platform/clients", "clientId=mlflow")
    post = admin_calls[1]
    assert (post["method"], post["path"]) == ("POST", "/admin/realms/platform/clients")
    assert json.loads(post["body"]) == {
        "clientId": "mlflow", "protocol": "openid-connect", "enabled": True,
        "publicClient": False, "clientAuthenticatorType": "client-secret",
        "standardFlowEnabled": True, "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "redirectUris": ["https://mlflow.example.com/oauth2/callback"],
        "webOrigins": ["https://mlflow.example.com"],
        "attributes": {"pkce.code.challenge.method": "S256",
                       "post.logout.redirect.uris": "https://mlflow.example.com/*"},
        # 3. the three mappers, inline
        "protocolMappers": [AUDIENCE, GROUPS, REALM_ROLES],
        "secret": "proxy-client-secret"}
    # 5. realm roles (not the /group entries), created after a 404 lookup
    posted_roles = [json.loads(c["body"])["name"] for c in admin_calls
                    if (c["method"], c["path"]) == ("POST", "/admin/realms/platform/roles")]
    assert posted_roles == ["mlflow-admin", "devops", "dataanalyst", "mlflow-viewer"]
    assert set(keycloak.roles) == set(posted_roles)
    # 6. groups: the parent first, then the child under it
    group_posts = [(c["path"], json.loads(c["body"])) for c in admin_calls
                   if c["method"] == "POST" and "/groups" in c["path"] and "role-mappings" not in c["path"]]
    parent_id = keycloak.groups["/data-science"]["id"]
    assert group_posts == [("/admin/realms/platform/groups", {"name": "data-science"}),
                           (f"/admin/realms/platform/groups/{parent_id}/children", {"name": "team-a"})]
    assert any(c["path"] == "/admin/realms/platform/group-by-path/data-science/team-a"
               for c in admin_calls)
    # 7. each group gets the realm roles of its level, as [{id, name}]
    child_id = keycloak.groups["/data-science/team-a"]["id"]
    mapping_posts = {c["path"]: json.loads(c["body"]) for c in admin_calls
                     if c["method"] == "POST" and c["path"].endswith("/role-mappings/realm")}
    assert mapping_posts == {
        f"/admin/realms/platform/groups/{child_id}/role-mappings/realm":
            [{"id": keycloak.roles["dataanalyst"]["id"], "name": "dataanalyst"}],
        f"/admin/realms/platform/groups/{parent_id}/role-mappings/realm":
            [{"id": keycloak.roles["mlflow-viewer"]["id"], "name": "mlflow-viewer"}]}
    assert summary(out).startswith("keycloak: ") and " 0 updated" in summary(out)

    # Second run: only lookups, nothing created.
    n = len(keycloak.calls)
    again = run_keycloak(keycloak, tmp_path)
    assert again.returncode == 0, again.stderr
    second = keycloak.calls[n:]
    writes = [c for c in second[1:] if c["method"] != "GET"]
    assert writes == []
    assert summary(again).startswith("keycloak: 0 created, 0 updated,")
    assert len(keycloak.clients) == 1 and len(keycloak.groups) == 2 and len(keycloak.roles) == 4


def test_keycloak_adds_missing_mappers_to_an_existing_client(keycloak, tmp_path):
    assert run_keycloak(keycloak, tmp_path).returncode == 0
    (client,) = keycloak.clients.values()
    client["protocolMappers"] = [m for m in client["protocolMappers"] if m["name"] != "groups"]
    n = len(keycloak.calls)
    out = run_keycloak(keycloak, tmp_path, "--no-roles", "--no-groups")
    assert out.returncode == 0, out.stderr
    writes = [c for c in keycloak.calls[n:] if c["method"] != "GET"][1:]
    assert [(c["path"], json.loads(c["body"])) for c in writes] == [
        (f"/admin/realms/platform/clients/{client['id']}/protocol-mappers/models", GROUPS)]
    assert summary(out) == "keycloak: 1 created, 0 updated, 3 unchanged"


def test_keycloak_password_grant_and_refusals(keycloak, tmp_path):
    # empty client-credential variables (a chart's unset values) are absent ones
    out = admin("keycloak", "--url", keycloak.url, "--realm", "platform", "--no-client",
                "--role-mapping", "READ=viewer",
                env={"KEYCLOAK_ADMIN": "admin", "KEYCLOAK_ADMIN_PASSWORD": "admin-pw",
                     "KEYCLOAK_ADMIN_CLIENT_ID": "", "KEYCLOAK_ADMIN_CLIENT_SECRET": ""})
    assert out.returncode == 0, out.stderr
    assert urllib.parse.parse_qs(keycloak.calls[0]["body"]) == {
        "grant_type": ["password"], "client_id": ["admin-cli"], "username": ["admin"],
        "password": ["admin-pw"]}
    assert list(keycloak.roles) == ["viewer"]
    bad = admin("keycloak", "--url", keycloak.url, "--realm", "platform",
                env={"KEYCLOAK_ADMIN": "admin", "KEYCLOAK_ADMIN_PASSWORD": "wrong"})
    assert bad.returncode == 1 and "admin token" in bad.stderr and "wrong" not in bad.stderr
    calls = len(keycloak.calls)
    none = admin("keycloak", "--url", keycloak.url, "--realm", "platform")  # bad usage
    assert none.returncode == 2 and "credentials" in none.stderr
    assert len(keycloak.calls) == calls
    mapping = admin("keycloak", "--url", keycloak.url, "--realm", "platform",
                    "--role-mapping", "SUPER=x", env=KC_ENV)
    assert mapping.returncode == 1 and "LEVEL" in mapping.stderr


def test_keycloak_reads_role_mappings_as_the_server_does(keycloak, tmp_path):
    """`role:` prefixes dropped and continuation lines split, as the server reads the INI;
    a client role (client:role) is not a realm role to create, and the output says so."""
    path = tmp_path / "prefixed.ini"
    path.write_text("[mlflow]\ndefault_permission = NO_PERMISSIONS\n\n[role_mappings]\n"
                    "admin = role:mlflow-admin\nEDIT = editor,\n  role:mlflow:reader\n"
                    "READ = viewer\n")
    out = admin("keycloak", "--url", keycloak.url + "/", "--realm", "platform", "--domain",
                "mlflow.example.com", "--auth-config", str(path), env=KC_ENV)
    assert out.returncode == 0, out.stderr + out.stdout
    assert set(keycloak.roles) == {"mlflow-admin", "editor", "viewer"}
    assert 'skipped client role "mlflow:reader" (EDIT)' in out.stdout, out.stdout


@pytest.mark.parametrize("mapping, message", [
    ("EDIT=/grp/../../master/x", "group path '/grp/../../master/x'"),
    ("EDIT=/a//b", "group path '/a//b'"),
    ("EDIT=/c/", "group path '/c/'"),
    ("READ=" + ",".join(f"r{i}" for i in range(65)), "more than 64 roles and groups for READ"),
])
def test_keycloak_refuses_group_paths_and_lists_it_would_mangle(keycloak, tmp_path, mapping,
                                                                message):
    """Group paths went into Keycloak's URLs segment by segment: libcurl folded "..", and an
    empty segment made a group named "". Entries past 64 a level were dropped silently. Both
    are refused now, before any call."""
    out = admin("keycloak", "--url", keycloak.url + "/", "--realm", "platform", "--domain",
                "mlflow.example.com", "--role-mapping", mapping, env=KC_ENV)
    assert out.returncode != 0 and message in out.stderr, out.stderr + out.stdout
    assert keycloak.calls == []


def test_keycloak_brings_an_existing_client_up_to_date(keycloak, tmp_path):
    """A rotated proxy secret or a new domain reaches the client an earlier run made (login
    broke after `helm upgrade`); what an admin added to the client stays."""
    assert run_keycloak(keycloak, tmp_path).returncode == 0
    (client,) = keycloak.clients.values()
    client["redirectUris"].append("https://admin-added.example.com/cb")
    n = len(keycloak.calls)
    out = admin("keycloak", "--url", keycloak.url + "/", "--realm", "platform", "--domain",
                "mlflow.new.example.com", "--no-roles", "--no-groups",
                env=dict(KC_ENV, MLFLOWD_KEYCLOAK_CLIENT_SECRET="rotated-secret"))
    assert out.returncode == 0, out.stderr + out.stdout
    puts = [c for c in keycloak.calls[n:] if c["method"] == "PUT"]
    assert len(puts) == 1, puts
    assert client["secret"] == "rotated-secret"
    assert client["redirectUris"] == ["https://mlflow.example.com/oauth2/callback",
                                      "https://admin-added.example.com/cb",
                                      "https://mlflow.new.example.com/oauth2/callback"]
    assert "https://mlflow.new.example.com" in client["webOrigins"]
    assert 'updated client "mlflow" (redirect URIs and web origins, secret)' in out.stdout
    again = admin("keycloak", "--url", keycloak.url + "/", "--realm", "platform", "--domain",
                  "mlflow.new.example.com", "--no-roles", "--no-groups",
                  env=dict(KC_ENV, MLFLOWD_KEYCLOAK_CLIENT_SECRET="rotated-secret"))
    assert summary(again) == "keycloak: 0 created, 0 updated, 4 unchanged", again.stdout


@pytest.mark.requires_postgres
def test_init_db_takes_over_a_database_another_role_made(pg_prefix):
    """README: a database with another owner is put right — with what is in it: MLflow's
    tables, sequences, mlflowd's function and statistics move to the new role, which can then
    run `db upgrade` and serve it. The previous owner's other databases stay its own."""
    host = PG_ADMIN_URI.split("@", 1)[1].split("/", 1)[0]
    legacy, elsewhere = pg_prefix + "_old", pg_prefix + "_other"
    pg(f"CREATE ROLE {legacy} LOGIN PASSWORD 'legacy-pw'")
    try:
        for db in (pg_prefix, elsewhere):
            pg(f"CREATE DATABASE {db} OWNER {legacy}")
        up = subprocess.run([BIN, "db", "upgrade",
                             f"postgresql://{legacy}:legacy-pw@{host}/{pg_prefix}"],
                            capture_output=True, text=True, timeout=120)
        assert up.returncode == 0, up.stderr
        env = {"MLFLOWD_DB_PASSWORD": "new-role-pw"}
        out = admin("init-db", "--admin-uri", PG_ADMIN_URI, "--prefix", pg_prefix,
                    "--no-auth-database", env=env)
        assert out.returncode == 0, out.stderr
        assert f'updated database "{pg_prefix}" owned by "{pg_prefix}"' in out.stdout, out.stdout
        left = pg("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE pg_get_userbyid(c.relowner) = %s AND n.nspname = 'public'", (legacy,),
                  dbname=pg_prefix)
        assert left == [(0,)]
        up = subprocess.run([BIN, "db", "upgrade",
                             f"postgresql://{pg_prefix}:new-role-pw@{host}/{pg_prefix}"],
                            capture_output=True, text=True, timeout=120)
        assert up.returncode == 0, up.stderr
        assert pg("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                  (elsewhere,)) == [(legacy,)]
        again = admin("init-db", "--admin-uri", PG_ADMIN_URI, "--prefix", pg_prefix,
                      "--no-auth-database", env=env)
        assert summary(again) == "init-db: 0 created, 0 updated, 2 unchanged", again.stdout
    finally:
        for db in (pg_prefix, elsewhere):
            pg(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        pg(f"DROP ROLE IF EXISTS {legacy}")


@pytest.mark.requires_postgres
def test_init_db_takes_over_with_an_admin_that_is_no_superuser(pg_prefix):
    """An admin that may only create roles and databases handed the database over before it
    had joined the previous owner (PostgreSQL refused), and moved tables before their schema
    (refused again, after the database had changed hands, so the next run said all was done
    with the tables still the old role's). It joins both roles first, moves schemas, then
    tables, and hands the database over last."""
    import psycopg2
    host = PG_ADMIN_URI.split("@", 1)[1].split("/", 1)[0]
    legacy, managed = pg_prefix + "_old", pg_prefix + "_mgd"
    pg(f"CREATE ROLE {legacy} LOGIN PASSWORD 'legacy-pw'")
    pg(f"CREATE ROLE {managed} LOGIN CREATEROLE CREATEDB PASSWORD 'managed-pw'")
    try:
        pg(f"CREATE DATABASE {pg_prefix} OWNER {legacy}")
        legacy_conn = psycopg2.connect(f"postgresql://{legacy}:legacy-pw@{host}/{pg_prefix}")
        legacy_conn.autocommit = True
        with legacy_conn.cursor() as cur:
            cur.execute("CREATE SCHEMA s; CREATE TABLE s.t (id serial); CREATE TABLE p (x int)")
        legacy_conn.close()
        env = {"MLFLOWD_DB_PASSWORD": "new-role-pw"}
        uri = f"postgresql://{managed}:managed-pw@{host}/postgres"
        out = admin("init-db", "--admin-uri", uri, "--prefix", pg_prefix, "--no-auth-database",
                    env=env)
        assert out.returncode == 0, out.stderr
        owners = pg("SELECT pg_get_userbyid(c.relowner), count(*) FROM pg_class c JOIN "
                    "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('s', 'public') "
                    "AND c.relkind IN ('r', 'S') GROUP BY 1", dbname=pg_prefix)
        assert owners == [(pg_prefix, 3)], owners
        assert pg("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 's'",
                  dbname=pg_prefix) == [(pg_prefix,)]
        assert pg("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                  (pg_prefix,)) == [(pg_prefix,)]
        again = admin("init-db", "--admin-uri", uri, "--prefix", pg_prefix, "--no-auth-database",
                      env=env)
        assert summary(again) == "init-db: 0 created, 0 updated, 2 unchanged", again.stdout
    finally:
        pg(f"DROP DATABASE IF EXISTS {pg_prefix} WITH (FORCE)")
        pg(f"DROP ROLE IF EXISTS {legacy}")
        pg(f"DROP ROLE IF EXISTS {managed}")


@pytest.mark.requires_postgres
def test_init_db_tells_a_wrong_password_from_other_login_failures(pg_prefix):
    """Only a refused password is set again: a role at its connection limit keeps its password
    (said in the output); an expired VALID UNTIL, which refuses every login, is renewed."""
    env = {"MLFLOWD_DB_PASSWORD": "pw-steady"}
    base = ["init-db", "--admin-uri", PG_ADMIN_URI, "--prefix", pg_prefix, "--no-auth-database"]
    assert summary(admin(*base, env=env)) == "init-db: 2 created, 0 updated, 0 unchanged"
    verifier = pg("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (pg_prefix,))
    pg(f"ALTER ROLE {pg_prefix} CONNECTION LIMIT 0")
    out = admin(*base, env=env)
    assert summary(out) == "init-db: 0 created, 0 updated, 2 unchanged", out.stdout
    assert f'could not check the password of role "{pg_prefix}"' in out.stdout, out.stdout
    assert pg("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (pg_prefix,)) == verifier
    pg(f"ALTER ROLE {pg_prefix} CONNECTION LIMIT -1 VALID UNTIL '2001-01-01'")
    out = admin(*base, env=env)
    assert f'updated role "{pg_prefix}" (password set, validity renewed)' in out.stdout, out.stdout
    assert summary(admin(*base, env=env)) == "init-db: 0 created, 0 updated, 2 unchanged"
