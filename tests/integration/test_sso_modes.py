"""Single sign-on configuration (R-SSO-1, -2, -3, -5, -10): the modes matrix, the legacy
platform INI loading unchanged, the JWKS cache (warm-up, no fetch on the request path,
rotation with exactly one refetch, a flood of unknown kids rate-limited), floor mode, the
allowed-groups gate, and discovery on a non-Keycloak issuer."""
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from sso_helpers import (FakeIssuer, api, assert_invalid_token, bearer, claims_for,
                         start_sso_server, write_sso_ini)
from conftest import Server


@pytest.fixture
def issuer(tmp_path):
    i = FakeIssuer(tmp_path / "issuer").start()
    yield i
    i.stop()


def admin():
    s = requests.Session()
    s.auth = ("admin", "password1234")
    return s


def ok(s, server):
    return api(s, server, "GET", "experiments/get", params={"experiment_id": "0"}).status_code


def test_legacy_platform_ini_loads_unchanged(tmp_path, make_server):
    """R-SSO-2: the legacy platform INI ([mlflow] keys, its authorization_function, a
    [role_mappings] section with multi-line comma lists and the optional USE) loads unchanged."""
    path = tmp_path / "basic_auth.ini"
    path.write_text("[mlflow]\n"
                    "default_permission = NO_PERMISSIONS\n"
                    f"database_uri = sqlite:///{tmp_path}/basic_auth.db\n"
                    "admin_username = admin\n"
                    "admin_password = password1234\n"
                    "authorization_function = mlflow_auth_plugin.auth:authenticate_sso_request\n"
                    "\n[role_mappings]\n"
                    "admin = admin\n"
                    "MANAGE = devops\n"
                    "EDIT = dataingenieur,\n"
                    "    dataanalyst\n"
                    "READ = datascientist\n"
                    "USE = modeluser\n")
    s = make_server(args=["--auth"], env={"MLFLOW_AUTH_CONFIG_PATH": str(path)})
    assert ok(admin(), s) == 200
    assert_invalid_token(api(bearer("a.b.c"), s, "GET", "experiments/search"))
    assert "issuer" in s.log()  # says what to set to turn the token modes on
    body = api(admin(), s, "GET", "auth/role-mappings", service="mlflowd").json()
    assert body["role_mappings"]["EDIT"] == ["dataingenieur", "dataanalyst"]
    assert body["role_mappings"]["USE"] == ["modeluser"]


@pytest.mark.parametrize("modes, basic_auth, basic_ok, bearer_ok, header_ok", [
    ("bearer", "true", True, True, False),
    ("basic, bearer", "true", True, True, False),
    ("bearer", "false", False, True, False),
    ("trusted_header", "true", True, False, True),
    ("bearer, trusted_header", "false", False, True, True),
])
def test_modes_matrix(tmp_path, issuer, modes, basic_auth, basic_ok, bearer_ok, header_ok):
    """R-SSO-1: each mode on and off (native: test_sso_native.py); proxy headers from a
    trusted peer count only with trusted_header on."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer,
                         sso={"modes": modes, "basic_auth": basic_auth})
    try:
        t = issuer.mint(claims_for("matrix", roles=["viewer"]))
        assert (ok(admin(), s) == 200) is basic_ok
        assert (ok(bearer(t), s) == 200) is bearer_ok
        proxy = requests.Session()
        proxy.headers.update({"X-Forwarded-User": "sub-hdr-matrix", "X-Forwarded-Groups": "role:viewer",
                              "X-Forwarded-Preferred-Username": "hdr-matrix"})
        assert (ok(proxy, s) == 200) is header_ok
    finally:
        s.stop()


def test_jwks_is_fetched_at_start_and_never_on_the_request_path(tmp_path, issuer):
    """R-SSO-5: the JWKS (from discovery) is cached, 300 s by default; tokens do not fetch."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer)
    try:
        warm = issuer.counts()
        assert warm["jwks"] == 1 and warm["discovery"] == 1
        assert "(cached 300 s)" in s.log()
        for i in range(50):  # 50 different tokens, each verified once
            assert ok(bearer(issuer.mint(claims_for(f"u{i % 5}", roles=["viewer"]))), s) == 200
        assert issuer.counts() == warm
    finally:
        s.stop()


def test_rotation_costs_one_refetch_and_unknown_kids_are_rate_limited(tmp_path, issuer):
    """R-SSO-5: a new kid costs exactly one refetch; a flood of unknown kids no more."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer)
    try:
        assert issuer.counts()["jwks"] == 1
        issuer.rotate()  # the IdP starts signing with k2
        t = issuer.mint(claims_for("rotated", roles=["viewer"]), key="k2")
        assert ok(bearer(t), s) == 200
        assert issuer.counts()["jwks"] == 2
        assert ok(bearer(issuer.mint(claims_for("rotated2", roles=["viewer"]), key="k2")), s) == 200
        for i in range(30):  # a flood of unknown kids inside the cool-down
            r = api(bearer(issuer.mint(claims_for("x"), header={"kid": f"unknown-{i}"})), s, "GET",
                    "experiments/search")
            assert_invalid_token(r)
        assert issuer.counts()["jwks"] == 2
    finally:
        s.stop()


def test_unknown_kid_refetch_cooldown(tmp_path, issuer):
    """R-SSO-5: at most one unknown-kid refetch per cool-down."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer, sso={"jwks_refetch_seconds": "2"})
    try:
        for _ in range(5):
            assert_invalid_token(api(bearer(issuer.mint(claims_for("x"), header={"kid": "nope"})),
                                     s, "GET", "experiments/search"))
        assert issuer.counts()["jwks"] == 2  # start + one refetch
        time.sleep(2.2)
        assert_invalid_token(api(bearer(issuer.mint(claims_for("x"), header={"kid": "nope"})),
                                 s, "GET", "experiments/search"))
        assert issuer.counts()["jwks"] == 3
    finally:
        s.stop()


def test_jwks_url_override_and_separate_discovery(tmp_path, issuer):
    """R-SSO-3: a jwks_url override is used as is, without discovery."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer, sso={
        "jwks_url": issuer.issuer + "/protocol/openid-connect/certs"})
    try:
        assert issuer.counts()["discovery"] == 0  # bearer only: no discovery needed
        assert ok(bearer(issuer.mint(claims_for("ov", roles=["viewer"]))), s) == 200
    finally:
        s.stop()


def test_jwks_redirects_are_not_followed(tmp_path, issuer):
    """R-SSO-5: no redirects on JWKS fetches."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer,
                         sso={"jwks_url": issuer.base + "/redirect-certs"})
    try:
        assert issuer.counts()["jwks"] == 0
        r = api(bearer(issuer.mint(claims_for("redir", roles=["viewer"]))), s, "GET",
                "experiments/search")
        assert_invalid_token(r)
        assert issuer.counts()["jwks"] == 0
        assert "HTTP 302" in s.log()
    finally:
        s.stop()


def test_builtin_sso_alias(tmp_path, issuer):
    """R-SSO-2: authorization_function = builtin:sso enables SSO."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer, function="builtin:sso")
    try:
        assert ok(bearer(issuer.mint(claims_for("alias", roles=["viewer"]))), s) == 200
    finally:
        s.stop()


def test_floor_mode_honours_explicit_grants(tmp_path, issuer):
    """R-SSO-10: floor mode: max(mapped, explicit user grants); creation still needs EDIT."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer, sso={"mapping_mode": "floor"})
    try:
        editor = bearer(issuer.mint(claims_for("f-editor", roles=["editor"])))
        reader = bearer(issuer.mint(claims_for("f-reader", roles=["viewer"])))
        nobody = bearer(issuer.mint(claims_for("f-nobody")))
        exp = api(editor, s, "POST", "experiments/create", {"name": "floor"}).json()["experiment_id"]
        assert api(reader, s, "POST", "experiments/create", {"name": "no"}).status_code == 403
        assert api(reader, s, "POST", "experiments/delete", {"experiment_id": exp}).status_code == 403
        assert ok(nobody, s) == 403
        for user, level in (("f-reader", "MANAGE"), ("f-nobody", "READ")):
            r = api(admin(), s, "POST", "experiments/permissions/create",
                    {"experiment_id": exp, "username": user, "permission": level})
            assert r.status_code == 200, r.text
        # floor: max(mapped, explicit)
        r = api(nobody, s, "POST", "experiments/search", {"max_results": 100})
        assert [e["experiment_id"] for e in r.json()["experiments"]] == [exp]
        assert api(nobody, s, "GET", "experiments/get", params={"experiment_id": exp}).status_code == 200
        assert api(reader, s, "POST", "experiments/delete", {"experiment_id": exp}).status_code == 200
        # an explicit NO_PERMISSIONS row never lowers the mapped level
        r = api(admin(), s, "POST", "experiments/permissions/create",
                {"experiment_id": "0", "username": "f-reader", "permission": "NO_PERMISSIONS"})
        assert r.status_code == 200
        assert ok(reader, s) == 200
    finally:
        s.stop()


def test_allowed_groups_gate(tmp_path, issuer):
    s = start_sso_server(tmp_path / "srv", issuer.issuer,
                         sso={"allowed_groups": "/mlflow-users, role:mlflow-admin"})
    try:
        inside = bearer(issuer.mint(claims_for("in", roles=["viewer"], groups=["/mlflow-users"])))
        admin_role = bearer(issuer.mint(claims_for("boss", roles=["mlflow-admin"])))
        outside = bearer(issuer.mint(claims_for("out", roles=["viewer"], groups=["/other"])))
        assert ok(inside, s) == 200 and ok(admin_role, s) == 200
        r = api(outside, s, "GET", "experiments/get", params={"experiment_id": "0"})
        assert r.status_code == 403  # a valid user, no access: not 401
        assert ok(outside, s) == 403  # and again, from the cache
    finally:
        s.stop()


def test_bad_sso_settings_stop_the_start(tmp_path, issuer):
    """R-SSO-2: bad [sso] values stop the start naming the key. R-SSO-4: none/HS* are never on the
    algorithm allow-list, the leeway is at most 300 s."""
    for sso, message in (({"algorithms": "RS256, HS256"}, "HS256"),
                         ({"algorithms": "none"}, "none"),
                         ({"mapping_mode": "ceiling"}, "mapping_mode"),
                         ({"trusted_proxies": "10.0.0.0/33"}, "trusted_proxies"),
                         ({"modes": "bearer, saml"}, "saml"),
                         ({"audiences": None}, "audiences"),
                         ({"leeway_seconds": "301"}, "leeway_seconds"),
                         ({"external_url": "mlflow.example.com"}, "external_url"),
                         ({"jwks_url": "/certs"}, "jwks_url"),
                         ({"discovery_url": "ftp://kc/.well-known"}, "discovery_url")):
        path = write_sso_ini(tmp_path / f"bad{abs(hash(message))}", issuer.issuer, sso=sso)
        srv = Server(tmp_path / f"bad{abs(hash(message))}", args=["--auth"],
                     env={"MLFLOW_AUTH_CONFIG_PATH": path})
        with pytest.raises(RuntimeError) as e:
            srv.start()
        assert message in str(e.value), str(e.value)[-500:]


def test_issuer_and_discovery_url_are_separate_settings(tmp_path, issuer):
    """R-SSO-3: the expected iss (here a public name the tokens carry) and the discovery URL (an
    in-cluster address) are separate settings; the JWKS comes from discovery, iss must match the
    configured issuer exactly."""
    public = "https://sso.example.test/realms/test"
    s = start_sso_server(tmp_path / "srv", public, sso={
        "discovery_url": issuer.issuer + "/.well-known/openid-configuration"})
    try:
        assert issuer.counts()["discovery"] == 1 and issuer.counts()["jwks"] == 1
        assert ok(bearer(issuer.mint(claims_for("pub", roles=["viewer"], iss=public))), s) == 200
        r = api(bearer(issuer.mint(claims_for("pub", roles=["viewer"]))), s, "GET",
                "experiments/search")
        assert_invalid_token(r)  # the fetch URL's own issuer is not the configured one
    finally:
        s.stop()


def test_a_jwks_without_usable_keys_keeps_the_last_good_set(tmp_path, issuer):
    """R-SSO-5 stale-if-error: a 200 whose body holds no usable key is a failed fetch, not an
    empty key set that refuses every token."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer, sso={"jwks_refetch_seconds": "1"})
    try:
        assert ok(bearer(issuer.mint(claims_for("keeps", roles=["viewer"]))), s) == 200
        issuer.fail(jwks=True)
        jwks = issuer.counts()["jwks"]
        assert_invalid_token(api(bearer(issuer.mint(claims_for("x"), header={"kid": "new-one"})),
                                 s, "GET", "experiments/search"))
        assert issuer.counts()["jwks"] == jwks + 1  # the unknown kid's refetch ran ...
        assert "no signing key this server can use" in s.log()
        # ... and a token of the known key, new to the server, still verifies
        assert ok(bearer(issuer.mint(claims_for("keeps-2", roles=["viewer"]))), s) == 200
    finally:
        issuer.fail()
        s.stop()


def test_a_jwks_answer_over_1_mib_is_a_failed_fetch(tmp_path, issuer):
    """sso-and-deploy.md §7: the IdP's answers are capped (1 MiB for discovery and JWKS); a larger
    one is read no further, and the last good keys stay."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer, sso={"jwks_refetch_seconds": "1"})
    try:
        assert ok(bearer(issuer.mint(claims_for("big", roles=["viewer"]))), s) == 200
        issuer.fail(jwks="huge")
        jwks = issuer.counts()["jwks"]
        assert_invalid_token(api(bearer(issuer.mint(claims_for("x"), header={"kid": "new-one"})),
                                 s, "GET", "experiments/search"))
        assert issuer.counts()["jwks"] == jwks + 1
        assert "answer too large" in s.log(), s.log()[-2000:]
        assert ok(bearer(issuer.mint(claims_for("big-2", roles=["viewer"]))), s) == 200
    finally:
        issuer.fail()
        s.stop()


def test_jwks_ttl_refresh_and_stale_if_error(tmp_path, issuer):
    """R-SSO-5: the JWKS TTL is a setting and the refetch runs in the background, not on a
    request; while the issuer is down the last good keys keep working past the TTL
    (stale-if-error, 10 min)."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer, sso={"jwks_cache_seconds": "10"})
    try:
        assert "(cached 10 s)" in s.log()
        t = issuer.mint(claims_for("stale", roles=["viewer"]))
        issuer.stop()
        deadline = time.time() + 20
        while "cannot fetch the issuer's keys" not in s.log():  # the refresher, at the TTL
            assert time.time() < deadline, s.log()[-2000:]
            time.sleep(0.2)
        time.sleep(1.1)  # strictly past the TTL
        assert ok(bearer(t), s) == 200
    finally:
        s.stop()


def test_jwks_fetch_times_out(tmp_path, issuer):
    """R-SSO-5: a JWKS endpoint that accepts the connection and never answers costs at most the
    5 s fetch timeout, then the token is refused (fail closed)."""
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(64)  # connections complete in the backlog; nothing ever answers
    try:
        s = start_sso_server(tmp_path / "srv", issuer.issuer,
                             sso={"jwks_url": f"http://127.0.0.1:{hang.getsockname()[1]}/certs"})
        try:
            began = time.time()
            r = api(bearer(issuer.mint(claims_for("hang", roles=["viewer"]))), s, "GET",
                    "experiments/search")
            assert_invalid_token(r)
            assert time.time() - began < 12  # one 5 s fetch, or waiting for the refresher's
        finally:
            s.stop()
    finally:
        hang.close()


def test_concurrent_unknown_kids_cost_one_fetch(tmp_path, issuer):
    """R-SSO-5: unknown-kid refetches are single-flight: 20 at once cost one fetch."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer)
    try:
        tokens = [issuer.mint(claims_for("x"), header={"kid": f"flood-{i}"}) for i in range(20)]
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(
                lambda t: api(bearer(t), s, "GET", "experiments/search"), tokens))
        for r in answers:
            assert_invalid_token(r)
        assert issuer.counts()["jwks"] == 2
    finally:
        s.stop()


def test_azp_and_typ_allow_lists_and_leeway_setting(tmp_path, issuer):
    """R-SSO-4: the optional azp and typ allow-lists; the leeway setting (0 here), also for a
    token whose verification is cached."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer, sso={
        "allowed_azp": "mlflow-proxy", "token_types": "Bearer", "leeway_seconds": "0"})
    try:
        now = int(time.time())
        good = claims_for("azp-ok", roles=["viewer"], azp="mlflow-proxy")
        assert ok(bearer(issuer.mint(good)), s) == 200
        for claims in ({**good, "azp": "mlflow"}, {**good, "typ": "ID"}, {**good, "exp": now - 1}):
            assert_invalid_token(api(bearer(issuer.mint(claims)), s, "GET", "experiments/search"))
        short = bearer(issuer.mint({**good, "exp": int(time.time()) + 2}))
        assert ok(short, s) == 200
        time.sleep(3)
        assert_invalid_token(api(short, s, "GET", "experiments/search"))
    finally:
        s.stop()


def test_unmapped_and_create_permission_settings(tmp_path, issuer):
    """R-SSO-9: unmapped_permission is the level of a user no mapping matches. R-SSO-10: the
    level needed to create is configurable (create_permission)."""
    s = start_sso_server(tmp_path / "srv", issuer.issuer, sso={
        "unmapped_permission": "READ", "create_permission": "MANAGE"})
    try:
        nobody = bearer(issuer.mint(claims_for("u-nobody")))
        editor = bearer(issuer.mint(claims_for("u-editor", roles=["editor"])))
        manager = bearer(issuer.mint(claims_for("u-manager", roles=["devops"])))
        assert ok(nobody, s) == 200
        assert api(nobody, s, "POST", "experiments/create", {"name": "u1"}).status_code == 403
        assert api(editor, s, "POST", "experiments/create", {"name": "u2"}).status_code == 403
        r = api(manager, s, "POST", "experiments/create", {"name": "u3"})
        assert r.status_code == 200, r.text
    finally:
        s.stop()
