"""The Helm chart deploy/helm/mlflowd, checked without a cluster: yamllint of its plain YAML,
values.schema.json (ajv-cli) over the default and example values, rendered manifests against
golden files, and one test per R-HELM requirement of sso-and-deploy.md §8.2 on the rendered
objects. Rendering: tests/deploy/render everywhere; `helm lint` + `helm template` against the
same goldens where a helm binary exists (skipped, with the reason, where it does not).

Refresh the goldens after an intended change: UPDATE_GOLDEN=1 /usr/bin/python3 -m pytest tests/deploy"""
import json
import os
import re
import subprocess

import pytest
import yaml

from conftest import CHART, ROOT, helm_binary

EXAMPLES = os.path.join(CHART, "examples")
GOLDEN = os.path.join(ROOT, "tests", "deploy", "golden")
SCHEMA = os.path.join(CHART, "values.schema.json")
KUBE = "v1.30.0"

# name -> (values files, --set assignments, extra render flags)
CASES = {
    "minimal": (["minimal.yaml"], [], []),
    "platform": (["platform.yaml"], [], ["--api-versions", "monitoring.coreos.com/v1"]),
    "platform-k8s-1.28": (["platform.yaml"], [], ["--kube-version", "v1.28.0"]),
    "minimal-init-container": (["minimal.yaml"], ["backendStore.migration.mode=initContainer"], []),
}


def render_cmd(tool, values=(), sets=(), extra=()):
    args = []
    for v in values:
        args += ["--values", v if os.path.isabs(v) else os.path.join(EXAMPLES, v)]
    for s in sets:
        args += ["--set", s]
    extra = list(extra)
    if "--kube-version" not in extra:
        extra = ["--kube-version", KUBE] + extra
    if tool.endswith("helm"):
        return [tool, "template", "release-name", CHART, "--namespace", "default", *args, *extra]
    return [tool, *args, *extra, CHART]


def render(renderer, values=(), sets=(), extra=(), expect_ok=True):
    out = subprocess.run(render_cmd(renderer, values, sets, extra), capture_output=True, text=True)
    if not expect_ok:
        assert out.returncode != 0, "rendering should have failed"
        return out.stderr
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def normalized(docs):
    """Documents sorted by kind, namespace and name: output order is not part of the contract."""
    key = lambda d: (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])
    return yaml.safe_dump_all(sorted(docs, key=key), sort_keys=True, width=1000)


def find(docs, kind, name_suffix=""):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(name_suffix)]
    assert found, f"no {kind} *{name_suffix}"
    return found[0]


def container(pod, name):
    for c in pod["spec"].get("containers", []) + pod["spec"].get("initContainers", []):
        if c["name"] == name:
            return c
    raise AssertionError(f"no container {name}")


def pod_spec(doc):
    return doc["spec"]["template"]


# --- R-HELM-1: plain YAML, schema ---------------------------------------------------------

def test_yamllint_plain_yaml():
    files = [os.path.join(CHART, "Chart.yaml"), os.path.join(CHART, "values.yaml"), EXAMPLES]
    out = subprocess.run(["yamllint", "--strict", "-c", os.path.join(CHART, ".yamllint"), *files],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def ajv_validate(ajv, path):
    return subprocess.run([ajv, "validate", "--spec=draft7", "--allow-union-types", "-s", SCHEMA,
                           "-d", path], capture_output=True, text=True)


@pytest.mark.parametrize("values", ["values.yaml"] + sorted(
    os.path.join("examples", f) for f in os.listdir(EXAMPLES)))
def test_values_match_the_schema(ajv, values):
    out = ajv_validate(ajv, os.path.join(CHART, values))
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("bad,why", [
    ("bogus: 1\n", "additionalProperties"),
    ("replicaCount: two\n", "integer"),
    ("auth: {roleMappings: {superuser: [x]}}\n", "additionalProperties"),
    ("proxy: {oidc: {allowedGroups: /a}}\n", "array"),
    ("backendStore: {migration: {mode: sidecar}}\n", "allowed values"),
    ("networkPolicy: {enabled: yes-please}\n", "boolean"),
])
def test_schema_rejects_unknown_keys_and_wrong_types(ajv, tmp_path, bad, why):
    path = tmp_path / "values.yaml"
    path.write_text(bad)
    out = ajv_validate(ajv, str(path))
    assert out.returncode != 0 and why in out.stdout + out.stderr, out.stdout + out.stderr


# --- golden manifests ------------------------------------------------------------------------

def check_golden(name, text):
    path = os.path.join(GOLDEN, name + ".yaml")
    if os.environ.get("UPDATE_GOLDEN"):
        os.makedirs(GOLDEN, exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    with open(path) as f:
        assert text == f.read(), f"rendered {name} differs from {path} (UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_manifests_match_goldens(renderer, case):
    values, sets, extra = CASES[case]
    check_golden(case, normalized(render(renderer, values, sets, extra)))


@pytest.mark.helm
def test_helm_lint_and_template_match_goldens():
    """Needs a helm binary, which is not a Debian package and cannot be fetched here: run by
    `make helm-check` where helm is installed, not by `make test` (the same goldens are checked
    with tests/deploy/render above)."""
    helm = helm_binary()
    assert helm, "helm is not installed: `make helm-check` needs a helm 3 binary on PATH"
    for case, (values, sets, extra) in sorted(CASES.items()):
        lint = [helm, "lint", CHART, "--strict"] + sum(
            (["--values", os.path.join(EXAMPLES, v)] for v in values), [])
        out = subprocess.run(lint, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr
        check_golden(case, normalized(render(helm, values, sets, extra)))


# --- R-HELM-2: no secret in values; refusals ---------------------------------------------------

def test_default_values_refuse_to_render_without_datastores(renderer):
    err = render(renderer, expect_ok=False)
    assert "backendStore.postgres.host is required" in err


@pytest.mark.parametrize("sets,message", [
    (["auth.existingAdminSecret.name="], "no admin password is given"),
    (["backendStore.postgres.existingSecret.name="], "backendStore.postgres.existingSecret.name"),
    (["proxy.enabled=true"], "proxy.oidc.existingSecret.name"),
    (["artifacts.s3.createBucket=true", "artifacts.s3.existingSecret.name="], "createBucket"),
    (["keycloakBootstrap.enabled=true"], "keycloakBootstrap.adminSecret.name"),
    (["proxy.enabled=true", "proxy.oidc.existingSecret.name=p", "auth.sso.enabled=false"],
     "proxy.enabled needs auth.sso.enabled"),
    (["networkPolicy.enabled=true"], "networkPolicy.egress.postgresCidrs"),
    (["auth.sso.enabled=true", "auth.sso.mode=native"],
     "auth.sso.mode=native needs proxy.oidc.existingSecret.name"),
])
def test_rendering_fails_with_what_to_set(renderer, sets, message):
    assert message in render(renderer, ["minimal.yaml"], sets, expect_ok=False)


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_credential_comes_from_a_secret(renderer, case):
    values, sets, extra = CASES[case]
    docs = render(renderer, values, sets, extra)
    def envs(node):
        if isinstance(node, dict):
            if "name" in node and ("value" in node or "valueFrom" in node):
                yield node
            for v in node.values():
                yield from envs(v)
        elif isinstance(node, list):
            for v in node:
                yield from envs(v)
    for env in envs(docs):
        if re.search(r"PASSWORD|SECRET|ACCESS_KEY|TOKEN", env["name"]) and \
                env["name"] != "MLFLOW_AUTH_CONFIG_PATH":
            assert "valueFrom" in env and "value" not in env, env
    assert "password" not in json.dumps([d for d in docs if d["kind"] == "ConfigMap"]).replace(
        "admin_password", "")
    for d in docs:
        if d["kind"] == "Secret":  # only the generated form key and the KServe copy
            assert d["metadata"]["name"].endswith(("-secret-key", "kserve-s3")), d["metadata"]
            assert "stringData" not in d


# --- R-HELM-3: the proxy sidecar -------------------------------------------------------------

def test_proxy_sidecar_native_on_new_clusters_and_plain_on_old(renderer):
    for kube, native in ((KUBE, True), ("v1.28.0", False)):
        docs = render(renderer, ["platform.yaml"], extra=["--kube-version", kube])
        pod = pod_spec(find(docs, "Deployment"))
        inits = [c["name"] for c in pod["spec"].get("initContainers", [])]
        mains = [c["name"] for c in pod["spec"]["containers"]]
        assert ("oauth2-proxy" in inits) == native and ("oauth2-proxy" in mains) == (not native)
        if native:
            assert container(pod, "oauth2-proxy")["restartPolicy"] == "Always"
    docs = render(renderer, ["platform.yaml"], ["proxy.nativeSidecar=false"])
    assert [c["name"] for c in pod_spec(find(docs, "Deployment"))["spec"]["containers"]] == [
        "mlflowd", "oauth2-proxy"]


def test_proxy_flags_loopback_app_and_single_service_port(renderer):
    docs = render(renderer, ["platform.yaml"])
    pod = pod_spec(find(docs, "Deployment"))
    app, proxy = container(pod, "mlflowd"), container(pod, "oauth2-proxy")
    assert "--host=127.0.0.1" in app["args"]
    assert [p["name"] for p in app["ports"]] == ["health"]  # no API port on the pod IP
    args = proxy["args"]
    for flag in ("--pass-authorization-header=true", "--cookie-refresh=4m",
                 "--code-challenge-method=S256",  # the Keycloak Job's client requires PKCE
                 "--skip-jwt-bearer-tokens=true", "--api-route=^/api/",
                 "--upstream=http://127.0.0.1:5000"):
        assert flag in args
    # derived from the /group entries of auth.roleMappings, in order
    assert [a for a in args if a.startswith("--allowed-group=")] == [
        "--allowed-group=/data-science/engineers", "--allowed-group=/data-science"]
    service = find(docs, "Service", "mlflowd")
    assert [(p["name"], p["targetPort"]) for p in service["spec"]["ports"]] == [("http", "proxy")]
    explicit = render(renderer, ["platform.yaml", os.path.join(
        os.path.dirname(__file__), "values", "allowed-groups.yaml")])
    args = container(pod_spec(find(explicit, "Deployment")), "oauth2-proxy")["args"]
    assert [a for a in args if a.startswith("--allowed-group=")] == ["--allowed-group=/mlflow-users"]


# --- R-HELM-4: probes on the health port ---------------------------------------------------------

def test_probes_on_the_health_port_with_overrides(renderer):
    docs = render(renderer, ["platform.yaml"], ["livenessProbe.periodSeconds=30"])
    app = container(pod_spec(find(docs, "Deployment")), "mlflowd")
    assert "--health-port=5001" in app["args"] and "--health-host=0.0.0.0" in app["args"]
    assert app["livenessProbe"]["httpGet"] == {"path": "/health", "port": "health"}
    assert app["livenessProbe"]["periodSeconds"] == 30
    assert app["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "health"}
    assert app["startupProbe"]["httpGet"]["port"] == "health"
    assert {"name": "health", "containerPort": 5001, "protocol": "TCP"} in app["ports"]


# --- R-HELM-5: [role_mappings] byte for byte; config changes roll the pods -----------------------

def test_role_mappings_render_byte_for_byte(renderer):
    docs = render(renderer, ["platform.yaml"])
    ini = find(docs, "ConfigMap", "-config")["data"]["basic_auth.ini"]
    section = ini.split("[role_mappings]\n", 1)[1].split("\n\n", 1)[0]
    assert section == ("admin = admin\n"
                       "MANAGE = devops\n"
                       "EDIT = dataingenieur, dataanalyst, /data-science/engineers\n"
                       "READ = datascientist, /data-science")
    before = pod_spec(find(docs, "Deployment"))["metadata"]["annotations"]["checksum/config"]
    changed = render(renderer, ["platform.yaml"], ["auth.defaultPermission=READ"])
    after = pod_spec(find(changed, "Deployment"))["metadata"]["annotations"]["checksum/config"]
    assert re.fullmatch(r"[0-9a-f]{64}", before) and before != after


# --- R-HELM-6: migrations -------------------------------------------------------------------------

def test_migration_job_or_init_container(renderer):
    docs = render(renderer, ["minimal.yaml"])
    job = find(docs, "Job", "-db-upgrade")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "hook-succeeded" in job["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    args = container(pod_spec(job), "db-upgrade")["args"]
    assert args[:2] == ["db", "upgrade"] and args[2].startswith("postgresql://postgres.db.svc:5432/")
    assert "PGPASSWORD" in json.dumps(container(pod_spec(job), "db-upgrade")["env"])
    docs = render(renderer, ["minimal.yaml"], ["backendStore.migration.mode=initContainer"])
    assert not [d for d in docs if d["kind"] == "Job"]
    init = container(pod_spec(find(docs, "Deployment")), "db-upgrade")
    assert init["args"][:2] == ["db", "upgrade"]


# --- R-HELM-7: ingress ------------------------------------------------------------------------------

def test_ingress_cert_manager_and_tls(renderer):
    docs = render(renderer, ["platform.yaml"])
    ing = find(docs, "Ingress")
    assert ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    assert ing["spec"]["tls"] == [{"hosts": ["mlflow.apps.example.com"],
                                   "secretName": "release-name-mlflowd-tls"}]
    rule = ing["spec"]["rules"][0]
    assert rule["host"] == "mlflow.apps.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"]["port"] == {"name": "http"}


def guard_env(docs):
    env = container(pod_spec(find(docs, "Deployment")), "mlflowd")["env"]
    names = [e["name"] for e in env]
    assert len(names) == len(set(names)), names
    return {e["name"]: e.get("value") for e in env if e["name"].startswith("MLFLOW_SERVER_")}


def test_request_guard_env_from_the_ingress_host(renderer, tmp_path):
    """sso-and-deploy.md §4.1: MLFLOW_SERVER_ALLOWED_HOSTS / _CORS_ALLOWED_ORIGINS follow the
    ingress host (https with TLS), keep the Service's names and localhost, add the extra
    entries, collapse to "*", and leave a variable set in server.extraEnv alone."""
    env = guard_env(render(renderer, ["platform.yaml"]))
    hosts = env["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    assert hosts[0] == "mlflow.apps.example.com"
    for h in ["release-name-mlflowd", "release-name-mlflowd:80",
              "release-name-mlflowd.default.svc.cluster.local", "localhost:*", "127.0.0.1:*"]:
        assert h in hosts
    assert env["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"] == "https://mlflow.apps.example.com"
    assert guard_env(render(renderer, ["minimal.yaml"]))[
        "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"] == "http://mlflow.internal.example.com"

    env = guard_env(render(renderer, ["platform.yaml"], ["ingress.enabled=false"]))
    assert "mlflow.apps.example.com" not in env["MLFLOW_SERVER_ALLOWED_HOSTS"]
    assert "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS" not in env

    extra = tmp_path / "extra.yaml"
    extra.write_text("server:\n  allowedHosts: [mlflow.internal:5000]\n"
                     "  corsAllowedOrigins: ['https://nb.example.com', '*']\n")
    env = guard_env(render(renderer, ["platform.yaml", str(extra)]))
    assert env["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")[-1] == "mlflow.internal:5000"
    assert env["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"] == "*"

    override = tmp_path / "override.yaml"
    override.write_text("server:\n  allowedHosts: ['*']\n  extraEnv:\n"
                        "    - {name: MLFLOW_SERVER_CORS_ALLOWED_ORIGINS, value: 'https://a.example'}\n")
    env = guard_env(render(renderer, ["platform.yaml", str(override)]))
    assert env["MLFLOW_SERVER_ALLOWED_HOSTS"] == "*"
    assert env["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"] == "https://a.example"


# --- R-HELM-8: network policy -----------------------------------------------------------------------

def test_network_policy(renderer):
    np = find(render(renderer, ["platform.yaml"]), "NetworkPolicy")
    ingress = np["spec"]["ingress"]
    assert ingress[0]["from"] == [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "ingress-nginx"}}}]
    assert ingress[0]["ports"] == [{"port": 4180, "protocol": "TCP"}]
    assert ingress[1]["ports"] == [{"port": 5001, "protocol": "TCP"}]
    egress = np["spec"]["egress"]
    cidrs = [[b["ipBlock"]["cidr"] for b in e["to"] if "ipBlock" in b] for e in egress]
    assert cidrs == [[], ["10.20.0.0/16"], ["10.30.0.10/32"], ["10.40.0.0/24"], ["10.0.0.1/32"]]
    assert egress[0]["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert egress[1]["ports"] == [{"port": 5432, "protocol": "TCP"}]
    assert not [d for d in render(renderer, ["minimal.yaml"]) if d["kind"] == "NetworkPolicy"]


# --- R-HELM-9: ServiceMonitor only with the CRD's API -------------------------------------------------

def test_service_monitor_needs_the_api(renderer):
    with_api = render(renderer, ["platform.yaml"], extra=["--api-versions", "monitoring.coreos.com/v1"])
    sm = find(with_api, "ServiceMonitor")
    assert sm["spec"]["endpoints"] == [{"port": "health", "path": "/metrics", "interval": "30s",
                                        "scrapeTimeout": "10s"}]
    metrics_service = find(with_api, "Service", "-metrics")
    assert metrics_service["spec"]["ports"][0]["targetPort"] == "health"
    assert sm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "metrics"
    assert not [d for d in render(renderer, ["platform.yaml"]) if d["kind"] == "ServiceMonitor"]


# --- R-HELM-10: KServe ------------------------------------------------------------------------------

def test_kserve_service_account_secret_and_role(renderer):
    docs = render(renderer, ["platform.yaml"])
    secret = find(docs, "Secret", "kserve-s3")
    assert secret["metadata"]["namespace"] == "models"
    assert secret["metadata"]["annotations"] == {
        "serving.kserve.io/s3-endpoint": "minio.apps.example.com",
        "serving.kserve.io/s3-usehttps": "1", "serving.kserve.io/s3-region": "us-east-1",
        "serving.kserve.io/s3-verifyssl": "1", "serving.kserve.io/s3-useanoncredential": "false"}
    sa = find(docs, "ServiceAccount", "mlflow-kserve")
    assert sa["secrets"] == [{"name": "mlflow-kserve-s3"}]
    role = find(docs, "Role")
    assert role["metadata"]["namespace"] == "models"
    assert role["rules"] == [{"apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"],
                              "verbs": ["get", "list", "watch", "create", "patch", "delete"]}]
    binding = find(docs, "RoleBinding")
    assert binding["subjects"][0]["name"] == "release-name-mlflowd"
    app = container(pod_spec(find(docs, "Deployment")), "mlflowd")
    assert "--kserve-apply" in app["args"] and "--kserve-namespace=models" in app["args"]
    http = render(renderer, ["minimal.yaml"], ["kserve.enabled=true"])
    ann = find(http, "Secret", "kserve-s3")["metadata"]["annotations"]
    assert ann["serving.kserve.io/s3-endpoint"] == "minio.minio.svc:9000"
    assert ann["serving.kserve.io/s3-usehttps"] == "0"
    assert not [d for d in http if d["kind"] == "Role"]


# --- R-HELM-11: Keycloak bootstrap Job ----------------------------------------------------------------

def test_keycloak_bootstrap_job(renderer):
    job = find(render(renderer, ["platform.yaml"]), "Job", "-keycloak")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    c = container(pod_spec(job), "keycloak")
    assert c["args"][:2] == ["admin", "keycloak"]
    flags = dict(zip(c["args"][2::2], c["args"][3::2]))
    assert flags["--url"] == "https://keycloak.apps.example.com"
    assert flags["--realm"] == "platform" and flags["--client-id"] == "mlflow"
    assert flags["--auth-config"] == "/etc/mlflowd/auth/basic_auth.ini"
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"]}
    assert env["KEYCLOAK_ADMIN_CLIENT_SECRET"] == {"name": "keycloak-bootstrap", "key": "client-secret"}
    assert env["MLFLOWD_KEYCLOAK_CLIENT_SECRET"] == {"name": "mlflowd-oauth2-proxy",
                                                     "key": "client-secret"}
    assert "--redirect-uri" not in c["args"]  # the proxy's callback, from --domain
    # the native login: mlflowd's own callback registered (and the proxy's, while it runs)
    job = find(render(renderer, ["platform.yaml"], ["auth.sso.mode=native"]), "Job", "-keycloak")
    args = container(pod_spec(job), "keycloak")["args"]
    assert [args[i + 1] for i, a in enumerate(args) if a == "--redirect-uri"] == [
        "https://mlflow.apps.example.com/oidc/callback",
        "https://mlflow.apps.example.com/oauth2/callback"]


# --- R-HELM-12: pod security --------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_pod_security_defaults(renderer, case):
    values, sets, extra = CASES[case]
    docs = render(renderer, values, sets, extra)
    manage = case.startswith("platform")
    for d in docs:
        if d["kind"] not in ("Deployment", "Job"):
            continue
        spec = pod_spec(d)["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is (manage and d["kind"] == "Deployment")
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}


def test_job_pods_are_not_selected_by_the_service(renderer):
    docs = render(renderer, ["platform.yaml"])
    selector = find(docs, "Service", "mlflowd")["spec"]["selector"]
    for job in (d for d in docs if d["kind"] == "Job"):
        labels = pod_spec(job)["metadata"]["labels"]
        assert not all(labels.get(k) == v for k, v in selector.items()), job["metadata"]["name"]


# --- the init-bucket Job with a MinIO user (legacy `inits3`'s user and policy) ----------------------

def test_init_bucket_job_makes_the_servers_minio_user(renderer):
    def job_env(sets):
        job = find(render(renderer, ["platform.yaml"], sets), "Job", "-init-bucket")
        return {e["name"]: e.get("value", e.get("valueFrom", {}).get("secretKeyRef"))
                for e in container(pod_spec(job), "init-bucket")["env"]}
    plain = job_env([])
    assert plain["AWS_ACCESS_KEY_ID"] == {"name": "mlflowd-s3", "key": "AWS_ACCESS_KEY_ID"}
    assert not any(name.startswith("MLFLOWD_MINIO_") for name in plain)
    env = job_env(["artifacts.s3.minioUser.enabled=true",
                   "artifacts.s3.minioUser.adminSecret.name=minio-root",
                   "artifacts.s3.minioUser.policy=mlflow-rw"])
    # the admin's keys create the bucket and call the admin API; the server's keys become the user
    assert env == {
        "MLFLOW_S3_ENDPOINT_URL": "https://minio.apps.example.com",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": {"name": "minio-root", "key": "AWS_ACCESS_KEY_ID"},
        "AWS_SECRET_ACCESS_KEY": {"name": "minio-root", "key": "AWS_SECRET_ACCESS_KEY"},
        "MLFLOWD_MINIO_USER": {"name": "mlflowd-s3", "key": "AWS_ACCESS_KEY_ID"},
        "MLFLOWD_MINIO_USER_SECRET_KEY": {"name": "mlflowd-s3", "key": "AWS_SECRET_ACCESS_KEY"},
        "MLFLOWD_MINIO_POLICY": "mlflow-rw"}
    for sets, message in (
            (["artifacts.s3.minioUser.enabled=true"], "minioUser.adminSecret.name"),
            (["artifacts.s3.minioUser.enabled=true", "artifacts.s3.createBucket=false",
              "artifacts.s3.minioUser.adminSecret.name=minio-root"],
             "needs artifacts.s3.createBucket"),
            (["artifacts.s3.minioUser.enabled=true", "artifacts.s3.endpointUrl=",
              "artifacts.s3.minioUser.adminSecret.name=minio-root"], "the MinIO server")):
        assert message in render(renderer, ["platform.yaml"], sets, expect_ok=False)
