"""KServe manifests for hostile or odd values (README "KServe hand-off"): every registered-model
name, alias, storage URI, service account and runtime a user can choose comes out of the YAML
form as the very string the JSON form holds (a YAML 1.1 reader, PyYAML, reads `yes`, `on`,
`1e3`, `0x1`, `~`, `-x`, `a: b`, `#x`, newlines, Unicode ... back as strings, and no value adds
a key); metadata.name stays a DNS-1035 label of at most 45 characters, and the label values
stay Kubernetes label values, whatever the model name and alias are."""
import json
import os
import re
import subprocess
import uuid

import pytest
import yaml

from conftest import BIN, assert_error
from test_kserve import FakeKubernetes

DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$")

# Plain YAML would read each of these as something else, or not at all.
ODD = ["yes", "No", "ON", "off", "y", "n", "true", "False", "null", "NULL", "~", "1e3", "0x1",
       "0o17", "017", ".inf", "-.inf", ".NaN", "+1", "-1", "1_000", "1:20", "2001-12-14",
       "12:30:45", "a: b", "a:b", "trailing:", "a #b", "#x", "-x", "- x", "--- x", "...", "*x",
       "&x", "!x", "!!str", "|x", ">x", "'x", '"x"', "%x", "@x", "`x", "?x", ",x", "[x]", "{x}",
       "<<", "=", "a\nb", "a\r\nb", "tab\tx", " lead", "trail ", "back\\slash", "é", "日本語",
       "emoji 🎉", "zero\u200bwidth", "x" * 256, "key: [1, {a: b}] # c"]


def register(server, name, source="s3://bucket/model"):
    server.api("POST", "registered-models/create", {"name": name})
    mv = server.api("POST", "model-versions/create", {"name": name, "source": source})
    return mv["model_version"]["version"]


def both_forms(server, **params):
    """The JSON manifest and the YAML one read back; asserts both answered 200."""
    r = server.get("/api/2.0/mlflowd/kserve/manifest", params)
    assert r.status_code == 200, r.text
    y = server.get("/api/2.0/mlflowd/kserve/manifest", dict(params, format="yaml"))
    assert y.status_code == 200, y.text
    return r.json(), y.text


def check_names(isvc):
    name = isvc["metadata"]["name"]
    assert DNS_1035.match(name) and len(name) <= 45, name
    for key, value in isvc["metadata"]["labels"].items():
        assert LABEL_VALUE.match(value) and len(value) <= 63, (key, value)


def test_odd_model_names_read_back_from_yaml_as_written(kserve_server):
    s = kserve_server
    wrong = []
    for odd in ODD:
        version = register(s, odd)
        isvc, text = both_forms(s, name=odd, version=version)
        assert isvc["metadata"]["annotations"]["mlflow.org/registered-model-name"] == odd
        check_names(isvc)
        if yaml.safe_load(text) != isvc:
            wrong.append((odd, text))
    assert not wrong, wrong


def test_odd_aliases_read_back_from_yaml_as_written(kserve_server):
    """Aliases are word characters and '-' (MLflow's rule), which still allows `yes`, `1e3`,
    `-x`, `0x1`, `___` and non-ASCII letters."""
    s = kserve_server
    model = "aliased-" + uuid.uuid4().hex[:6]
    version = register(s, model)
    names = set()
    for alias in ["yes", "on", "No", "null", "1e3", "0x1", "-x", "--", "___", "_", "-1",
                  "日本語", "é", "a" * 255, "Champion", "champion"]:
        s.api("POST", "registered-models/alias", {"name": model, "alias": alias,
                                                  "version": version})
        isvc, text = both_forms(s, name=model, alias=alias)
        assert yaml.safe_load(text) == isvc, (alias, text)
        assert isvc["metadata"]["annotations"]["mlflow.org/model-alias"] == alias
        check_names(isvc)
        names.add(isvc["metadata"]["name"])
    assert len(names) == 16  # "Champion" and "champion" too: an alias changed is a new name


def test_odd_storage_uris_read_back_from_yaml_as_written(kserve_server):
    """An s3:// source is kept as it is, so whatever its key holds reaches storageUri and the
    mlflow.org/source annotation. (A raw '#' in a source is refused when the version is made:
    MLflow reads it as a fragment.)"""
    s = kserve_server
    model = "sources-" + uuid.uuid4().hex[:6]
    s.api("POST", "registered-models/create", {"name": model})
    for source in ["s3://b/yes", "s3://b/a: b", "s3://b/1e3",
                   "s3://b/'q'", 's3://b/"q"', "s3://b/new\nline", "s3://b/日本語",
                   "s3://b/" + "k" * 493, "s3://b/- x", "s3://b/&a *b !c"]:
        version = s.api("POST", "model-versions/create", {"name": model, "source": source})[
            "model_version"]["version"]
        isvc, text = both_forms(s, name=model, version=version)
        assert yaml.safe_load(text) == isvc, (source, text)
        assert isvc["metadata"]["annotations"]["mlflow.org/source"] == source
        assert isvc["spec"]["predictor"]["model"]["storageUri"] == source.rstrip("/") + "/"
        assert isvc["metadata"]["labels"]["mlflow.org/model-version"] == version


def test_names_at_the_length_limit(kserve_server):
    """A name that fits (45 characters) is kept as it is; one character more is cut and ends
    with the hash, still 45 at most; models that differ only past the cut get different names."""
    s = kserve_server
    tag = uuid.uuid4().hex[:6]
    fits = ("f" + tag + "x" * 45)[:42]                # + "-v1" = 45
    version = register(s, fits)
    assert version == "1"
    name = both_forms(s, name=fits, version=version)[0]["metadata"]["name"]
    assert name == fits + "-v1"
    longer = fits + "y"                               # 46: hashed
    register(s, longer)
    hashed = both_forms(s, name=longer, version="1")[0]["metadata"]["name"]
    assert len(hashed) <= 45 and re.search(r"-[0-9a-f]{8}$", hashed), hashed
    assert hashed != name
    other = fits + "z"
    register(s, other)
    assert both_forms(s, name=other, version="1")[0]["metadata"]["name"] != hashed


@pytest.mark.parametrize("model", ["___", "---", "日本語", "123", "-", "é", ".", "A" * 256,
                                   "-leading-and-trailing-", "a" + "-" * 60 + "b"])
def test_model_names_without_a_usable_lead_still_give_a_label(kserve_server, model):
    """Nothing ASCII-alphanumeric, a leading digit or dash, many dashes: the name starts with a
    letter ("m-" lead), has no '-' at its end and fits, and is the same each time."""
    s = kserve_server
    version = register(s, model)
    isvc, text = both_forms(s, name=model, version=version)
    check_names(isvc)
    assert yaml.safe_load(text) == isvc
    again = both_forms(s, name=model, version=version)[0]
    assert again["metadata"]["name"] == isvc["metadata"]["name"]


def test_cli_settings_read_back_from_yaml_as_written(kserve_server):
    """--service-account and --runtime are not checked (KServe is): whatever they hold is
    written so that the YAML reads back as the JSON; an empty one leaves its field out."""
    s = kserve_server
    model = "cli-" + uuid.uuid4().hex[:6]
    version = register(s, model)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
    base = [BIN, "kserve", "manifest", "--backend-store-uri", s.db_uri,
            "--artifacts-destination", s.s3_root, "--name", model, "--version", version,
            "--namespace", "models"]
    for odd in ["yes", "1e3", "0x1", "- x", "a: b", "#c", "x\ny", "'", "null", "~", "日本語",
                "key: value\nkind: Secret"]:
        args = base + ["--service-account", odd, "--runtime", odd]
        out_json = subprocess.run(args + ["--output", "json"], env=env, capture_output=True,
                                  text=True, timeout=60)
        out_yaml = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        assert out_json.returncode == 0 and out_yaml.returncode == 0, out_json.stderr
        isvc = json.loads(out_json.stdout)
        assert isvc["spec"]["predictor"]["serviceAccountName"] == odd
        assert isvc["spec"]["predictor"]["model"]["runtime"] == odd
        assert isvc["kind"] == "InferenceService"
        assert yaml.safe_load(out_yaml.stdout) == isvc, (odd, out_yaml.stdout)
    out = subprocess.run(base + ["--service-account=", "--runtime=", "--namespace="], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    isvc = yaml.safe_load(out.stdout)
    assert "serviceAccountName" not in isvc["spec"]["predictor"]
    assert "runtime" not in isvc["spec"]["predictor"]["model"]
    assert "namespace" not in isvc["metadata"]


def test_cli_settings_from_the_environment_and_empty_ones(kserve_server):
    """The settings' variables are read when no flag is given; set empty they count as unset
    and give the defaults (README), unlike an empty flag."""
    s = kserve_server
    model = "cli-env-" + uuid.uuid4().hex[:6]
    version = register(s, model)
    base = [BIN, "kserve", "manifest", "--backend-store-uri", s.db_uri,
            "--artifacts-destination", s.s3_root, "--name", model, "--version", version,
            "--output", "json"]

    def predictor_and_metadata(**variables):
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", **variables)
        out = subprocess.run(base, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        isvc = json.loads(out.stdout)
        return isvc["spec"]["predictor"], isvc["metadata"]

    predictor, metadata = predictor_and_metadata(
        MLFLOWD_KSERVE_NAMESPACE="from-env", MLFLOWD_KSERVE_SERVICE_ACCOUNT="yes",
        MLFLOWD_KSERVE_RUNTIME="1e3")
    assert metadata["namespace"] == "from-env"
    assert predictor["serviceAccountName"] == "yes" and predictor["model"]["runtime"] == "1e3"
    predictor, metadata = predictor_and_metadata(
        MLFLOWD_KSERVE_NAMESPACE="", MLFLOWD_KSERVE_SERVICE_ACCOUNT="", MLFLOWD_KSERVE_RUNTIME="")
    assert metadata["namespace"] == "default"
    assert predictor["serviceAccountName"] == "mlflow-kserve"
    assert predictor["model"]["runtime"] == "kserve-mlserver"


def test_yaml_layout_is_block_style_with_two_space_indent(kserve_server):
    """What people read and `kubectl apply -f -` takes: one key per line, nested two spaces,
    the leading keys in Kubernetes' order, a final newline, no document markers or flow
    collections, and no line a value of several lines could have added."""
    s = kserve_server
    model = "a\nkind: Secret\n  x: y"
    version = register(s, model)
    isvc, text = both_forms(s, name=model, version=version)
    lines = text.split("\n")
    assert text.endswith("\n") and lines[-1] == ""
    assert lines[:3] == ["apiVersion: serving.kserve.io/v1beta1", "kind: InferenceService",
                         "metadata:"]
    assert sum(1 for line in lines if line.startswith("kind:")) == 1
    for line in lines[:-1]:
        stripped = line.lstrip(" ")
        assert (len(line) - len(stripped)) % 2 == 0, line
        assert ":" in stripped and not stripped.startswith(("---", "...", "{", "[")), line
    assert yaml.safe_load(text) == isvc


def test_apply_sends_odd_values_intact(make_server, s3_server, tmp_path):
    """The apply's body is the same YAML: the fake API server reads back what the JSON
    manifest holds, the URL carries only the DNS name, and the model's second apply (an update
    of its own service, found by the annotation read back) succeeds."""
    kube = FakeKubernetes()
    try:
        token = tmp_path / "token"
        token.write_text("t")
        s = make_server(args=["--kserve-apply", "--kserve-api-url", kube.url,
                              "--kserve-token-file", str(token), "--kserve-namespace", "models",
                              "--kserve-runtime", "on", "--kserve-service-account", "0x1"],
                        env=s3_server.env)
        model = "yes: no\n#x &a *b !c 'q' \"d\" ~"
        version = register(s, model, source="s3://mlflow/odd: key/m")
        for _ in range(2):
            r = s.post("/api/2.0/mlflowd/kserve/apply", {"name": model, "version": version})
            assert r.status_code == 200, r.text
        isvc = r.json()["manifest"]
        assert isvc["metadata"]["annotations"]["mlflow.org/registered-model-name"] == model
        assert isvc["spec"]["predictor"]["model"]["runtime"] == "on"
        assert isvc["spec"]["predictor"]["serviceAccountName"] == "0x1"
        assert len(kube.calls) == 2
        for call in kube.calls:
            assert yaml.safe_load(call["body"]) == isvc
            path = call["path"].split("?")[0]
            assert path == ("/apis/serving.kserve.io/v1beta1/namespaces/models/inferenceservices/"
                            + isvc["metadata"]["name"])
            assert DNS_1035.match(path.rsplit("/", 1)[1])
    finally:
        kube.close()


@pytest.mark.parametrize("source", ["s3://b/m#", "s3://b/x%20#y", "s3:///m"])
def test_refused_s3_source_says_why(kserve_server, source):
    s = kserve_server
    s.api("POST", "registered-models/create", {"name": "frag"})
    version = s.api("POST", "model-versions/create", {"name": "frag", "source": source})[
        "model_version"]["version"]
    r = s.get("/api/2.0/mlflowd/kserve/manifest", {"name": "frag", "version": version})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", source)
    assert "only s3://" not in r.json()["message"], r.json()["message"]


@pytest.mark.parametrize("odd", ["a \u2028  b", "p\u2029 q", "x \u2028"])
def test_yaml_holds_line_and_paragraph_separators(kserve_server, odd):
    s = kserve_server
    version = register(s, odd)
    isvc, text = both_forms(s, name=odd, version=version)
    assert yaml.safe_load(text) == isvc


def test_apply_twice_of_a_model_whose_name_holds_a_line_separator(make_server, s3_server,
                                                                   tmp_path):
    kube = FakeKubernetes()  # reads the applied YAML with yaml.safe_load, as the API server does
    try:
        token = tmp_path / "token"
        token.write_text("t")
        s = make_server(args=["--kserve-apply", "--kserve-api-url", kube.url,
                              "--kserve-token-file", str(token), "--kserve-namespace", "models"],
                        env=s3_server.env)
        name = "wine \u2028 red"
        version = register(s, name, source="s3://mlflow/m")
        r = s.post("/api/2.0/mlflowd/kserve/apply", {"name": name, "version": version})
        assert r.status_code == 200, r.text
        r = s.post("/api/2.0/mlflowd/kserve/apply", {"name": name, "version": version})
        # was 400 RESOURCE_ALREADY_EXISTS: YAML folded the name, so the service seemed another's
        assert r.status_code == 200, r.text
    finally:
        kube.close()


@pytest.mark.parametrize("odd", ["nc\ufffex", "nc\uffffx"])
def test_yaml_holds_model_names_with_noncharacters(kserve_server, odd):
    s = kserve_server
    version = register(s, odd)  # accepted by registered-models/create
    isvc, text = both_forms(s, name=odd, version=version)
    assert yaml.safe_load(text) == isvc  # ReaderError: unacceptable character #xfffe


def test_yaml_holds_sources_with_noncharacters(kserve_server):
    s = kserve_server
    s.api("POST", "registered-models/create", {"name": "src-nonchar"})
    source = "s3://b/m\ufffe"
    version = s.api("POST", "model-versions/create", {"name": "src-nonchar", "source": source})[
        "model_version"]["version"]
    isvc, text = both_forms(s, name="src-nonchar", version=version)
    assert yaml.safe_load(text) == isvc
