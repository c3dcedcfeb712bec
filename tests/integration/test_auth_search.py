"""Permission filtering happens inside the search SQL (issue 4): a user who may
read only some experiments / registered models gets full pages, in order, and
paging walks exactly the readable set — no short pages, no re-fetch loops."""
import pytest

from test_auth_helpers import admin_api, call, create_users, session, start_auth_server, unique


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = start_auth_server(tmp_path_factory.mktemp("authsearch"), default_permission="READ")
    create_users(s, {"carol": None})
    yield s
    s.stop()


def deny(server, kind, key, value):
    admin_api(server, "POST", f"{kind}/permissions/create",
              {key: value, "username": "carol", "permission": "NO_PERMISSIONS"})


def pages(server, user, method, path, body_or_params, key, page_size):
    """All pages as the client walks them; returns the list of pages."""
    out, token = [], None
    s = session(server, user)
    while True:
        args = dict(body_or_params, max_results=page_size)
        if token:
            args["page_token"] = token
        if method == "POST":
            r = call(s, server, "POST", path, body=args)
        else:
            r = call(s, server, "GET", path, params=args)
        assert r.status_code == 200, r.text
        out.append(r.json().get(key, []))
        token = r.json().get("next_page_token")
        if not token:
            return out


def test_experiment_pages_stay_full_and_ordered(server):
    prefix = unique("pg")
    names = [f"{prefix}-{i:02d}" for i in range(20)]
    ids = [admin_api(server, "POST", "experiments/create", {"name": n})["experiment_id"]
           for n in names]
    for i in range(0, 20, 2):  # every other experiment hidden from carol
        deny(server, "experiments", "experiment_id", ids[i])
    body = {"filter": f"name LIKE '{prefix}-%'", "order_by": ["name ASC"]}
    got = pages(server, "carol", "POST", "/api/2.0/mlflow/experiments/search", body,
                "experiments", 3)
    flat = [e["name"] for page in got for e in page]
    assert flat == names[1::2]                      # exactly the readable ones, in order
    assert [len(p) for p in got[:-1]] == [3] * (len(got) - 1)  # every page but the last is full
    admin_all = pages(server, "admin", "POST", "/api/2.0/mlflow/experiments/search", body,
                      "experiments", 7)
    assert [e["name"] for p in admin_all for e in p] == names


def test_registered_model_and_version_pages_stay_full(server):
    prefix = unique("rm")
    names = [f"{prefix}-{i:02d}" for i in range(12)]
    for n in names:
        admin_api(server, "POST", "registered-models/create", {"name": n})
        admin_api(server, "POST", "model-versions/create", {"name": n, "source": "s3://b/m"})
    for n in names[:6]:
        deny(server, "registered-models", "name", n)
    got = pages(server, "carol", "GET", "/api/2.0/mlflow/registered-models/search",
                {"filter": f"name LIKE '{prefix}-%'", "order_by": ["name ASC"]},
                "registered_models", 4)
    assert [m["name"] for p in got for m in p] == names[6:]
    assert [len(p) for p in got[:-1]] == [4] * (len(got) - 1)
    got = pages(server, "carol", "GET", "/api/2.0/mlflow/model-versions/search",
                {"filter": f"name LIKE '{prefix}-%'", "order_by": ["name ASC"]},
                "model_versions", 4)
    assert [v["name"] for p in got for v in p] == names[6:]
    assert [len(p) for p in got[:-1]] == [4] * (len(got) - 1)
