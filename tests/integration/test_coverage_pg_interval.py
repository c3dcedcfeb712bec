"""get-history-bulk-interval over histories too long to read in one pass (found unrun on both
engines by measuring coverage). On PostgreSQL a key's rows of the requested runs are read in
one pass only up to 500,000; past that the store samples the steps first and then reads each
run's rows of the chosen steps. Both readings must answer the same points: with two runs of
the same steps, asking for both together (500,002 rows: sampled) must equal asking for each
alone (300,001 and 200,001 rows: one pass), and the steps must be upstream's choice."""
import pytest

from conftest import db_query
from test_metrics import sampled_steps

pytestmark = pytest.mark.requires_postgres

STEPS = 100_000


def new_run(server):
    exp = server.api("POST", "experiments/create", {"name": "cov-interval"})["experiment_id"]
    runs = [server.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
            for _ in range(2)]
    return runs


def fill(server, run_id, copies, value_sign):
    """`copies` rows per step 0..STEPS-1 (timestamps apart), then one more row at the middle
    step: STEPS * copies + 1 rows of key "loss"."""
    db_query(server, "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                     "SELECT 'loss', ? * (s + t / 10.0), 1000 * s + t, ?, s, false "
                     "FROM generate_series(0, ?) s, generate_series(0, ?) t",
             (value_sign, run_id, STEPS - 1, copies - 1))
    server.api("POST", "runs/log-metric", {"run_id": run_id, "key": "loss", "value": 0.25,
                                           "timestamp": 7, "step": STEPS // 2})


def interval(server, run_ids, **params):
    return server.api("GET", "metrics/get-history-bulk-interval",
                      params={"run_ids": run_ids, "metric_key": "loss", **params})["metrics"]


def test_a_sampled_interval_answers_what_one_pass_answers(server):
    run_a, run_b = new_run(server)
    fill(server, run_a, 3, 1)
    fill(server, run_b, 2, -1)
    counts = dict(db_query(server, "SELECT run_uuid, COUNT(*) FROM metrics WHERE key = 'loss' "
                                   "GROUP BY run_uuid"))
    assert {k: int(v) for k, v in counts.items()} == {run_a: 300_001, run_b: 200_001}
    all_steps = [[(s, None) for s in range(STEPS)]]
    for params, (start, end) in [({"max_results": 10}, (None, None)),
                                 ({"max_results": 7, "start_step": 1234, "end_step": 98765},
                                  (1234, 98765)),
                                 ({"max_results": 3, "start_step": 49_999, "end_step": 50_001},
                                  (49_999, 50_001))]:
        together = interval(server, [run_b, run_a], **params)
        alone = interval(server, [run_b], **params) + interval(server, [run_a], **params)
        assert together == alone, params
        steps = sampled_steps(all_steps, params["max_results"], start, end)
        for run_id, copies in ((run_a, 3), (run_b, 2)):
            got = [m for m in together if m["run_id"] == run_id]
            assert sorted({m["step"] for m in got}) == steps, (params, run_id)
            extra = 1 if STEPS // 2 in steps else 0
            assert len(got) == copies * len(steps) + extra, (params, run_id)
            keys = [(m["step"], m["timestamp"]) for m in got]
            assert keys == sorted(keys), (params, run_id)  # (step, timestamp) order
