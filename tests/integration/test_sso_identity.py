"""Who a token may become, and what a refused sign-in leaves behind (R-SSO-7, -8, -9, -10).

  * A sign-in refused by `allowed_groups` is recorded: the user's personal access tokens stop
    working with it, as a demotion reaches them at the next sign-in.
  * A legacy password equal to the token's `sub` is retired at the first token naming the user,
    refused or not (`sub` is never a password).
  * A token whose username is a local account's (a real password of its own) does not carry the
    account's admin flag, and does not write the mapping's admin flag into it: the flag goes with
    the local password, the mapping with the token.
  * Client roles of a client id holding dots (`mlflow.example.com`) are read."""
import time

import requests

from sso_helpers import FakeIssuer, api, bearer, claims_for, start_sso_server

import pytest


@pytest.fixture(scope="module")
def issuer(tmp_path_factory):
    i = FakeIssuer(tmp_path_factory.mktemp("issuer")).start()
    yield i
    i.stop()


def basic(user, password):
    s = requests.Session()
    s.auth = (user, password)
    return s


ADMIN = basic("admin", "password1234")
EXP0 = {"experiment_id": "0"}


def whoami(s, server):
    return api(s, server, "GET", "auth/whoami", service="mlflowd")


def create_local_user(server, name, password, admin=False):
    r = api(ADMIN, server, "POST", "users/create", {"username": name, "password": password})
    assert r.status_code == 200, r.text
    if admin:
        r = api(ADMIN, server, "PATCH", "users/update-admin", {"username": name, "is_admin": True})
        assert r.status_code == 200, r.text


def can_create_users(s, server, name):
    r = api(s, server, "POST", "users/create", {"username": name, "password": "pw-0123456789ab"})
    return r.status_code == 200


def test_a_refused_sign_in_stops_the_users_access_tokens(tmp_path, issuer):
    s = start_sso_server(tmp_path / "srv", issuer.issuer, sso={"allowed_groups": "/mlflow-users"})
    try:
        member = bearer(issuer.mint(claims_for("mallory", roles=["devops"],
                                               groups=["/mlflow-users"])))
        r = api(member, s, "POST", "tokens/create", {"name": "ci"}, service="mlflowd")
        assert r.status_code == 200, r.text
        pat = basic("mallory", r.json()["token"])
        assert whoami(pat, s).json()["user"]["permission"] == "MANAGE"
        # the IdP takes her out of the group: her next token is refused, and so is her PAT
        gone = bearer(issuer.mint(claims_for("mallory", roles=["devops"], groups=[])))
        assert api(gone, s, "GET", "experiments/get", params=EXP0).status_code == 403
        r = api(pat, s, "POST", "experiments/create", {"name": "after-removal"})
        assert r.status_code == 403, r.text
        # back in the group: both work again
        member = bearer(issuer.mint(claims_for("mallory", roles=["devops"],
                                               groups=["/mlflow-users"])))
        assert api(member, s, "GET", "experiments/get", params=EXP0).status_code == 200
        assert api(pat, s, "GET", "experiments/get", params=EXP0).status_code == 200
    finally:
        s.stop()


def test_a_legacy_sub_password_is_retired_even_when_the_sign_in_is_refused(tmp_path, issuer):
    s = start_sso_server(tmp_path / "srv", issuer.issuer, sso={"allowed_groups": "/mlflow-users"})
    try:
        sub = "sub-legacy-user-0123456789"
        create_local_user(s, "legacy", sub)  # what the platform's old hook did
        assert whoami(basic("legacy", sub), s).status_code == 200
        outside = bearer(issuer.mint(claims_for("legacy", sub=sub, roles=["viewer"])))
        assert api(outside, s, "GET", "experiments/get", params=EXP0).status_code == 403
        assert whoami(basic("legacy", sub), s).status_code == 401
        assert "user.password_unusable" in s.log()
    finally:
        s.stop()


@pytest.fixture(params=["authoritative", "floor"])
def either_mode(request, tmp_path, issuer):
    """A server with Basic and bearer tokens, in each mapping mode."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer,
                         sso={"modes": "bearer, basic", "mapping_mode": request.param})
    yield s
    s.stop()


def test_a_token_does_not_take_a_local_accounts_admin_flag(issuer, either_mode):
    s = either_mode
    create_local_user(s, "carol", "carol-local-password", admin=True)
    carol_token = bearer(issuer.mint(claims_for("carol", roles=["viewer"])))
    assert whoami(carol_token, s).json()["user"]["is_admin"] is False
    assert not can_create_users(carol_token, s, "made-by-carol-token")
    # her local password keeps her local admin flag
    assert can_create_users(basic("carol", "carol-local-password"), s, "made-by-carol")


def test_a_tokens_admin_mapping_does_not_reach_a_local_password(issuer, either_mode):
    s = either_mode
    create_local_user(s, "bob", "bob-local-password")
    bob_token = bearer(issuer.mint(claims_for("bob", roles=["mlflow-admin"])))
    assert whoami(bob_token, s).json()["user"]["is_admin"] is True  # the mapping says so
    local = basic("bob", "bob-local-password")
    assert whoami(local, s).json()["user"]["is_admin"] is False
    assert not can_create_users(local, s, "made-by-bob")


def test_client_roles_of_a_dotted_client_id(tmp_path, issuer):
    s = start_sso_server(tmp_path / "srv", issuer.issuer,
                         sso={"audiences": "mlflow.example.com"},
                         mappings={"EDIT": "mlflow.example.com:editor", "READ": "viewer"})
    try:
        claims = claims_for("dot", aud=["mlflow.example.com"],
                            resource_access={"mlflow.example.com": {"roles": ["editor"]}})
        user = whoami(bearer(issuer.mint(claims)), s).json()["user"]
        assert user["permission"] == "EDIT", user
        assert "mlflow.example.com:editor" in user["roles"], user
    finally:
        s.stop()


def test_admin_comes_from_the_mapping_only_in_either_mode(tmp_path, issuer):
    """A user single sign-on made keeps is_admin as a mirror of the mapping
    (sso-and-deploy.md §3.4), never read back as a grant: neither after a switch from
    authoritative to floor mode, nor after a demotion in floor mode."""
    work = tmp_path / "srv"
    s = start_sso_server(work, issuer.issuer, sso={"modes": "bearer, basic"})
    try:
        boss = bearer(issuer.mint(claims_for("dana", roles=["mlflow-admin"])))
        assert whoami(boss, s).json()["user"]["is_admin"] is True
    finally:
        s.stop()
    s = start_sso_server(work, issuer.issuer, sso={"modes": "bearer, basic", "mapping_mode": "floor"})
    try:
        viewer = bearer(issuer.mint(claims_for("dana", roles=["viewer"])))
        assert whoami(viewer, s).json()["user"]["is_admin"] is False
        assert not can_create_users(viewer, s, "made-by-dana")
        promoted = bearer(issuer.mint(claims_for("erin", roles=["mlflow-admin"])))
        assert whoami(promoted, s).json()["user"]["is_admin"] is True
        demoted = bearer(issuer.mint(claims_for("erin", roles=["editor"])))
        assert whoami(demoted, s).json()["user"]["is_admin"] is False
        assert not can_create_users(demoted, s, "made-by-erin")
    finally:
        s.stop()


def test_removing_a_binding_revokes_what_the_identity_held(issuer, either_mode):
    """The next identity to claim a username must not inherit the previous one's access
    tokens; the previous identity keeps nothing either."""
    s = either_mode
    first = bearer(issuer.mint(claims_for("shared", sub="sub-first", roles=["mlflow-admin"])))
    r = api(first, s, "POST", "tokens/create", {"name": "ci"}, service="mlflowd")
    assert r.status_code == 200, r.text
    pat = basic("shared", r.json()["token"])
    assert whoami(pat, s).json()["user"]["is_admin"] is True
    r = api(ADMIN, s, "DELETE", "users/sso-binding", {"username": "shared"}, service="mlflowd")
    assert r.status_code == 200, r.text
    assert whoami(pat, s).status_code == 401
    second = bearer(issuer.mint(claims_for("shared", sub="sub-second", roles=["viewer"])))
    me = whoami(second, s).json()["user"]
    assert me["permission"] == "READ" and me["is_admin"] is False
    assert whoami(pat, s).status_code == 401
    assert not can_create_users(second, s, "made-by-second")


def test_a_local_account_a_token_claimed_still_changes_its_own_password(issuer, either_mode):
    """The owner of a local account (its own password) that a token was bound to may still
    change that password; the token's holder may not."""
    s = either_mode
    create_local_user(s, "svcbot", "svcbot-local-password")
    token = bearer(issuer.mint(claims_for("svcbot", roles=["viewer"])))
    assert whoami(token, s).json()["user"]["username"] == "svcbot"
    body = {"username": "svcbot", "password": "svcbot-new-password"}
    assert api(token, s, "PATCH", "users/update-password", body).status_code == 403
    r = api(basic("svcbot", "svcbot-local-password"), s, "PATCH", "users/update-password", body)
    assert r.status_code == 200, r.text
    assert whoami(basic("svcbot", "svcbot-new-password"), s).status_code == 200


def test_an_older_token_replayed_does_not_undo_a_demotion(issuer, either_mode):
    """The snapshot a user's access tokens run with is the one of the latest-issued token seen:
    an older, still valid token presented after a demotion does not restore what it said."""
    s = either_mode
    now = int(time.time())
    old = bearer(issuer.mint(claims_for("fay", roles=["mlflow-admin"], iat=now - 120)))
    assert whoami(old, s).json()["user"]["is_admin"] is True
    r = api(old, s, "POST", "tokens/create", {"name": "ci"}, service="mlflowd")
    assert r.status_code == 200, r.text
    pat = basic("fay", r.json()["token"])
    new = bearer(issuer.mint(claims_for("fay", roles=["viewer"], iat=now - 60)))
    assert whoami(new, s).json()["user"]["is_admin"] is False
    assert whoami(pat, s).json()["user"]["is_admin"] is False
    assert whoami(old, s).json()["user"]["is_admin"] is True  # the token itself, until its exp
    me = whoami(pat, s).json()["user"]
    assert me["is_admin"] is False and me["permission"] == "READ"
    assert not can_create_users(pat, s, "made-by-fay")


def test_a_later_token_with_the_same_roles_still_moves_the_snapshot_on(issuer, either_mode):
    """Viewer, then admin, then viewer again: the admin token, issued in between and replayed
    after the second viewer token, is earlier than what is stored, though the stored
    snapshot's content did not change with the second viewer token."""
    s = either_mode
    now = int(time.time())
    first = bearer(issuer.mint(claims_for("gil", roles=["viewer"], iat=now - 300)))
    between = bearer(issuer.mint(claims_for("gil", roles=["mlflow-admin"], iat=now - 200)))
    last = bearer(issuer.mint(claims_for("gil", roles=["viewer"], iat=now - 100)))
    r = api(first, s, "POST", "tokens/create", {"name": "ci"}, service="mlflowd")
    assert r.status_code == 200, r.text
    pat = basic("gil", r.json()["token"])
    assert whoami(last, s).json()["user"]["is_admin"] is False
    assert whoami(between, s).json()["user"]["is_admin"] is True  # the token itself
    assert whoami(pat, s).json()["user"]["is_admin"] is False


def test_an_older_refused_token_does_not_stop_a_users_access_tokens(tmp_path, issuer):
    """A refusal (outside allowed_groups) is recorded only if the token is not earlier than
    the stored snapshot: a replayed old token of a user since let in changes nothing."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer, sso={"allowed_groups": "/mlflow-users"})
    try:
        now = int(time.time())
        old = bearer(issuer.mint(claims_for("hal", roles=["viewer"], groups=["/other"],
                                            iat=now - 200)))
        new = bearer(issuer.mint(claims_for("hal", roles=["viewer"], groups=["/mlflow-users"],
                                            iat=now - 100)))
        r = api(new, s, "POST", "tokens/create", {"name": "ci"}, service="mlflowd")
        assert r.status_code == 200, r.text
        pat = basic("hal", r.json()["token"])
        assert api(old, s, "GET", "auth/whoami", service="mlflowd").status_code == 403
        assert whoami(pat, s).status_code == 200
        newest = bearer(issuer.mint(claims_for("hal", roles=["viewer"], groups=["/other"],
                                               iat=now - 10)))
        assert api(newest, s, "GET", "auth/whoami", service="mlflowd").status_code == 403
        assert whoami(pat, s).status_code == 403  # a later refusal does reach them
    finally:
        s.stop()
