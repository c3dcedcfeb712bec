"""Single sign-on paths no other test ran (found by measuring coverage): an identity refused
by allowed_groups stays refused however often it comes back, by bearer token or by proxy
headers, while an allowed one keeps its access; the Bearer scheme is read with the
whitespace RFC 9110 allows; a trusted proxy's X-Forwarded-Access-Token may carry the
"Bearer " prefix, an untrusted address's is ignored."""
import http.client
import json

import pytest
import requests

from sso_helpers import FakeIssuer, claims_for, session_from, start_sso_server


@pytest.fixture(scope="module")
def issuer(tmp_path_factory):
    i = FakeIssuer(tmp_path_factory.mktemp("issuer-cov")).start()
    yield i
    i.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, issuer):
    s = start_sso_server(tmp_path_factory.mktemp("sso-cov"), issuer.issuer,
                         sso={"modes": "bearer, trusted_header", "allowed_groups": "/mlflow-users"})
    yield s
    s.stop()


def whoami(server, headers):
    """(status, user name or None); headers sent as written (requests refuses leading
    whitespace in a value, which HTTP allows)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest("GET", "/api/2.0/mlflowd/auth/whoami")
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        body = r.read().decode()
        user = json.loads(body).get("user", {}).get("username") if r.status == 200 else None
        return r.status, user
    finally:
        conn.close()


def experiment_zero(server, headers):
    return requests.get(f"{server.url}/api/2.0/mlflow/experiments/get",
                        params={"experiment_id": "0"}, headers=headers, timeout=30)


def test_a_refused_bearer_identity_stays_refused(server, issuer):
    outside = issuer.mint(claims_for("cov-out", roles=["viewer"], groups=["/other"]))
    inside = issuer.mint(claims_for("cov-in", roles=["viewer"], groups=["/mlflow-users"]))
    for _ in range(4):  # the later ones answered from the verified-token cache
        assert experiment_zero(server, {"Authorization": f"Bearer {outside}"}).status_code == 403
        assert experiment_zero(server, {"Authorization": f"Bearer {inside}"}).status_code == 200


def test_a_refused_header_identity_stays_refused(server):
    outside = {"X-Forwarded-User": "sub-cov-h-out", "X-Forwarded-Preferred-Username": "cov-h-out",
               "X-Forwarded-Groups": "/other,role:viewer"}
    inside = {"X-Forwarded-User": "sub-cov-h-in", "X-Forwarded-Preferred-Username": "cov-h-in",
              "X-Forwarded-Groups": "/mlflow-users,role:viewer"}
    for _ in range(4):
        assert experiment_zero(server, outside).status_code == 403
        assert experiment_zero(server, inside).status_code == 200
    # the cache key covers the groups asserted: the same user in the allowed group is let in
    assert experiment_zero(server, {**outside,
                                    "X-Forwarded-Groups": "/mlflow-users,role:viewer"}).status_code == 200
    assert experiment_zero(server, outside).status_code == 403


@pytest.mark.parametrize("form", ["Bearer {}", "bearer {}", "  Bearer {}", "Bearer \t {}",
                                  "\tBEARER {}"])
def test_the_bearer_scheme_is_read_with_optional_whitespace(server, issuer, form):
    token = issuer.mint(claims_for("cov-ws", roles=["viewer"], groups=["/mlflow-users"]))
    assert whoami(server, {"Authorization": form.format(token)}) == (200, "cov-ws"), form


def test_a_forwarded_access_token_from_a_trusted_proxy(server, issuer):
    token = issuer.mint(claims_for("cov-fwd", roles=["viewer"], groups=["/mlflow-users"]))
    for value in (token, f"Bearer {token}", f"bearer {token}"):
        assert whoami(server, {"X-Forwarded-Access-Token": value}) == (200, "cov-fwd"), value[:10]
    # beside another scheme the forwarded token is not read
    status, user = whoami(server, {"X-Forwarded-Access-Token": token,
                                   "Authorization": "Basic Y292OmN2"})
    assert status == 401 and user is None
    # nor from an address outside trusted_proxies (127.0.0.2 is loopback, not trusted)
    s = session_from("127.0.0.2")
    r = s.get(f"{server.url}/api/2.0/mlflowd/auth/whoami",
              headers={"X-Forwarded-Access-Token": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 401, r.text
