"""Single sign-on with bearer tokens (sso-and-deploy.md §7, R-SSO-1…11, -14…16) against a
Keycloak-shaped issuer on 127.0.0.1 (tests/tools-oidc/fake-issuer.mjs): every hostile token of
§6.4 gets 401 + `WWW-Authenticate: Bearer error="invalid_token"`, roles from each claim source
map to levels per request (no permission row is ever written for it), identities are bound to
(iss, sub), users are provisioned with an unusable password, and personal access tokens carry
SSO users' levels to Basic clients."""
import os
import sqlite3
import time

import pytest
import requests

from sso_helpers import (FakeIssuer, api, assert_invalid_token, bearer, claims_for,
                         start_sso_server)

MINTED = []  # every credential this module used: none may appear in a server log


@pytest.fixture(scope="module")
def issuer(tmp_path_factory):
    i = FakeIssuer(tmp_path_factory.mktemp("issuer")).start()
    yield i
    i.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, issuer):
    s = start_sso_server(tmp_path_factory.mktemp("sso"), issuer.issuer)
    yield s
    s.stop()
    # R-SSO-15: no token, access-token secret or Authorization header is ever logged.
    log = s.log()
    for secret in MINTED:
        assert secret not in log
    assert "Bearer ey" not in log and "Authorization:" not in log


def token_for(issuer, username, **kw):
    t = issuer.mint(claims_for(username, **kw))
    MINTED.append(t)
    return t


def as_user(issuer, username, **kw):
    return bearer(token_for(issuer, username, **kw))


def whoami(s, server):
    r = api(s, server, "GET", "auth/whoami", service="mlflowd")
    assert r.status_code == 200, r.text
    return r.json()["user"]


def auth_db(server):
    return sqlite3.connect(os.path.join(server.workdir, "basic_auth.db"))


def permission_rows(server):
    with auth_db(server) as db:
        return tuple(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in
                     ("experiment_permissions", "registered_model_permissions",
                      "scorer_permissions"))


# --- verification (R-SSO-4) -------------------------------------------------------------

def test_valid_access_and_id_tokens_are_accepted(issuer, server):
    """R-SSO-4: valid access and ID tokens get 200, as do times within the default 60 s
    leeway (the hostile list below has the same claims just past it)."""
    now = int(time.time())
    access = token_for(issuer, "viewer1", roles=["viewer"])
    id_token = token_for(issuer, "viewer1", roles=["viewer"], typ="ID", aud="mlflow")
    within_leeway = token_for(issuer, "viewer1", roles=["viewer"], exp=now - 30)
    nbf_within = token_for(issuer, "viewer1", roles=["viewer"], nbf=now + 30)
    iat_within = token_for(issuer, "viewer1", roles=["viewer"], iat=now + 30)
    nbf_zero = token_for(issuer, "viewer1", roles=["viewer"], nbf=0)  # old Keycloak: no constraint
    for t in (access, id_token, within_leeway, nbf_within, iat_within, nbf_zero):
        r = api(bearer(t), server, "GET", "experiments/get", params={"experiment_id": "0"})
        assert r.status_code == 200, r.text
    # libjose is loaded at the first token it checks (see test_server_basics for the other half).
    with open(f"/proc/{server.proc.pid}/maps") as maps:
        assert any(line.rstrip().rsplit("/", 1)[-1].startswith("libjose.so") for line in maps)


def hostile(issuer):
    now = int(time.time())
    base = claims_for("mallory", roles=["mlflow-admin"])
    good = issuer.mint(base)
    h, p, sig = good.split(".")
    other_payload = issuer.mint({**base, "sub": "sub-other"}).split(".")[1]
    return {
        "alg none": issuer.mint(base, variant="none"),
        "HS256 keyed with the RSA public key": issuer.mint(base, variant="hs256-pubkey"),
        "unknown kid": issuer.mint(base, header={"kid": "no-such-key"}),
        "kid with path and SQL metacharacters": issuer.mint(
            base, header={"kid": "../../etc/passwd' OR '1'='1"}),
        "embedded jwk/jku/x5u of a rogue key": issuer.mint(base, variant="jwk-header"),
        "wrong iss": issuer.mint({**base, "iss": issuer.issuer + "-evil"}),
        "wrong aud": issuer.mint({**base, "aud": ["account", "other"]}),
        "expired": issuer.mint({**base, "exp": now - 3600, "iat": now - 4000}),
        "expired 90 s ago (leeway 60 s)": issuer.mint({**base, "exp": now - 90, "iat": now - 400}),
        "nbf in the future": issuer.mint({**base, "nbf": now + 3600}),
        "nbf 90 s ahead (leeway 60 s)": issuer.mint({**base, "nbf": now + 90}),
        "iat in the future": issuer.mint({**base, "iat": now + 3600}),
        "no exp": issuer.mint({**base, "exp": None}),
        "no iat (required, as exp)": issuer.mint({**base, "iat": None}),
        "exp of the wrong type": issuer.mint({**base, "exp": str(now + 300)}),
        "oversized": issuer.mint(base, variant="pad"),
        "JWE (five segments)": issuer.mint(base, variant="jwe"),
        "crit header": issuer.mint(base, variant="crit"),
        "1024-bit RSA key": issuer.mint(base, key="weak"),
        "ES256 not on the allow-list": issuer.mint(base, key="e1"),
        "signed with the JWKS's use:enc key": issuer.mint(base, key="enc", header={"kid": "enc1"}),
        "refresh token typ": issuer.mint({**base, "typ": "Refresh"}),
        "roles claim of the wrong type": issuer.mint({**base, "realm_access": {"roles": "admin"}}),
        # the first non-empty username claim is the user: one that cannot be a username must
        # not hand the token to the next claim (the email) instead
        "username claim over 255 bytes": issuer.mint({**base, "preferred_username": "m" * 256}),
        "username claim with a line break": issuer.mint(
            {**base, "preferred_username": "mallory\nadmin"}),
        "payload swapped under a valid signature": f"{h}.{other_payload}.{sig}",
        "signature stripped": f"{h}.{p}.",
        "garbage": "not-a-jwt",
    }


def test_every_hostile_token_gets_401_invalid_token(issuer, server):
    """R-SSO-4 (§7, §6.4): alg none, HS256 keyed with the RSA public key, unknown kid, wrong
    iss/aud, expired, future nbf/iat, oversized, crit, ... each get 401 invalid_token.
    R-SSO-7: and none of them provisions a user."""
    for name, t in hostile(issuer).items():
        MINTED.append(t)
        r = api(bearer(t), server, "GET", "experiments/search", params={"max_results": "1"})
        assert r.status_code == 401, (name, r.text)
        assert_invalid_token(r)
    # No hostile token made a user.
    with auth_db(server) as db:
        assert db.execute("SELECT COUNT(*) FROM users WHERE username LIKE 'mallory%'"
                          ).fetchone()[0] == 0


def test_forwarded_access_token_header_is_a_bearer_token(issuer, server):
    """R-SSO-4: oauth2-proxy's X-Forwarded-Access-Token (from a trusted peer) is verified as a
    bearer token."""
    t = token_for(issuer, "viewer2", roles=["viewer"])
    r = requests.get(server.url + "/api/2.0/mlflow/experiments/get",
                     params={"experiment_id": "0"}, headers={"X-Forwarded-Access-Token": t})
    assert r.status_code == 200, r.text
    bad = issuer.mint(claims_for("viewer2"), variant="none")
    r = requests.get(server.url + "/api/2.0/mlflow/experiments/get",
                     params={"experiment_id": "0"}, headers={"X-Forwarded-Access-Token": bad})
    assert_invalid_token(r)


# --- roles and levels (R-SSO-8, -9, -10) --------------------------------------------------

@pytest.mark.parametrize("kw, level, admin", [
    ({"roles": ["viewer"]}, "READ", False),                       # realm role
    ({"client_roles": ["reader"]}, "READ", False),                # client role as mlflow:reader
    ({"groups": ["/data-science"]}, "EDIT", False),               # group path
    ({"roles": ["editor"]}, "EDIT", False),
    ({"roles": ["devops"]}, "MANAGE", False),
    ({"roles": ["mlflow-admin"]}, "MANAGE", True),
    ({"roles": ["viewer", "devops"], "groups": ["/data-science"]}, "MANAGE", False),  # highest
    ({"roles": ["reader"], "groups": ["data-science"]}, "NO_PERMISSIONS", False),  # exact match
    ({}, "NO_PERMISSIONS", False),
])
def test_level_is_the_highest_mapped_role(issuer, server, kw, level, admin):
    """R-SSO-8: realm roles, client roles (as client:role) and group paths, matched exactly.
    R-SSO-9: the highest mapped level wins, admin makes is_admin, no match is NO_PERMISSIONS."""
    name = f"map-{level.lower()}-{len(kw)}-{admin}-{abs(hash(str(kw))) % 10000}"
    me = whoami(as_user(issuer, name, **kw), server)
    assert me["permission"] == level and me["is_admin"] is admin and me["sso"] is True
    assert me["auth_method"] == "bearer"


def test_unmapped_user_sees_nothing(issuer, server):
    """R-SSO-9: unmapped -> unmapped_permission (NO_PERMISSIONS): 403, empty searches."""
    s = as_user(issuer, "unmapped1")
    assert api(s, server, "GET", "experiments/get", params={"experiment_id": "0"}).status_code == 403
    r = api(s, server, "POST", "experiments/search", {"max_results": 10})
    assert r.status_code == 200 and r.json().get("experiments", []) == []
    r = api(s, server, "POST", "runs/search", {"experiment_ids": ["0"]})
    assert r.status_code == 200 and r.json().get("runs", []) == []


def test_authoritative_read_user_cannot_create_and_grants_do_not_count(issuer, server):
    """R-SSO-10: authoritative mode: READ cannot create (needs EDIT), an explicit MANAGE grant is
    ignored, the mapped level holds on every resource."""
    editor = as_user(issuer, "auth-editor", roles=["editor"])
    reader = as_user(issuer, "auth-reader", roles=["viewer"])
    r = api(reader, server, "POST", "experiments/create", {"name": "reader-exp"})
    assert r.status_code == 403, r.text
    exp = api(editor, server, "POST", "experiments/create", {"name": "auth-exp"}).json()["experiment_id"]
    assert api(reader, server, "GET", "experiments/get", params={"experiment_id": exp}).status_code == 200
    assert api(reader, server, "POST", "experiments/update",
               {"experiment_id": exp, "new_name": "x"}).status_code == 403
    admin = requests.Session()
    admin.auth = ("admin", "password1234")
    r = api(admin, server, "POST", "experiments/permissions/create",
            {"experiment_id": exp, "username": "auth-reader", "permission": "MANAGE"})
    assert r.status_code == 200, r.text
    # authoritative: the explicit MANAGE grant is not the level; READ is.
    assert api(reader, server, "POST", "experiments/delete", {"experiment_id": exp}).status_code == 403
    # An editor edits everything, not only what they created.
    r = api(editor, server, "POST", "experiments/update", {"experiment_id": "0", "new_name": "Default"})
    assert r.status_code == 200, r.text


def test_demotion_takes_effect_on_the_next_request(issuer, server):
    """R-SSO-9: a role taken away in the token counts on the very next request."""
    editor = as_user(issuer, "demoted", roles=["editor"])
    exp = api(editor, server, "POST", "experiments/create", {"name": "demote-exp"}).json()["experiment_id"]
    r = api(editor, server, "POST", "runs/create", {"experiment_id": exp})
    assert r.status_code == 200, r.text
    reader = as_user(issuer, "demoted", roles=["viewer"])  # the IdP took the role away
    assert api(reader, server, "POST", "runs/create", {"experiment_id": exp}).status_code == 403
    assert api(reader, server, "GET", "experiments/get", params={"experiment_id": exp}).status_code == 200
    nobody = as_user(issuer, "demoted")
    assert api(nobody, server, "GET", "experiments/get", params={"experiment_id": exp}).status_code == 403
    # Losing the admin role ends admin rights at once too.
    boss = as_user(issuer, "demoted-boss", roles=["mlflow-admin"])
    assert api(boss, server, "GET", "users/get", params={"username": "admin"}).status_code == 200
    former = as_user(issuer, "demoted-boss", roles=["viewer"])
    assert api(former, server, "GET", "users/get", params={"username": "admin"}).status_code == 403


def test_thousand_sso_requests_write_no_permission_row(issuer, server):
    """R-SSO-9: levels are evaluated per request: the permission tables' row counts (and the
    users table) do not change across 1,000 SSO requests."""
    users = [as_user(issuer, f"bulk{i}", roles=[role]) for i, role in
             enumerate(["viewer", "editor", "devops", "viewer"])]
    for s in users:  # first sight: users and bindings are made now
        assert api(s, server, "GET", "experiments/get", params={"experiment_id": "0"}).status_code == 200
    before = permission_rows(server)
    with auth_db(server) as db:
        users_before = db.execute("SELECT COUNT(*) FROM users").fetchone()[0]
    for i in range(1000):
        s = users[i % len(users)]
        r = (api(s, server, "GET", "experiments/get", params={"experiment_id": "0"}) if i % 2 else
             api(s, server, "POST", "experiments/search", {"max_results": 5}))
        assert r.status_code == 200, r.text
    assert permission_rows(server) == before
    with auth_db(server) as db:
        assert db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == users_before


# --- identity and provisioning (R-SSO-6, -7) -------------------------------------------------

def test_first_sight_provisions_with_an_unusable_password(issuer, server):
    """R-SSO-7: the user row is made with an unusable password; Basic with the sub (or anything)
    gets 401. R-SSO-6: (iss, sub) is bound to the username at first sight."""
    s = as_user(issuer, "newcomer", sub="sub-newcomer-1", roles=["viewer"])
    assert api(s, server, "GET", "experiments/get", params={"experiment_id": "0"}).status_code == 200
    with auth_db(server) as db:
        (hash_,) = db.execute("SELECT password_hash FROM users WHERE username='newcomer'").fetchone()
        bound = db.execute("SELECT issuer, subject FROM mlflowd_sso_identities "
                           "WHERE username='newcomer'").fetchall()
    assert hash_ == "!sso"
    assert bound == [(issuer.issuer, "sub-newcomer-1")]
    basic = requests.Session()
    for password in ("sub-newcomer-1", "", "!sso"):
        basic.auth = ("newcomer", password)
        r = api(basic, server, "GET", "users/get", params={"username": "newcomer"})
        assert r.status_code == 401, (password, r.text)


def test_sso_users_cannot_give_themselves_a_password(issuer, server):
    """R-SSO-7: Basic stays closed to an SSO user (only a PAT opens it)."""
    s = as_user(issuer, "no-password", roles=["viewer"])
    r = api(s, server, "PATCH", "users/update-password",
            {"username": "no-password", "password": "a-long-password-123"})
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED", r.text
    basic = requests.Session()
    basic.auth = ("no-password", "a-long-password-123")
    assert api(basic, server, "GET", "users/get", params={"username": "no-password"}).status_code == 401


def test_basic_timing_does_not_tell_which_users_exist(issuer, server):
    """R-SSO-14 (§7 timing-safe): Basic for an unknown user, or for an SSO user (unusable
    password), costs a password derivation like a wrong password of a real user does. Without
    the dummy derivation they would answer ~100x faster; 0.3x leaves room for noise."""
    whoami(as_user(issuer, "timed-sso", roles=["viewer"]), server)

    def median_401(username):
        s = requests.Session()
        s.auth = (username, "wrong-password-123")
        times = []
        for _ in range(5):
            began = time.perf_counter()
            assert api(s, server, "GET", "experiments/search").status_code == 401
            times.append(time.perf_counter() - began)
        return sorted(times)[2]
    real = median_401("admin")
    assert median_401("no-such-user") > 0.3 * real
    assert median_401("timed-sso") > 0.3 * real


def test_same_username_with_another_sub_is_refused_until_rebound(issuer, server):
    """R-SSO-6: same username, different sub -> 403 until an admin re-binds it."""
    first = as_user(issuer, "bound-bob", sub="sub-bob-1", roles=["viewer"])
    assert api(first, server, "GET", "experiments/get", params={"experiment_id": "0"}).status_code == 200
    impostor = as_user(issuer, "bound-bob", sub="sub-bob-2", roles=["mlflow-admin"])
    assert api(impostor, server, "GET", "experiments/get", params={"experiment_id": "0"}).status_code == 403
    # Only an admin can re-bind; then the next sign-in binds anew.
    r = api(first, server, "DELETE", "users/sso-binding", {"username": "bound-bob"}, service="mlflowd")
    assert r.status_code == 403
    admin = requests.Session()
    admin.auth = ("admin", "password1234")
    r = api(admin, server, "DELETE", "users/sso-binding", {"username": "bound-bob"}, service="mlflowd")
    assert r.status_code == 200, r.text
    again = as_user(issuer, "bound-bob", sub="sub-bob-2", roles=["viewer"])
    assert api(again, server, "GET", "experiments/get", params={"experiment_id": "0"}).status_code == 200
    assert api(first, server, "GET", "experiments/get", params={"experiment_id": "0"}).status_code == 403


def test_username_is_the_first_non_empty_username_claim(issuer, server):
    """R-SSO-6: username = the first non-empty of preferred_username, email, sub."""
    s = as_user(issuer, "unused", preferred_username=None, email="mail-only@example.test",
                sub="sub-mail-only", roles=["viewer"])
    assert whoami(s, server)["username"] == "mail-only@example.test"
    s = as_user(issuer, "unused", preferred_username="", email=None, sub="sub-only-7",
                roles=["viewer"])
    assert whoami(s, server)["username"] == "sub-only-7"


def test_the_local_admin_name_cannot_be_taken_by_a_token(issuer, server):
    """R-SSO-6: the local admin has no (iss, sub) binding, so no token becomes that user."""
    s = as_user(issuer, "admin", roles=["mlflow-admin"])
    assert api(s, server, "GET", "experiments/get", params={"experiment_id": "0"}).status_code == 403


# --- personal access tokens ---------------------------------------------------------------

def test_access_tokens_carry_the_sso_level_to_basic_clients(issuer, server):
    """R-SSO-7: Basic works for an SSO user once a PAT is issued (and only with the PAT)."""
    sso = as_user(issuer, "pat-user", roles=["editor"])
    r = api(sso, server, "POST", "tokens/create", {"name": "ci", "expires_in_days": 30},
            service="mlflowd")
    assert r.status_code == 200, r.text
    body = r.json()
    secret = body["token"]
    MINTED.append(secret)
    assert body["access_token"]["username"] == "pat-user" and "expires_at" in body["access_token"]
    # The way the mlflow client sends MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD.
    client = requests.Session()
    client.auth = ("pat-user", secret)
    r = api(client, server, "POST", "experiments/create", {"name": "made-with-pat"})
    assert r.status_code == 200, r.text
    assert whoami(client, server)["auth_method"] == "access_token"
    assert whoami(client, server)["permission"] == "EDIT"
    listed = api(client, server, "GET", "tokens/list", service="mlflowd").json()["access_tokens"]
    assert [t["name"] for t in listed] == ["ci"] and all("token" not in t for t in listed)
    with auth_db(server) as db:
        stored = db.execute("SELECT secret_hash FROM mlflowd_access_tokens").fetchall()
    assert all(secret not in row[0] for row in stored)
    # A token cannot make tokens: one that could would outlive its own expiry and revocation.
    r = api(client, server, "POST", "tokens/create", {"name": "forever"}, service="mlflowd")
    assert r.status_code == 403 and "cannot create tokens" in r.json()["message"], r.text
    wrong_user = requests.Session()
    wrong_user.auth = ("someone-else", secret)
    assert api(wrong_user, server, "GET", "experiments/search").status_code == 401
    # Others' tokens: admins only.
    r = api(sso, server, "POST", "tokens/create", {"name": "x", "username": "admin"}, service="mlflowd")
    assert r.status_code == 403
    r = api(client, server, "DELETE", "tokens/delete", {"id": listed[0]["id"]}, service="mlflowd")
    assert r.status_code == 200, r.text
    assert api(client, server, "GET", "experiments/search").status_code == 401


def test_demotion_reaches_access_tokens_at_the_next_sign_in(issuer, server):
    """R-SSO-9: a PAT carries the level of the user's latest sign-in, not a stored grant."""
    sso = as_user(issuer, "pat-demoted", roles=["editor"])
    secret = api(sso, server, "POST", "tokens/create", {"name": "t"}, service="mlflowd").json()["token"]
    MINTED.append(secret)
    client = requests.Session()
    client.auth = ("pat-demoted", secret)
    assert whoami(client, server)["permission"] == "EDIT"
    whoami(as_user(issuer, "pat-demoted", roles=["viewer"]), server)  # signs in with fewer roles
    assert whoami(client, server)["permission"] == "READ"


# --- endpoints for the web UI ----------------------------------------------------------------

def test_role_mappings_endpoint(issuer, server):
    """R-SSO-2: [role_mappings] comma lists are read as lists; the [sso] defaults apply."""
    r = api(as_user(issuer, "ui-reader", roles=["viewer"]), server, "GET", "auth/role-mappings",
            service="mlflowd")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["role_mappings"]["EDIT"] == ["editor", "/data-science"]
    assert body["role_mappings"]["admin"] == ["mlflow-admin"]
    assert body["mapping_mode"] == "authoritative" and body["unmapped_permission"] == "NO_PERMISSIONS"
    assert body["modes"] == ["basic", "bearer"] and body["sso_enabled"] is True
    r = requests.get(server.url + "/ajax-api/2.0/mlflowd/auth/whoami",
                     headers={"Authorization": "Bearer " + token_for(issuer, "ui-reader", roles=["viewer"])})
    assert r.status_code == 200 and r.json()["user"]["roles"] == ["viewer"]


def test_health_and_ready_need_no_credentials(server):
    """R-SSO-16: /health and /ready answer without credentials; everything else needs them
    (every route: test_authz_all_routes.py)."""
    assert requests.get(server.url + "/health").status_code == 200
    assert requests.get(server.url + "/ready").status_code == 200
    r = requests.get(server.url + "/api/2.0/mlflow/experiments/search")
    assert r.status_code == 401 and 'Bearer realm="mlflow"' in r.headers["WWW-Authenticate"]
    for path in ("/ajax-api/2.0/mlflow/experiments/search", "/api/2.0/mlflowd/auth/whoami",
                 "/api/2.0/mlflow-artifacts/artifacts", "/api/2.0/mlflow/registered-models/search"):
        assert requests.get(server.url + path).status_code == 401, path


def test_request_headers_up_to_32_kib_then_431(issuer, server):
    """R-SSO-15: 32 KiB of request headers are accepted, more gets 431."""
    t = token_for(issuer, "big-headers", roles=["viewer"])
    ok = {"Authorization": f"Bearer {t}", "X-Padding": "p" * (30 * 1024)}
    assert requests.get(server.url + "/api/2.0/mlflow/experiments/get",
                        params={"experiment_id": "0"}, headers=ok).status_code == 200
    big = {"Authorization": f"Bearer {t}", "X-Padding": "p" * (40 * 1024)}
    assert requests.get(server.url + "/api/2.0/mlflow/experiments/get",
                        params={"experiment_id": "0"}, headers=big).status_code == 431


def test_header_limit_is_configurable(make_server):
    """R-SSO-15: the 32 KiB limit is a setting (--max-header-size)."""
    s = make_server(args=["--max-header-size", "65536"])
    assert s.get("/health", headers={"X-Padding": "p" * (40 * 1024)}).status_code == 200
    assert s.get("/health", headers={"X-Padding": "p" * (70 * 1024)}).status_code == 431


def test_an_email_the_issuer_has_not_verified_names_no_one(issuer, server):
    """An email claim with email_verified false is not a username (anyone may type a victim's
    address into their profile); never the next claim instead. A verified one is."""
    unverified = issuer.mint(claims_for("x", preferred_username=None, email="victim@corp.test",
                                        email_verified=False, roles=["viewer"]))
    message = assert_invalid_token(api(bearer(unverified), server, "GET", "auth/whoami",
                                       service="mlflowd"))
    assert "email_verified" in message
    verified = issuer.mint(claims_for("x", sub="sub-verified", preferred_username=None,
                                      email="owner@corp.test", email_verified=True,
                                      roles=["viewer"]))
    assert whoami(bearer(verified), server)["username"] == "owner@corp.test"


def test_a_sub_longer_than_255_bytes_is_refused_as_a_token_problem(issuer, server):
    """OIDC caps sub at 255 characters; a longer one is an invalid token (401), never an SQL
    error about the column's width (PostgreSQL) or a stored identity (SQLite)."""
    t = issuer.mint(claims_for("long-sub", sub="s" * 300, roles=["viewer"]))
    message = assert_invalid_token(api(bearer(t), server, "GET", "experiments/search"))
    assert "sub" in message and "SQL" not in message
