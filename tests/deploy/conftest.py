"""Fixtures of the chart and image checks (tests/deploy, run by `make deploy-checks` before the
integration suite): the tools they need, each installed from Debian or from the committed npm
lock file, and a `render` helper.

The chart is rendered by `helm template` where a helm binary exists; helm is not a Debian
package and cannot be fetched here, so everything else renders with tests/deploy/render, a
small `helm template` built from Debian's Go packages (Go text/template + Sprig v3, Helm's own
template functions, Helm's value merging). Only the helm-vs-golden comparison needs helm."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "deploy", "helm", "mlflowd")
TOOLS = os.path.join(ROOT, "tests", "deploy", "tools")
BUILD = os.path.join(ROOT, "build", "deploy-tools")


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


@pytest.fixture(scope="session")
def renderer():
    """Path of the tests/deploy/render binary (built once per source change)."""
    os.makedirs(BUILD, exist_ok=True)
    binary = os.path.join(BUILD, "render")
    source = os.path.join(ROOT, "tests", "deploy", "render", "main.go")
    if not os.path.exists(binary) or os.path.getmtime(binary) < os.path.getmtime(source):
        gopath = os.path.join(BUILD, "gopath")
        env = dict(os.environ, GO111MODULE="off", GOPATH=f"/usr/share/gocode:{gopath}",
                   GOCACHE=os.path.join(BUILD, "gocache"), GOFLAGS="")
        out = _run(["go", "build", "-o", binary, "."], cwd=os.path.dirname(source), env=env)
        assert out.returncode == 0, "building tests/deploy/render failed:\n" + out.stderr
    return binary


@pytest.fixture(scope="session")
def ajv():
    """ajv-cli from tests/deploy/tools/package-lock.json (npm ci, never global)."""
    binary = os.path.join(TOOLS, "node_modules", ".bin", "ajv")
    stamp = os.path.join(TOOLS, "node_modules", ".package-lock.json")
    lock = os.path.join(TOOLS, "package-lock.json")
    if not os.path.exists(binary) or os.path.getmtime(stamp) < os.path.getmtime(lock):
        out = _run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                   cwd=TOOLS)
        assert out.returncode == 0, "npm ci in tests/deploy/tools failed:\n" + out.stderr
    return binary


def pytest_configure(config):
    config.addinivalue_line("markers", "helm: needs a helm binary (make helm-check)")


def helm_binary():
    return shutil.which("helm")
