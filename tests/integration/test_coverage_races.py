"""Creations racing for one name (found unrun by measuring coverage: on PostgreSQL the loser
of the race meets the unique constraint, not the existence check): exactly one request
creates, every other is told RESOURCE_ALREADY_EXISTS in MLflow's words (never a 500), and one
row exists."""
import threading
import uuid

import requests

from conftest import db_query

ATTEMPTS = 8


def race(server, endpoint, body):
    barrier = threading.Barrier(ATTEMPTS)
    answers = []

    def one():
        with requests.Session() as s:
            barrier.wait()
            answers.append(s.post(f"{server.url}/api/2.0/mlflow/{endpoint}", json=body, timeout=60))

    threads = [threading.Thread(target=one) for _ in range(ATTEMPTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_registered_models_created_at_once_under_one_name(server):
    for _ in range(5):
        name = f"cov-race-{uuid.uuid4().hex[:8]}"
        answers = race(server, "registered-models/create", {"name": name})
        assert sorted(a.status_code for a in answers) == [200] + [400] * (ATTEMPTS - 1), \
            [a.text for a in answers]
        for a in answers:
            if a.status_code == 400:
                assert a.json() == {"error_code": "RESOURCE_ALREADY_EXISTS",
                                    "message": f"Registered Model (name={name}) already exists."}
        assert db_query(server, "SELECT COUNT(*) FROM registered_models WHERE name = ?",
                        (name,))[0][0] == 1


def test_experiments_created_at_once_under_one_name(server):
    for _ in range(5):
        name = f"cov-race-{uuid.uuid4().hex[:8]}"
        answers = race(server, "experiments/create", {"name": name})
        assert sorted(a.status_code for a in answers) == [200] + [400] * (ATTEMPTS - 1), \
            [a.text for a in answers]
        for a in answers:
            if a.status_code == 400:
                assert a.json()["error_code"] == "RESOURCE_ALREADY_EXISTS", a.text
                assert name in a.json()["message"], a.text
        assert db_query(server, "SELECT COUNT(*) FROM experiments WHERE name = ?",
                        (name,))[0][0] == 1
