"""Trusted proxy headers (R-SSO-8, R-SSO-11): oauth2-proxy's X-Forwarded-User / -Email /
-Preferred-Username / -Groups are believed only from trusted_proxies (default loopback
127.0.0.1/32 and ::1/128). The same headers from 127.0.0.2 — loopback too, but not trusted — are
ignored, as is a forwarded access token."""
import base64
import http.client
import json
import os
import sqlite3

import pytest
import requests

from sso_helpers import FakeIssuer, api, bearer as bearer_session, session_from, start_sso_server


@pytest.fixture(scope="module")
def issuer(tmp_path_factory):
    i = FakeIssuer(tmp_path_factory.mktemp("issuer")).start()
    yield i
    i.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, issuer):
    s = start_sso_server(tmp_path_factory.mktemp("hdr"), issuer.issuer,
                         sso={"modes": "bearer, trusted_header"}, args=["--host", "0.0.0.0"])
    yield s
    s.stop()


def proxied(user, groups=(), email=None, sub=None, lines=True):
    h = {"X-Forwarded-User": sub or f"sub-{user}", "X-Forwarded-Preferred-Username": user,
         "X-Forwarded-Email": email or f"{user}@example.test"}
    return h, list(groups) if lines else [", ".join(groups)]


class Answer:
    def __init__(self, status, text):
        self.status_code, self.text = status, text

    def json(self):
        return json.loads(self.text)


def get(server, headers, groups, source="127.0.0.1"):
    """GET whoami with X-Forwarded-Groups as repeated header lines, as oauth2-proxy sends them."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30,
                                      source_address=(source, 0))
    conn.putrequest("GET", "/api/2.0/mlflowd/auth/whoami")
    for k, v in headers.items():
        conn.putheader(k, v)
    for g in groups:
        conn.putheader("X-Forwarded-Groups", g)
    conn.endheaders()
    r = conn.getresponse()
    answer = Answer(r.status, r.read().decode())
    conn.close()
    return answer


@pytest.mark.parametrize("groups, lines, level", [
    (["/data-science"], True, "EDIT"),
    (["role:viewer"], True, "READ"),
    (["role:mlflow:reader"], True, "READ"),            # client role, oauth2-proxy spelling
    (["/other", "role:devops"], True, "MANAGE"),       # one header line per group
    (["role:devops", "/other"], True, "MANAGE"),
    (["/other", "role:devops"], False, "MANAGE"),      # comma-joined
    (["/other"], True, "NO_PERMISSIONS"),
])
def test_headers_from_a_trusted_proxy(server, groups, lines, level):
    """R-SSO-8: X-Forwarded-Groups as repeated lines or comma-joined, `role:` understood, group
    paths matched exactly. R-SSO-11: believed from 127.0.0.1 (default trusted_proxies)."""
    headers, values = proxied(f"hdr-{level.lower()}-{len(groups)}-{lines}", groups, lines=lines)
    r = get(server, headers, values)
    assert r.status_code == 200, r.text
    me = r.json()["user"]
    assert me["auth_method"] == "trusted_header" and me["permission"] == level


def test_admin_role_from_headers(server):
    """R-SSO-9: the admin mapping makes the request an admin's."""
    headers, values = proxied("hdr-boss", ["role:mlflow-admin"])
    me = get(server, headers, values).json()["user"]
    assert me["is_admin"] is True


def test_the_same_headers_from_an_untrusted_address_are_ignored(server, issuer):
    """R-SSO-11: header spoofing from 127.0.0.2 (not in trusted_proxies) gets nowhere."""
    headers, values = proxied("hdr-spoof", ["role:mlflow-admin"])
    r = get(server, headers, values, source="127.0.0.2")
    assert r.status_code == 401
    # A forwarded access token is a proxy header too.
    t = issuer.mint({"preferred_username": "hdr-spoof2", "sub": "s2",
                     "realm_access": {"roles": ["viewer"]}})
    untrusted = session_from("127.0.0.2")
    r = untrusted.get(server.url + "/api/2.0/mlflowd/auth/whoami",
                      headers={"X-Forwarded-Access-Token": t})
    assert r.status_code == 401
    trusted = requests.get(server.url + "/api/2.0/mlflowd/auth/whoami",
                           headers={"X-Forwarded-Access-Token": t})
    assert trusted.status_code == 200 and trusted.json()["user"]["username"] == "hdr-spoof2"
    # Bearer tokens are verified, so they work from anywhere.
    r = untrusted.get(server.url + "/api/2.0/mlflowd/auth/whoami",
                      headers={"Authorization": f"Bearer {t}"})
    assert r.status_code == 200


def test_bearer_wins_over_headers(server, issuer):
    """R-SSO-1: precedence Bearer > trusted headers."""
    t = issuer.mint({"preferred_username": "hdr-bearer", "sub": "s3",
                     "realm_access": {"roles": ["viewer"]}})
    headers, values = proxied("hdr-other", ["role:mlflow-admin"])
    headers["Authorization"] = f"Bearer {t}"
    me = get(server, headers, values).json()["user"]
    assert me["username"] == "hdr-bearer" and me["auth_method"] == "bearer"


def test_headers_write_no_permission_rows_and_demote_at_once(server):
    """R-SSO-9: a group taken away counts on the next request; no permission row is written."""
    rows = permission_rows(server)
    headers, values = proxied("hdr-demote", ["/data-science"])
    assert get(server, headers, values).json()["user"]["permission"] == "EDIT"
    headers, values = proxied("hdr-demote", ["role:viewer"])
    assert get(server, headers, values).json()["user"]["permission"] == "READ"
    r = api(session_from("127.0.0.1"), server, "GET", "experiments/get", params={"experiment_id": "0"})
    assert r.status_code == 401
    assert permission_rows(server) == rows


def permission_rows(server):
    with sqlite3.connect(os.path.join(server.workdir, "basic_auth.db")) as db:
        return [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in
                ("experiment_permissions", "registered_model_permissions", "scorer_permissions")]


def test_basic_wins_over_headers(server):
    """R-SSO-1: precedence Basic > trusted headers (oauth2-proxy's --pass-basic-auth case)."""
    headers, values = proxied("hdr-under-basic", ["role:viewer"])
    headers["Authorization"] = "Basic " + base64.b64encode(b"admin:password1234").decode()
    me = get(server, headers, values).json()["user"]
    assert me["username"] == "admin" and me["auth_method"] == "basic"
    headers["Authorization"] = "Basic " + base64.b64encode(b"admin:wrong").decode()
    assert get(server, headers, values).status_code == 401  # no fallback to the headers


def test_trusted_proxies_setting(tmp_path, issuer):
    """R-SSO-11: trusted_proxies replaces the loopback default: with 127.0.0.2/32 the headers
    count from 127.0.0.2 only, and 127.0.0.1 is just another untrusted peer."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer, args=["--host", "0.0.0.0"],
                         sso={"modes": "bearer, trusted_header", "trusted_proxies": "127.0.0.2/32"})
    try:
        headers, values = proxied("hdr-via-02", ["role:viewer"])
        r = get(s, headers, values, source="127.0.0.2")
        assert r.status_code == 200 and r.json()["user"]["username"] == "hdr-via-02", r.text
        assert get(s, headers, values, source="127.0.0.1").status_code == 401
    finally:
        s.stop()


def test_a_first_header_that_names_no_one_refuses_the_request(server):
    """As with token claims: an unusable X-Forwarded-Preferred-Username (not UTF-8, over 255
    bytes) refuses the request, never falls back to the next header (the email); an
    over-long X-Forwarded-User likewise. Nothing is stored for them."""
    cases = [
        {"X-Forwarded-User": "sub-bad-utf8", "X-Forwarded-Preferred-Username": "bad\xff",
         "X-Forwarded-Email": "bad@example.test"},
        {"X-Forwarded-User": "sub-too-long", "X-Forwarded-Preferred-Username": "u" * 300,
         "X-Forwarded-Email": "victim@example.test"},
        {"X-Forwarded-User": "s" * 300, "X-Forwarded-Preferred-Username": "long-sub",
         "X-Forwarded-Email": "long-sub@example.test"},
    ]
    for headers in cases:
        r = get(server, headers, ["role:devops"])
        assert r.status_code == 403, r.text
    admin = requests.Session()
    admin.auth = ("admin", "password1234")
    for name in ("victim@example.test", "bad@example.test", "long-sub"):
        r = api(admin, server, "GET", "users/get", params={"username": name})
        assert r.status_code == 404, r.text


def test_adding_an_issuer_keeps_the_users_bound_by_headers(tmp_path, issuer):
    """Identities bound from proxy headers while no issuer was set move under the issuer once
    one is (the proxy's X-Forwarded-User is that issuer's sub): no user is locked out, and the
    same person's bearer token is the same user."""
    work = tmp_path / "srv"
    headers, values = proxied("migrated", ["role:devops"], sub="sub-migrated")
    s = start_sso_server(work, None, sso={"modes": "trusted_header"})
    try:
        assert get(s, headers, values).json()["user"]["username"] == "migrated"
    finally:
        s.stop()
    s = start_sso_server(work, issuer.issuer, sso={"modes": "trusted_header, bearer"})
    try:
        r = get(s, headers, values)
        assert r.status_code == 200, r.text
        assert r.json()["user"]["username"] == "migrated"
        token = issuer.mint({"preferred_username": "migrated", "sub": "sub-migrated",
                             "realm_access": {"roles": ["devops"]}})
        r = api(bearer_session(token), s, "GET", "auth/whoami", service="mlflowd")
        assert r.status_code == 200, r.text
        assert r.json()["user"]["username"] == "migrated"
    finally:
        s.stop()


def test_a_refusal_reaches_a_binding_made_by_headers_before_the_issuer(tmp_path, issuer):
    """A header user bound before an issuer was set, then refused by allowed_groups after it
    was: the refusal reaches the (adopted) binding, so the user's access tokens stop too."""
    work = tmp_path / "srv"
    headers = {"X-Forwarded-User": "sub-bob", "X-Forwarded-Preferred-Username": "bob"}
    s = start_sso_server(work, None, sso={"modes": "trusted_header", "allowed_groups": "staff"})
    try:
        r = requests.post(f"{s.url}/api/2.0/mlflowd/tokens/create", json={"name": "ci"},
                          headers={**headers, "X-Forwarded-Groups": "staff,role:mlflow-admin"},
                          timeout=30)
        assert r.status_code == 200, r.text
        token = r.json()["token"]
    finally:
        s.stop()
    s = start_sso_server(work, issuer.issuer, sso={"modes": "trusted_header, basic",
                                                   "allowed_groups": "staff"})
    try:
        pat = requests.Session()
        pat.auth = ("bob", token)
        assert api(pat, s, "GET", "auth/whoami", service="mlflowd").status_code == 200
        r = get(s, headers, ["contractors"])
        assert r.status_code == 403, r.text
        assert api(pat, s, "GET", "auth/whoami", service="mlflowd").status_code == 403
    finally:
        s.stop()
