"""POST runs/search end to end (rest-api.md §5.9, search-grammar.md §2, §6, §9,
behaviours.md items 3-5): scope by experiments and view type, filters of every
entity type, ordering with NaN and missing values, paging tokens, and the
shape of each returned run."""
import uuid

import pytest

from conftest import assert_error

URL = "/api/2.0/mlflow/runs/search"


def make_experiment(server):
    return server.api("POST", "experiments/create", {"name": f"search-{uuid.uuid4().hex[:12]}"})["experiment_id"]


def create_run(server, exp, name, start_time, metrics=(), params=(), tags=(), user="alice"):
    run_id = server.api("POST", "runs/create", {"experiment_id": exp, "run_name": name, "user_id": user,
                                                "start_time": start_time})["run"]["info"]["run_id"]
    body = {"run_id": run_id,
            "metrics": [{"key": k, "value": v, "timestamp": 1000, "step": 0} for k, v in metrics],
            "params": [{"key": k, "value": v} for k, v in params],
            "tags": [{"key": k, "value": v} for k, v in tags]}
    server.api("POST", "runs/log-batch", body)
    return run_id


def search(server, exps, filter=None, order_by=None, view=None, max_results=None, token=None):
    body = {"experiment_ids": exps}
    if filter is not None:
        body["filter"] = filter
    if order_by is not None:
        body["order_by"] = order_by
    if view is not None:
        body["run_view_type"] = view
    if max_results is not None:
        body["max_results"] = max_results
    if token is not None:
        body["page_token"] = token
    return server.api("POST", "runs/search", body)


def names(result):
    return [r["info"]["run_name"] for r in result.get("runs", [])]


@pytest.fixture(scope="module")
def population(server):
    """One experiment with runs covering every kind of value."""
    exp = make_experiment(server)
    runs = {
        "r1": create_run(server, exp, "r1", 1000, metrics=[("acc", 0.5), ("loss", 3.0)],
                         params=[("lr", "10"), ("model.name", "Forest"), ("opt", "adam")],
                         tags=[("team", "vision"), ("env", "Prod")]),
        "r2": create_run(server, exp, "r2", 2000, metrics=[("acc", 0.9), ("loss", "NaN")],
                         params=[("lr", "2"), ("model.name", "forest")],
                         tags=[("team", "nlp")], user="bob"),
        "r3": create_run(server, exp, "r3", 3000, metrics=[("acc", 0.7), ("loss", 1.0)],
                         params=[("lr", "100")], tags=[("env", "prod")]),
        "r4": create_run(server, exp, "r4", 4000, metrics=[("loss", -2.0)]),
    }
    server.api("POST", "runs/update", {"run_id": runs["r3"], "status": "FINISHED", "end_time": 3500})
    server.api("POST", "runs/log-inputs", {"run_id": runs["r1"], "datasets": [
        {"tags": [{"key": "mlflow.data.context", "value": "training"}],
         "dataset": {"name": "train-set", "digest": "abc", "source_type": "local", "source": "/d"}}]})
    server.api("POST", "runs/log-inputs", {"run_id": runs["r2"], "datasets": [
        {"tags": [{"key": "mlflow.data.context", "value": "eval"}],
         "dataset": {"name": "eval-set", "digest": "def", "source_type": "local", "source": "/e"}}]})
    server.api("POST", "runs/outputs", {"run_id": runs["r1"], "models": [{"model_id": "m-1", "step": 2}]})
    return exp, runs


def test_default_order_is_newest_first(server, population):
    exp, _ = population
    assert names(search(server, [exp])) == ["r4", "r3", "r2", "r1"]


def test_scope_and_view_types(server, population):
    exp, runs = population
    other = make_experiment(server)
    keep = create_run(server, other, "kept", 10)
    gone = create_run(server, other, "gone", 20)
    server.api("POST", "runs/delete", {"run_id": gone})
    assert names(search(server, [other])) == ["kept"]
    assert names(search(server, [other], view="ACTIVE_ONLY")) == ["kept"]
    assert names(search(server, [other], view="DELETED_ONLY")) == ["gone"]
    assert names(search(server, [other], view="ALL")) == ["gone", "kept"]
    assert names(search(server, [other], view=3)) == ["gone", "kept"]
    # a number in a string, as protobuf's json_format reads enums (name first, then number)
    assert names(search(server, [other], view="2")) == ["gone"]
    assert names(search(server, [other, exp])) == ["r4", "r3", "r2", "r1", "kept"]
    assert search(server, []) == {}
    assert search(server, ["999999"]) == {}
    # experiment ids as JSON numbers work too
    r = server.post(URL, {"experiment_ids": [int(other)]})
    assert [x["info"]["run_id"] for x in r.json()["runs"]] == [keep]


def test_runs_carry_data_inputs_and_outputs(server, population):
    exp, runs = population
    result = search(server, [exp], filter="attributes.run_name = 'r1'")
    assert len(result["runs"]) == 1
    run = result["runs"][0]
    assert run["info"]["run_id"] == runs["r1"] and run["info"]["experiment_id"] == exp
    assert run["info"]["status"] == "RUNNING" and run["info"]["lifecycle_stage"] == "active"
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == {"lr": "10", "model.name": "Forest", "opt": "adam"}
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags == {"mlflow.runName": "r1", "team": "vision", "env": "Prod"}
    metrics = {m["key"]: m for m in run["data"]["metrics"]}
    assert metrics["acc"] == {"key": "acc", "value": 0.5, "timestamp": 1000, "step": 0}
    assert run["inputs"]["dataset_inputs"] == [
        {"tags": [{"key": "mlflow.data.context", "value": "training"}],
         "dataset": {"name": "train-set", "digest": "abc", "source_type": "local", "source": "/d"}}]
    assert run["outputs"] == {"model_outputs": [{"model_id": "m-1", "step": 2}]}
    r2 = search(server, [exp], filter="attributes.run_name = 'r2'")["runs"][0]
    assert {m["key"]: m["value"] for m in r2["data"]["metrics"]}["loss"] == "NaN"
    r4 = search(server, [exp], filter="run_name = 'r4'")["runs"][0]
    assert r4["inputs"] == {} and r4["outputs"] == {}


@pytest.mark.parametrize("filter, expected", [
    ("metrics.acc > 0.6", ["r3", "r2"]),
    ("metrics.acc >= 0.7", ["r3", "r2"]),
    ("metrics.acc < 0.7", ["r1"]),
    ("metrics.acc <= 0.7", ["r3", "r1"]),
    ("metrics.acc = 0.9", ["r2"]),
    ("metrics.acc != 0.9", ["r3", "r1"]),  # r4 has no acc: never matches, even for !=
    ("metrics.loss = 0", ["r2"]),  # NaN is stored as 0
    ("metrics.loss < 0", ["r4"]),
    ("metric.acc > 0.6", ["r3", "r2"]),
    ("metrics.acc>0.6", ["r3", "r2"]),
    ("params.lr = '10'", ["r1"]),
    ("params.lr != '10'", ["r3", "r2"]),
    ("params.lr LIKE '1%'", ["r3", "r1"]),
    ("params.lr like '1%'", ["r3", "r1"]),
    ("params.`model.name` = 'forest'", ["r2"]),
    ("params.model.name = 'Forest'", ["r1"]),
    ("params.model.name LIKE 'f%'", ["r2"]),
    ("params.model.name ILIKE 'f%'", ["r2", "r1"]),
    ("param.opt = \"adam\"", ["r1"]),
    ("parameters.opt = 'adam'", ["r1"]),
    ("tags.team = 'nlp'", ["r2"]),
    ("tags.team != 'nlp'", ["r1"]),
    ("tag.env ILIKE 'PROD'", ["r3", "r1"]),
    ("tags.env LIKE 'P%'", ["r1"]),
    ("tags.`mlflow.runName` = 'r3'", ["r3"]),
    ("attributes.status = 'FINISHED'", ["r3"]),
    ("status != 'FINISHED'", ["r4", "r2", "r1"]),
    ("attribute.user_id = 'bob'", ["r2"]),
    ("run_name LIKE 'r%'", ["r4", "r3", "r2", "r1"]),
    ("`Run name` = 'r2'", ["r2"]),
    ("attributes.start_time > 2000", ["r4", "r3"]),
    ("created <= 2000", ["r2", "r1"]),
    ("attributes.end_time > 0", ["r3"]),  # NULL end times never match
    ("datasets.name = 'train-set'", ["r1"]),
    ("dataset.digest IN ('def', 'xyz')", ["r2"]),
    ("dataset.context = 'eval'", ["r2"]),
    ("metrics.acc > 0.1 and params.lr = '2'", ["r2"]),
    ("metrics.acc > 0.1 AND tags.team = 'vision' AND params.opt LIKE 'a%'", ["r1"]),
    ("params.lr = 'missing'", []),
    ("", ["r4", "r3", "r2", "r1"]),
])
def test_filters(server, population, filter, expected):
    exp, _ = population
    assert names(search(server, [exp], filter=filter)) == expected


def test_run_id_lists(server, population):
    exp, runs = population
    f = f"attributes.run_id IN ('{runs['r1']}', '{runs['r3']}')"
    assert names(search(server, [exp], filter=f)) == ["r3", "r1"]
    f = f"attributes.run_id NOT IN ('{runs['r1']}')"
    assert names(search(server, [exp], filter=f)) == ["r4", "r3", "r2"]
    # elements that are not all lower case are dropped: the list becomes empty
    assert search(server, [exp], filter="attributes.run_id IN ('ABC')") == {}


@pytest.mark.parametrize("order_by, expected", [
    (["metrics.acc ASC"], ["r1", "r3", "r2", "r4"]),
    (["metrics.acc DESC"], ["r2", "r3", "r1", "r4"]),  # missing last both ways
    (["metrics.loss ASC"], ["r4", "r3", "r1", "r2"]),  # NaN after numbers
    (["metrics.loss DESC"], ["r1", "r3", "r4", "r2"]),
    (["params.lr"], ["r1", "r3", "r2", "r4"]),  # strings: "10" < "100" < "2", missing last
    (["params.lr DESC"], ["r2", "r3", "r1", "r4"]),
    (["tags.team ASC"], ["r2", "r1", "r4", "r3"]),  # missing ones then by start_time DESC
    (["attributes.start_time ASC"], ["r1", "r2", "r3", "r4"]),
    (["created DESC"], ["r4", "r3", "r2", "r1"]),
    (["attributes.end_time ASC"], ["r3", "r4", "r2", "r1"]),
    (["attributes.end_time DESC"], ["r3", "r4", "r2", "r1"]),
    (["status", "run_name DESC"], ["r3", "r4", "r2", "r1"]),  # FINISHED < RUNNING
    (["metric.acc desc"], ["r2", "r3", "r1", "r4"]),
])
def test_ordering(server, population, order_by, expected):
    exp, _ = population
    assert names(search(server, [exp], order_by=order_by)) == expected


def test_paging(server, population):
    exp, _ = population
    page1 = search(server, [exp], max_results=3)
    assert names(page1) == ["r4", "r3", "r2"]
    assert page1["next_page_token"] == "eyJvZmZzZXQiOiAzfQ=="  # {"offset": 3}
    page2 = search(server, [exp], max_results=3, token=page1["next_page_token"])
    assert names(page2) == ["r1"] and "next_page_token" not in page2
    # a full page always carries a token, even when nothing follows
    full = search(server, [exp], max_results=4)
    assert len(full["runs"]) == 4 and full["next_page_token"]
    assert search(server, [exp], max_results=4, token=full["next_page_token"]) == {}
    # ordering and filter apply across pages
    p1 = search(server, [exp], order_by=["metrics.acc ASC"], max_results=2)
    p2 = search(server, [exp], order_by=["metrics.acc ASC"], max_results=2, token=p1["next_page_token"])
    assert names(p1) + names(p2) == ["r1", "r3", "r2", "r4"]


def expected_metric_order(rows, key, descending):
    """Upstream's order on one metric: values (either way), then NaN, then runs without it;
    ties newest first, then by run id."""
    def sort_key(row):
        value = row["metrics"].get(key)
        rank = 2 if value is None else 1 if value != value else 0
        v = value if rank == 0 else 0.0
        return (rank, -v if descending else v, -row["start"], row["id"])
    return [r["id"] for r in sorted(rows, key=sort_key)]


def page_through(server, exp, filter, order_by, max_results):
    out, token = [], None
    while True:
        got = search(server, [exp], filter=filter, order_by=order_by, max_results=max_results,
                     token=token)
        out += [r["info"]["run_id"] for r in got.get("runs", [])]
        token = got.get("next_page_token")
        if not token:
            return out


@pytest.fixture(scope="module")
def metric_population(server):
    """80 runs: loss in 9 tied values, some NaN, some without it; the filter's params and metric
    on a subset; a deleted matching run; matching runs in another experiment (candidates of
    the filter that the experiment scope must drop)."""
    exp, other = make_experiment(server), make_experiment(server)
    rows = []
    for i in range(80):
        metrics = [("acc", (i * 37 % 100) / 100)]
        if i % 11 == 3:
            metrics.append(("loss", "NaN"))
        elif i % 13 != 5:
            metrics.append(("loss", float(i * 7 % 9)))
        params = [("grp", "a" if i % 3 else "b"), ("tag", "rare" if i in (4, 40, 77) else "x")]
        run_id = create_run(server, exp, f"m{i}", 10_000 + (i * 53 % 80), metrics=metrics,
                            params=params)
        rows.append({"id": run_id, "start": 10_000 + (i * 53 % 80),
                     "metrics": {k: float(v) for k, v in metrics},
                     "params": dict(params)})
    gone = create_run(server, exp, "gone", 10_500, metrics=[("acc", 0.99), ("loss", 100.0)],
                      params=[("grp", "a")])
    server.api("POST", "runs/delete", {"run_id": gone})
    for i in range(40):
        create_run(server, other, f"o{i}", 9_000 + i, metrics=[("acc", 0.9), ("loss", 50.0 + i)],
                   params=[("grp", "a"), ("tag", "rare")])
    return exp, rows


@pytest.mark.parametrize("filter, keep", [
    ("params.grp = 'a' and metrics.acc > 0.2",
     lambda r: r["params"]["grp"] == "a" and r["metrics"]["acc"] > 0.2),
    ("params.tag = 'rare'", lambda r: r["params"]["tag"] == "rare"),  # few candidates
    ("metrics.acc >= 0", lambda r: True),
    (None, lambda r: True),  # no candidates: the window looks each entry up in runs
    # on the ordered metric itself: tested on the row the order joins (SQLite) or by the walk
    # (PostgreSQL); NaN is stored as 0 and compared as such
    ("metrics.loss > 3", lambda r: (stored(r, "loss") if stored(r, "loss") is not None
                                    else -1) > 3),
    ("metrics.loss <= 4 and params.grp = 'a'",
     lambda r: stored(r, "loss") is not None and stored(r, "loss") <= 4 and
     r["params"]["grp"] == "a"),
])
@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("max_results", [1, 7, 200])
def test_filtered_metric_order_pages(server, metric_population, filter, keep, descending,
                                     max_results):
    """Filter + metric order, the search PostgreSQL answers by walking the metric's index
    (full pages from the walk, the rest by the other form): every page in upstream's order,
    ties split across pages, NaN and missing values last, other experiments and deleted
    runs left out."""
    exp, rows = metric_population
    order = ["metrics.loss DESC" if descending else "metrics.loss ASC"]
    expected = expected_metric_order([r for r in rows if keep(r)], "loss", descending)
    assert len(expected) >= 3
    assert page_through(server, exp, filter, order, max_results) == expected
    # a second key orders within ties of the first
    two = expected_metric_order([r for r in rows if keep(r)], "loss", descending)
    got = page_through(server, exp, filter, order + ["metrics.acc ASC"], 5)
    by_id = {r["id"]: r for r in rows}
    assert sorted(got) == sorted(two)
    for a, b in zip(got, got[1:]):
        la, lb = by_id[a]["metrics"].get("loss"), by_id[b]["metrics"].get("loss")
        if la == lb and la is not None and la == la:
            assert by_id[a]["metrics"]["acc"] <= by_id[b]["metrics"]["acc"]


@pytest.fixture(scope="module")
def big_population(server):
    """2,100 runs in one experiment: more than PostgreSQL restricts a filtered search to
    (2,000), so it takes the window; ties, NaN and missing losses as above."""
    import concurrent.futures
    import requests
    exp = make_experiment(server)
    specs = []
    for i in range(2100):
        metrics = [{"key": "acc", "value": (i * 37 % 1000) / 1000, "timestamp": 1, "step": 0}]
        if i % 97 == 3:
            metrics.append({"key": "loss", "value": "NaN", "timestamp": 1, "step": 0})
        elif i % 89 != 5:
            metrics.append({"key": "loss", "value": float(i * 7 % 50), "timestamp": 1, "step": 0})
        specs.append((i, metrics, "a" if i % 3 else "b"))

    def create(chunk):
        session, out = requests.Session(), []
        for i, metrics, grp in chunk:
            r = session.post(f"{server.url}/api/2.0/mlflow/runs/create",
                             json={"experiment_id": exp, "start_time": 5_000 + i * 13 % 700})
            run_id = r.json()["run"]["info"]["run_id"]
            session.post(f"{server.url}/api/2.0/mlflow/runs/log-batch",
                         json={"run_id": run_id, "metrics": metrics,
                               "params": [{"key": "grp", "value": grp}]}).raise_for_status()
            out.append({"id": run_id, "start": 5_000 + i * 13 % 700, "params": {"grp": grp},
                        "metrics": {m["key"]: float(m["value"]) for m in metrics}})
        return out

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        rows = [r for part in pool.map(create, [specs[k::8] for k in range(8)]) for r in part]
    return exp, rows


def stored(row, key):
    """The value a metric filter compares: MLflow stores NaN as 0 (is_nan set)."""
    value = row["metrics"].get(key)
    return None if value is None else 0.0 if value != value else value


@pytest.mark.parametrize("filter, keep", [
    ("params.grp = 'a' and metrics.acc > 0.2",
     lambda r: r["params"]["grp"] == "a" and r["metrics"]["acc"] > 0.2),
    (None, lambda r: True),
    # clauses on the ordered metric: conditions of PostgreSQL's walk, not candidates; NaN
    # values (stored as 0) still match them, after every other value
    ("metrics.loss > 10", lambda r: (stored(r, "loss") or 0) > 10),
    ("metrics.loss < 5 and metrics.loss != 2 and params.grp = 'a'",
     lambda r: stored(r, "loss") is not None and stored(r, "loss") < 5 and
     stored(r, "loss") != 2 and r["params"]["grp"] == "a"),
    ("metrics.loss >= 0", lambda r: stored(r, "loss") is not None),
    # one run in twenty: PostgreSQL's probe of the first entries comes up short, the window
    # over the hashed candidates answers
    ("metrics.acc > 0.95", lambda r: r["metrics"]["acc"] > 0.95),
])
@pytest.mark.parametrize("descending", [True, False])
def test_filtered_metric_order_pages_over_a_big_experiment(server, big_population, filter, keep,
                                                           descending):
    exp, rows = big_population
    order = ["metrics.loss DESC" if descending else "metrics.loss ASC"]
    expected = expected_metric_order([r for r in rows if keep(r)], "loss", descending)
    assert page_through(server, exp, filter, order, 150) == expected
    # asked again within the minute: PostgreSQL skips the forms that came up short, same pages
    assert page_through(server, exp, filter, order, 150) == expected
    first = search(server, [exp], filter=filter, order_by=order, max_results=7)
    assert [r["info"]["run_id"] for r in first["runs"]] == expected[:7]


def test_a_page_of_many_parts_carries_every_runs_data(server, big_population):
    """A page larger than the store's parts (1,000 runs, each part's data loaded and
    written before the next): every run, in order, each with its own params, metrics
    and name."""
    exp, rows = big_population
    order = ["metrics.loss DESC"]
    got = search(server, [exp], order_by=order, max_results=50000)["runs"]
    assert [r["info"]["run_id"] for r in got] == page_through(server, exp, None, order, 700)
    assert len(got) == len(rows) == 2100
    by_id = {r["id"]: r for r in rows}
    for run in got:
        row = by_id[run["info"]["run_id"]]
        assert run["data"]["params"] == [{"key": "grp", "value": row["params"]["grp"]}]
        metrics = {m["key"]: float(m["value"]) for m in run["data"]["metrics"]}
        assert metrics.keys() == row["metrics"].keys()
        assert all(metrics[k] == v or (v != v and metrics[k] != metrics[k])
                   for k, v in row["metrics"].items())
        assert run["info"]["run_name"] and run["info"]["start_time"] == row["start"]


@pytest.mark.parametrize("body, part", [
    ({"max_results": 0}, "max_results"),
    ({"max_results": -3}, "max_results"),
    ({"max_results": 50001}, "max_results"),
    ({"page_token": "!!!"}, "Invalid page token"),
    ({"page_token": "eyJvZmZzZXQiOiAtNX0="}, "Invalid page token"),  # {"offset": -5}
    ({"filter": "metrics.acc > 1 OR metrics.acc < 0"}, None),
    ({"filter": "metrics.acc > '1'"}, None),
    ({"filter": "params.lr = 10"}, None),
    ({"filter": "lifecycle_stage = 'active'"}, "Invalid attribute key"),
    ({"filter": "bogus.x = 'y'"}, "Invalid entity type"),
    ({"order_by": ["metrics.acc", "metrics.acc DESC"]}, "duplicate"),
    ({"order_by": ["metrics.acc sideways"]}, None),
    ({"run_view_type": "SOME"}, "run_view_type"),
])
def test_search_errors(server, population, body, part):
    exp, _ = population
    r = server.post(URL, dict({"experiment_ids": [exp]}, **body))
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", part)


def test_order_by_many_keys_is_refused_not_a_crash(server, population):
    """Each metric/param/tag order key is a join and two sort terms; with 31 of them SQLite
    3.40 crashed (SEGV: the server went down for everyone). At most 20 are taken (400
    beyond), and 20 with every orderable attribute still sort."""
    exp, runs = population
    keys = [f"metrics.k{i}" for i in range(10)] + [f"params.p{i}" for i in range(6)] + \
        [f"tags.t{i}" for i in range(5)]
    r = server.post(URL, {"experiment_ids": [exp], "order_by": keys})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "at most 20")
    attrs = ["start_time", "end_time", "status", "run_name", "user_id", "artifact_uri",
             "run_id"]
    got = search(server, [exp], order_by=["metrics.acc DESC"] + keys[:19] + attrs)
    assert names(got) == ["r2", "r3", "r1", "r4"], names(got)
    assert server.get("/health").ok


def test_experiment_ids_past_the_bound_values_limit_are_refused(server, population):
    """Each experiment id is a bound value: 40,000 of them with a 29,000-value filter passed
    PostgreSQL's 65,535 (500). At most 30,000 distinct ids are taken (400 beyond, on both
    engines); repeats and text that names no experiment do not count."""
    exp, _ = population
    many = [str(100000 + i) for i in range(30001)]
    for endpoint in ("runs/search", "logged-models/search"):
        r = server.post(f"/api/2.0/mlflow/{endpoint}", {"experiment_ids": many + [exp]})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE", "at most 30000 experiments")
    ids = many[:29999] + [exp] * 5000 + ["x"] * 100
    assert len(search(server, ids)["runs"]) == 4
    # the most of both bound at once still runs
    wanted = sorted(r["info"]["run_id"] for r in search(server, [exp])["runs"])[:2]
    run_ids = ", ".join(f"'{i:032x}'" for i in range(28998)) + ", " + \
        ", ".join(f"'{r}'" for r in wanted)
    got = search(server, ids, filter=f"run_id IN ({run_ids})")
    assert sorted(r["info"]["run_id"] for r in got["runs"]) == wanted
    r = server.post("/api/2.0/mlflow/logged-models/search", {"experiment_ids": ids})
    assert r.status_code == 200, r.text


def test_max_results_accepts_the_limit(server, population):
    exp, _ = population
    assert len(search(server, [exp], max_results=50000)["runs"]) == 4
    assert len(search(server, [exp], max_results="2")["runs"]) == 2


def test_ilike_folds_every_letter_on_both_engines(server):
    """search-grammar §1: ILIKE is case-insensitive, for every letter: SQLite's own lower()
    folds ASCII only, so 'Ü' was missed there while PostgreSQL found it. LIKE and = stay
    case-sensitive."""
    exp = make_experiment(server)
    ids = {v: create_run(server, exp, f"run-{v}", 1000 + i, params=[("model", v)],
                         tags=[("team", v)])
           for i, v in enumerate(["ü", "Ü", "ß", "ẞ", "ёлка", "ЁЛКА", "x"])}

    def found(filter):
        return {r["info"]["run_id"] for r in search(server, [exp], filter=filter).get("runs", [])}

    assert found("params.model ILIKE 'ü'") == {ids["ü"], ids["Ü"]}
    assert found("params.model ILIKE 'Ü'") == {ids["ü"], ids["Ü"]}
    assert found("tags.team ILIKE 'ёлка'") == {ids["ёлка"], ids["ЁЛКА"]}
    assert found("params.model ILIKE 'ẞ'") == {ids["ß"], ids["ẞ"]}
    assert found("run_name ILIKE 'RUN-Ü'") == {ids["ü"], ids["Ü"]}
    assert found("params.model LIKE 'ü'") == {ids["ü"]}
    assert found("params.model = 'Ü'") == {ids["Ü"]}
    found_exps = server.api("POST", "experiments/search",
                            {"filter": "name ILIKE 'SEARCH-%'", "max_results": 1000})
    assert any(e["experiment_id"] == exp for e in found_exps["experiments"])


def test_search_over_ajax(server, population):
    exp, _ = population
    r = server.post("/ajax-api/2.0/mlflow/runs/search", {"experiment_ids": [exp], "max_results": 1})
    assert r.status_code == 200 and names(r.json()) == ["r4"]


def test_experiments_sharing_keys_each_search_their_own_runs(server):
    """Three small experiments and a large one whose runs log the same keys, written by
    log-batch or one call at a time: a filtered search sorted on a metric answers exactly the
    matching runs of its experiments, in order, across pages. On PostgreSQL they are read
    through mlflowd's per-experiment indexes; on SQLite the small experiments' searches start
    from their runs (a small part of the database), the large one's, and one over all four,
    from the filter's matches."""
    import random
    rng = random.Random(11)
    values = (0.1, 0.25, 0.5, 0.75, 0.9)  # few values: ties, settled by start_time then run id
    exps = [make_experiment(server) for _ in range(4)]
    runs = []
    for e, exp in enumerate(exps):
        for i in range(24 if e < 3 else 160):
            row = {"exp": exp, "name": f"e{e}-{i}", "start": rng.randrange(1, 6) * 1000,
                   "m": rng.choice(values), "n": rng.choice(values), "p": rng.choice("ab"),
                   "t": rng.choice("xy")}
            if i % 2:
                row["id"] = create_run(server, exp, row["name"], row["start"],
                                       metrics=[("m", row["m"]), ("n", row["n"])],
                                       params=[("p", row["p"])], tags=[("t", row["t"])])
            else:
                row["id"] = server.api("POST", "runs/create", {
                    "experiment_id": exp, "run_name": row["name"], "start_time": row["start"],
                    "tags": [{"key": "t", "value": row["t"]}]})["run"]["info"]["run_id"]
                for key in "mn":
                    server.api("POST", "runs/log-metric", {"run_id": row["id"], "key": key,
                                                           "value": row[key], "timestamp": 1})
                server.api("POST", "runs/log-parameter", {"run_id": row["id"], "key": "p",
                                                          "value": row["p"]})
            runs.append(row)
    cases = [
        ("metrics.m > 0.3 and params.p = 'a'", "n", True, lambda r: r["m"] > 0.3 and r["p"] == "a"),
        ("metrics.m >= 0.5", "m", False, lambda r: r["m"] >= 0.5),
        ("params.p = 'b'", "m", True, lambda r: r["p"] == "b"),
        ("tags.t = 'x' and metrics.n < 0.75", "n", False, lambda r: r["t"] == "x" and r["n"] < 0.75),
        ("metrics.m != 0.25 and params.p LIKE 'a%'", "n", True,
         lambda r: r["m"] != 0.25 and r["p"] == "a"),
        (None, "m", True, lambda r: True),
    ]

    def expected(scope, keep, key, desc):
        rows = [r for r in runs if r["exp"] in scope and keep(r)]
        rows.sort(key=lambda r: r["id"])
        rows.sort(key=lambda r: r["start"], reverse=True)
        rows.sort(key=lambda r: r[key], reverse=desc)
        return [r["name"] for r in rows]

    for scope in ([exps[0]], [exps[1]], [exps[2]], exps[1:3], [exps[3]], exps):
        for filt, key, desc, keep in cases:
            got, token = [], None
            while True:
                page = search(server, scope, filter=filt, max_results=5, token=token,
                              order_by=[f"metrics.{key} {'DESC' if desc else 'ASC'}"])
                got += names(page)
                token = page.get("next_page_token")
                if not token:
                    break
            assert got == expected(scope, keep, key, desc), (scope, filt)
