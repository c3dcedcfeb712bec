"""The schema mlflowd creates is MLflow's, statement for statement: every table
and index of schema.md Appendix A (tracking) and B (auth), compared from
sqlite_master, so MLflow can open our database and we can open MLflow's."""
import os
import re
import sqlite3
import subprocess

from conftest import BIN

HERE = os.path.dirname(__file__)
SPEC = os.path.join(HERE, "../../../shared/spec/schema.md")
COPY = os.path.join(HERE, "../../src/store/schema_tracking.sql")


def appendix_ddl(letter):
    """DDL statements of the spec's appendix (falls back to our embedded copy
    when the spec folder is not beside the checkout)."""
    if os.path.exists(SPEC):
        text = open(SPEC).read()
        section = text.split(f"## Appendix {letter}")[1]
        sql = section.split("```sql")[1].split("```")[0]
    else:
        sql = open(COPY if letter == "A" else COPY.replace("tracking", "auth")).read()
    sql = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    return normalise(s for s in sql.split(";\n") if s.strip())


def normalise(statements):
    out = set()
    for s in statements:
        s = re.sub(r"\s+", " ", s.strip().rstrip(";"))
        out.add(s)
    return out


def created_ddl(path):
    db = sqlite3.connect(path)
    rows = db.execute("select sql from sqlite_master where sql is not null").fetchall()
    return normalise(r[0] for r in rows)


def test_tracking_schema_equals_mlflow(tmp_path):
    path = tmp_path / "t.db"
    out = subprocess.run([BIN, "db", "upgrade", f"sqlite:///{path}"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    expected = appendix_ddl("A")
    got = created_ddl(path)
    assert len(expected) > 40
    assert got == expected, (sorted(expected - got)[:3], sorted(got - expected)[:3])
    db = sqlite3.connect(path)
    assert db.execute("pragma integrity_check").fetchone() == ("ok",)
    assert db.execute("pragma foreign_key_check").fetchall() == []


def test_existing_mlflow_database_served_as_is(make_server, tmp_path):
    """A database laid down by MLflow's DDL (not by us) at head is served unchanged."""
    path = tmp_path / "mlflow.db"
    db = sqlite3.connect(path)
    sql = "\n".join(l for l in open(COPY).read().splitlines() if not l.startswith("--"))
    db.executescript(sql)
    db.execute("insert into alembic_version values ('bf29a5ff90ea')")
    db.execute("insert into experiments (experiment_id, name, artifact_location, lifecycle_stage,"
               " creation_time, last_update_time) values (0, 'Default', 'mlflow-artifacts:/0',"
               " 'active', 1, 1)")
    db.commit()
    before = created_ddl(path)
    s = make_server(args=[f"--backend-store-uri=sqlite:///{path}"], workdir=tmp_path)
    assert s.get("/health").status_code == 200
    assert created_ddl(path) == before
