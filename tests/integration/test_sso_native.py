"""The native login (R-SSO-12, R-SSO-13): authorization code + PKCE S256 + state + nonce against
a real OpenID provider (oidc-provider 9, whose paths differ from Keycloak's: discovery is
followed, R-SSO-3) driven by a cookie-jar client; server-side sessions, __Host- cookies, session
rotation, refresh via the refresh token (demotion at refresh), CSRF on cookie sessions, and
logout to the IdP's end_session_endpoint."""
import base64
import contextlib
import html
import os
import re
import sqlite3
import time
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
import requests

from conftest import Server
from sso_helpers import FakeIssuer, NodeServer, api, claims_for, write_sso_ini

CLIENT_ID, CLIENT_SECRET = "mlflow", "client-secret"


@pytest.fixture(autouse=True)
def loopback_is_a_secure_context(monkeypatch):
    """Browsers send Secure cookies to http://127.0.0.1 (a secure context); Python's cookie jar
    does not, and requests copies jars with the default policy, so the policy is patched."""
    original = DefaultCookiePolicy.return_ok_secure

    def return_ok_secure(self, cookie, request):
        return urlparse(request.get_full_url()).hostname == "127.0.0.1" or original(
            self, cookie, request)
    monkeypatch.setattr(DefaultCookiePolicy, "return_ok_secure", return_ok_secure)


def browser():
    """A cookie-jar client that asks for pages as a browser does."""
    s = requests.Session()
    s.headers["Accept"] = "text/html,application/xhtml+xml"
    return s


def native_server(workdir, issuer, **sso):
    settings = {"modes": "native, bearer", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "scopes": "openid profile email groups roles"}
    settings.update(sso)
    srv = Server(workdir, args=["--auth"])
    settings.setdefault("external_url", srv.url)
    path = write_sso_ini(workdir, issuer, settings)
    srv.env.update({"MLFLOW_AUTH_CONFIG_PATH": path, "MLFLOW_FLASK_SERVER_SECRET_KEY": "k" * 32})
    return srv


def submit(s, page, **fields):
    """Posts the page's form with its hidden inputs plus `fields`."""
    form = re.search(r"<form[^>]*action=\"([^\"]+)\"[^>]*>(.*?)</form>", page.text, re.S)
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
    data.update(fields)
    return s.post(urljoin(page.url, html.unescape(form.group(1))), data=data)


def session_rows(server):
    with sqlite3.connect(os.path.join(server.workdir, "basic_auth.db")) as db:
        return db.execute("SELECT kind, username FROM mlflowd_sessions ORDER BY kind").fetchall()


# --- a real OpenID provider --------------------------------------------------------------

@pytest.fixture
def provider_and_server(tmp_path):
    op = NodeServer(tmp_path / "op", "oidc-provider.mjs", CLIENT_ID, CLIENT_SECRET, "PLACEHOLDER", "X")
    srv = native_server(tmp_path / "srv", f"{op.base}")
    op.cmd[-2] = f"{srv.url}/oidc/callback"
    op.cmd[-1] = f"{srv.url}/"
    op.start("/.well-known/openid-configuration")
    srv.start()
    yield op, srv
    srv.stop()
    op.stop()


def test_full_code_pkce_login_with_a_real_provider(provider_and_server):
    """R-SSO-12: the full code + PKCE flow, __Host- cookie, session row, logout to the
    end_session_endpoint. R-SSO-3: works with only `issuer` set on a non-Keycloak provider.
    R-SSO-7: the user is provisioned with an unusable password. R-SSO-15: no cookie, code or
    CSRF token in the log."""
    op, srv = provider_and_server
    s = browser()
    # An unauthenticated page view goes to the login, which goes to the provider.
    login_page = s.get(srv.url + "/", allow_redirects=True)
    assert login_page.url.startswith(op.base + "/interaction/"), login_page.url
    consent = submit(s, login_page, login="oidc-editor", password="any")
    if "<form" in consent.text and urlparse(consent.url).netloc == urlparse(op.base).netloc:
        done = submit(s, consent)
    else:
        done = consent
    assert urlparse(done.url).netloc == urlparse(srv.url).netloc, (done.url, done.text[:500])
    assert done.status_code in (200, 404), done.text[:300]
    # The authorization request carried PKCE S256, state and nonce.
    auth_hop = next(h for h in login_page.history if "/auth?" in h.url)
    q = parse_qs(urlparse(auth_hop.url).query)
    assert q["code_challenge_method"] == ["S256"] and len(q["code_challenge"][0]) == 43
    assert len(q["state"][0]) >= 43 and len(q["nonce"][0]) >= 43
    # The session cookie: __Host-, Secure, HttpOnly, SameSite=Lax.
    set_cookies = ", ".join(h.headers.get("Set-Cookie", "") for h in done.history)
    session_cookie = re.search(r"__Host-mlflowd_session=[^,]+", set_cookies).group(0)
    for attribute in ("Path=/", "HttpOnly", "SameSite=Lax", "Secure"):
        assert attribute in session_cookie
    assert "Domain" not in session_cookie
    me = api(s, srv, "GET", "auth/whoami", service="mlflowd").json()["user"]
    assert me == {**me, "username": "oidc-editor", "auth_method": "session", "permission": "EDIT"}
    assert sorted(me["roles"]) == ["/data-science", "editor"]
    assert [r for r in session_rows(srv) if r[0] == "session"] == [("session", "oidc-editor")]
    with sqlite3.connect(os.path.join(srv.workdir, "basic_auth.db")) as db:
        assert db.execute("SELECT password_hash FROM users WHERE username = 'oidc-editor'"
                          ).fetchone() == ("!sso",)
    # Logout: POST with the CSRF token, to the provider's end_session_endpoint.
    csrf = api(s, srv, "GET", "auth/whoami", service="mlflowd").json()["csrf_token"]
    r = s.post(srv.url + "/oidc/logout", data={"csrf_token": csrf},
               headers={"Origin": srv.url}, allow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["Location"].startswith(op.base + "/session/end?")
    assert "id_token_hint=" in r.headers["Location"]
    assert [r for r in session_rows(srv) if r[0] == "session"] == []
    assert api(s, srv, "GET", "auth/whoami", service="mlflowd").status_code == 401
    callback = next(h for h in done.history if "/oidc/callback?" in h.url)
    code = parse_qs(urlparse(callback.url).query)["code"][0]
    log = srv.log()
    for secret in (session_cookie.split("=", 1)[1].split(";")[0], csrf, code):
        assert len(secret) >= 16 and secret not in log


# --- the Keycloak-shaped issuer (auto-approving /auth, refresh tokens) ----------------------------

@pytest.fixture
def issuer(tmp_path):
    i = FakeIssuer(tmp_path / "issuer").start()
    yield i
    i.stop()


def login(s, srv, next_path="/"):
    r = s.get(srv.url + "/oidc/login", params={"next": next_path}, allow_redirects=True)
    return r


def test_a_failing_discovery_is_asked_again_at_most_every_10_s(tmp_path, issuer):
    """Sign-in pages are unauthenticated: while the issuer's discovery document fails, a burst
    of them costs no fetch each (one retry per 10 s, as the key refresher's)."""
    issuer.fail(discovery=True)
    srv = native_server(tmp_path / "srv", issuer.issuer, cookie_secure="false").start()
    try:
        before = issuer.counts()["discovery"]
        s = browser()
        codes = {s.get(srv.url + "/oidc/login", allow_redirects=False).status_code
                 for _ in range(30)}
        assert codes and all(c >= 500 for c in codes), codes
        assert issuer.counts()["discovery"] - before <= 2
    finally:
        issuer.fail()
        srv.stop()


def test_session_rotation_state_and_open_redirects(tmp_path, issuer):
    """R-SSO-12: a new session id at every login, the old one dead; state bound to the
    pre-login cookie; no open redirect through `next`."""
    srv = native_server(tmp_path / "srv", issuer.issuer, cookie_secure="false")
    srv.start()
    try:
        issuer.set_user(sub="sub-n1", preferred_username="native-viewer", roles=["viewer"])
        s = browser()
        r = login(s, srv, "//evil.example/x")
        assert urlparse(r.url).netloc == urlparse(srv.url).netloc and urlparse(r.url).path == "/"
        # Browsers drop tabs and line breaks from a URL and read "\\" as "/": each of these
        # would leave the site, so the callback sends the user to "/" instead.
        for bad in ["/\t/evil.example/x", "/\n/evil.example", "/\r/evil.example",
                    "/\\evil.example", "/x/\x7f/y", "/x\x01"]:
            r = login(s, srv, bad)
            assert r.history[-1].headers["Location"] == "/", (bad, r.history[-1].headers)
        r = login(s, srv, "/#/experiments/1")
        assert r.history[-1].headers["Location"] == "/#/experiments/1"
        first = s.cookies.get("mlflowd_session")
        assert first and api(s, srv, "GET", "auth/whoami", service="mlflowd").status_code == 200
        login(s, srv)
        second = s.cookies.get("mlflowd_session")
        assert second and second != first  # a new session id at every login
        old = requests.Session()
        old.cookies.set("mlflowd_session", first)
        assert api(old, srv, "GET", "auth/whoami", service="mlflowd").status_code == 401
        # A callback without the pre-login cookie or with another state is refused.
        stranger = browser()
        r = stranger.get(srv.url + "/oidc/callback", params={"code": "x", "state": "y"})
        assert r.status_code == 400
        s2 = browser()
        r = s2.get(srv.url + "/oidc/login", allow_redirects=False)
        auth_url = r.headers["Location"]
        assert "code_challenge_method=S256" in auth_url
        r = s2.get(srv.url + "/oidc/callback", params={"code": "x", "state": "forged"})
        assert r.status_code == 400 and "state" in r.text
    finally:
        srv.stop()


def test_csrf_on_cookie_sessions(tmp_path, issuer):
    """R-SSO-13: cookie-authenticated unsafe requests need a same-origin Origin/Referer or
    Sec-Fetch-Site: same-origin, else 403."""
    srv = native_server(tmp_path / "srv", issuer.issuer, cookie_secure="false")
    srv.start()
    try:
        issuer.set_user(sub="sub-n2", preferred_username="native-editor", roles=["editor"])
        s = browser()
        login(s, srv)
        url = srv.url + "/api/2.0/mlflow/experiments/create"
        r = s.post(url, json={"name": "csrf-1"}, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403
        assert s.post(url, json={"name": "csrf-2"}).status_code == 403  # no Origin, no Referer
        r = s.post(url, json={"name": "csrf-3"}, headers={"Referer": "http://evil.example/x"})
        assert r.status_code == 403
        assert s.post(url, json={"name": "csrf-4"}, headers={"Origin": srv.url}).status_code == 200
        r = s.post(url, json={"name": "csrf-5"}, headers={"Sec-Fetch-Site": "same-origin"})
        assert r.status_code == 200
        r = s.post(url, json={"name": "csrf-6"}, headers={"Referer": srv.url + "/#/experiments"})
        assert r.status_code == 200
        # Safe methods need nothing.
        assert api(s, srv, "GET", "experiments/get", params={"experiment_id": "0"}).status_code == 200
        # Logout needs the session's CSRF token, not just the cookie.
        r = s.post(srv.url + "/oidc/logout", data={"csrf_token": "wrong"},
                   headers={"Origin": srv.url}, allow_redirects=False)
        assert r.status_code == 403
    finally:
        srv.stop()


def test_refresh_updates_roles_and_demotes(tmp_path, issuer):
    """R-SSO-12: refresh via the refresh token when the ID token has expired. R-SSO-9: the
    refreshed roles (a demotion) count at once."""
    srv = native_server(tmp_path / "srv", issuer.issuer, cookie_secure="false")
    srv.env["MLFLOWD_MLFLOW_AUTH_CACHE_TTL_SECONDS"] = "1"
    srv.start()
    try:
        issuer.set_user(sub="sub-n3", preferred_username="native-refresh", roles=["editor"])
        s = browser()
        login(s, srv)
        assert api(s, srv, "GET", "auth/whoami", service="mlflowd").json()["user"]["permission"] == "EDIT"
        issuer.set_user(roles=["viewer"])  # the IdP demotes the user
        # ID tokens of the fake issuer live 60 s, leeway 60 s: the server refreshes after that.
        time.sleep(0)  # nothing to wait for when the token is expired by the test below
        with sqlite3.connect(os.path.join(srv.workdir, "basic_auth.db")) as db:
            db.execute("UPDATE mlflowd_sessions SET data = replace(data, '\"token_exp\":', "
                       "'\"token_exp\":1,\"old_exp\":') WHERE kind = 'session'")
        time.sleep(1.2)  # the per-session cache (auth_cache_ttl_seconds = 1) lapses
        before = issuer.counts()["token"]
        me = api(s, srv, "GET", "auth/whoami", service="mlflowd").json()["user"]
        assert me["permission"] == "READ"
        assert issuer.counts()["token"] == before + 1
    finally:
        srv.stop()


@contextlib.contextmanager
def session_due_for_refresh(tmp_path, issuer, sub, username, refresh_ms):
    """A server and a browser signed in as `username` whose session's ID token has expired,
    so its next use refreshes it; refresh grants answer `refresh_ms` late meanwhile."""
    srv = native_server(tmp_path / "srv", issuer.issuer, cookie_secure="false")
    srv.env["MLFLOWD_MLFLOW_AUTH_CACHE_TTL_SECONDS"] = "1"
    srv.start()
    try:
        issuer.set_user(sub=sub, preferred_username=username, roles=["editor"])
        s = browser()
        login(s, srv)
        assert api(s, srv, "GET", "auth/whoami", service="mlflowd").status_code == 200
        with sqlite3.connect(os.path.join(srv.workdir, "basic_auth.db")) as db:
            db.execute("UPDATE mlflowd_sessions SET data = replace(data, '\"token_exp\":', "
                       "'\"token_exp\":1,\"old_exp\":') WHERE kind = 'session'")
        time.sleep(1.2)  # the per-session cache lapses
        issuer.delay_refresh(refresh_ms)
        yield srv, s
    finally:
        issuer.delay_refresh(0)
        srv.stop()


def test_parallel_requests_refresh_a_session_once(tmp_path, issuer):
    """A page's parallel calls on a session whose ID token has expired each spent the refresh
    token (8 calls, 8 refreshes: an IdP that rotates refresh tokens refuses all but one, and
    a refused refresh ends the session). The first refreshes; the others wait and read it."""
    import threading
    with session_due_for_refresh(tmp_path, issuer, "sub-n5", "native-parallel", 300) as (srv, s):
        before = issuer.counts()["token"]
        statuses = []
        threads = [threading.Thread(target=lambda: statuses.append(
            api(s, srv, "GET", "auth/whoami", service="mlflowd").status_code)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == [200] * 8, statuses
        assert issuer.counts()["token"] == before + 1


def test_a_revocation_during_a_refresh_does_not_bring_the_session_back(tmp_path, issuer):
    """A refresh that ended after the session was revoked (here an admin removes the user's
    SSO binding, which ends their web sessions; a logout the same) wrote the session row
    again (an upsert), so the revoked cookie worked again and could mint an access token.
    The refresh now stores its result only while the session still exists."""
    import threading
    with session_due_for_refresh(tmp_path, issuer, "sub-n6", "native-race", 2000) as (srv, s):
        in_flight = threading.Thread(
            target=lambda: api(s, srv, "GET", "auth/whoami", service="mlflowd"))
        in_flight.start()
        time.sleep(0.5)  # its refresh is at the issuer now
        admin = requests.Session()
        admin.auth = ("admin", "password1234")
        r = api(admin, srv, "DELETE", "users/sso-binding", {"username": "native-race"},
                service="mlflowd")
        assert r.status_code == 200, r.text
        assert [row for row in session_rows(srv) if row[0] == "session"] == []
        in_flight.join()
        assert [row for row in session_rows(srv) if row[0] == "session"] == []
        time.sleep(1.2)
        assert api(s, srv, "GET", "auth/whoami", service="mlflowd").status_code == 401
        r = api(s, srv, "POST", "tokens/create", {"name": "late"}, service="mlflowd")
        assert r.status_code == 401, r.text


def test_credentials_win_over_the_session_cookie(tmp_path, issuer):
    """R-SSO-1: precedence Bearer > Basic > trusted headers > session cookie."""
    srv = native_server(tmp_path / "srv", issuer.issuer, cookie_secure="false",
                        modes="native, bearer, trusted_header")
    srv.start()
    try:
        issuer.set_user(sub="sub-n4", preferred_username="native-cookie", roles=["viewer"])
        s = browser()
        login(s, srv)

        def me(**headers):
            r = s.get(srv.url + "/api/2.0/mlflowd/auth/whoami", headers=headers)
            assert r.status_code == 200, r.text
            return r.json()["user"]["username"], r.json()["user"]["auth_method"]
        assert me() == ("native-cookie", "session")
        proxy = {"X-Forwarded-User": "sub-hdr-p", "X-Forwarded-Preferred-Username": "hdr-p",
                 "X-Forwarded-Groups": "role:viewer"}
        assert me(**proxy) == ("hdr-p", "trusted_header")
        basic = "Basic " + base64.b64encode(b"admin:password1234").decode()
        assert me(**proxy, Authorization=basic) == ("admin", "basic")
        token = issuer.mint(claims_for("bearer-p", roles=["viewer"]))
        assert me(**proxy, Authorization=f"Bearer {token}") == ("bearer-p", "bearer")
    finally:
        srv.stop()


def test_native_off_means_no_login_routes(make_server):
    """R-SSO-1: the native mode off: no login routes."""
    s = make_server()
    assert s.get("/oidc/login").status_code == 404
    assert s.get("/oidc/info").json() == {"native_login": False}
