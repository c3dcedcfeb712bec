"""The Dockerfile, linted without Docker (scripts/check-dockerfile.sh): its runtime packages are
exactly the Debian packages of the libraries the release binary links, and its shape is right.
Also proves the check can fail: a Dockerfile missing a library package, or running as root, is
refused."""
import os
import subprocess

import pytest

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "scripts", "check-dockerfile.sh")
BIN = os.environ.get("MLFLOWD_RELEASE_BIN", os.path.join(ROOT, "build", "release", "mlflowd"))


def check(dockerfile=None):
    env = dict(os.environ)
    if dockerfile:
        env["DOCKERFILE"] = str(dockerfile)
    return subprocess.run([SCRIPT, BIN], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module", autouse=True)
def release_binary():
    if not os.path.exists(BIN):
        pytest.fail(f"{BIN} is missing: `make deploy-checks` builds it (make build)")


def test_dockerfile_passes_the_check():
    out = check()
    assert out.returncode == 0, out.stdout + out.stderr
    print(out.stdout)


def mutated(tmp_path, old, new):
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        text = f.read()
    assert old in text
    path = tmp_path / "Dockerfile"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize("old,new,message", [
    ("      libpq5 \\\n", "", "libpq5 provides a library mlflowd links"),
    ("      libxml2 \\\n", "      libxml2 \\\n      libyaml-0-2 \\\n", "libyaml-0-2 is installed"),
    ("USER 1001:1001", "USER root", "is root"),
    ('ENTRYPOINT ["mlflowd"]', "ENTRYPOINT mlflowd", "ENTRYPOINT"),
    ("FROM debian:12-slim", "FROM debian:latest", "debian:12-slim"),
    ("--no-install-recommends", "", "--no-install-recommends"),
])
def test_check_refuses_a_broken_dockerfile(tmp_path, old, new, message):
    out = check(mutated(tmp_path, old, new))
    assert out.returncode == 1 and message in out.stderr, out.stdout + out.stderr
