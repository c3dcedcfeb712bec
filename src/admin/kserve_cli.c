/* kserve_cli.c — `mlflowd kserve manifest | apply`: the InferenceService of
 * GET /api/2.0/mlflowd/kserve/manifest from the command line, straight from
 * the tracking database (for CI pipelines and `kubectl apply -f -`), and its
 * server-side apply with the caller's Kubernetes token. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "kserve/kserve.h"
#include "store/db.h"
#include "store/schema.h"

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static void usage(FILE *out) {
    fprintf(out, "Usage: mlflowd kserve manifest|apply --name MODEL (--version N | --alias A) "
                 "[OPTIONS]\n\nSee mlflowd kserve manifest --help.\n");
}

int mfd_admin_kserve_main(int argc, char **argv) {
    if (argc < 2 || (strcmp(argv[1], "manifest") != 0 && strcmp(argv[1], "apply") != 0)) {
        bool help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"));
        usage(help ? stdout : stderr);
        return help ? 0 : 2;
    }
    bool do_apply = !strcmp(argv[1], "apply");
    const char *backend = env_or("MLFLOW_BACKEND_STORE_URI", "sqlite:///mlflow.db");
    const char *destination = env_or("MLFLOW_ARTIFACTS_DESTINATION", NULL);
    const char *model = NULL, *version = NULL, *alias = NULL, *output = "yaml";
    mfd_kserve_settings settings = {"default", "mlflow-kserve", "kserve-mlserver", NULL};
    mfd_kserve_cluster cluster = {NULL, "/var/run/secrets/kubernetes.io/serviceaccount/token",
                                  "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"};
    const mfd_cli_option options[] = {
        {"--backend-store-uri", "MLFLOW_BACKEND_STORE_URI", MFD_CLI_STRING, &backend,
         "the tracking database (sqlite:///mlflow.db)"},
        {"--artifacts-destination", "MLFLOW_ARTIFACTS_DESTINATION", MFD_CLI_STRING, &destination,
         "s3://bucket[/prefix] that mlflow-artifacts:/ locations live in"},
        {"--name", NULL, MFD_CLI_STRING, &model, "registered model name"},
        {"--version", NULL, MFD_CLI_STRING, &version, "model version"},
        {"--alias", NULL, MFD_CLI_STRING, &alias, "model alias (instead of --version)"},
        {"--namespace", "MLFLOWD_KSERVE_NAMESPACE", MFD_CLI_STRING, &settings.namespace,
         "namespace of the InferenceService (default)"},
        {"--service-account", "MLFLOWD_KSERVE_SERVICE_ACCOUNT", MFD_CLI_STRING,
         &settings.service_account, "predictor service account with the S3 secret"},
        {"--runtime", "MLFLOWD_KSERVE_RUNTIME", MFD_CLI_STRING, &settings.runtime,
         "serving runtime (kserve-mlserver; empty = auto-select)"},
        {"--output", NULL, MFD_CLI_STRING, &output, "yaml or json (yaml)"},
        {"--api-url", "MLFLOWD_KSERVE_API_URL", MFD_CLI_STRING, &cluster.api_url,
         "apply: Kubernetes API server (in a pod: from KUBERNETES_SERVICE_HOST)"},
        {"--token-file", "MLFLOWD_KSERVE_TOKEN_FILE", MFD_CLI_STRING, &cluster.token_file,
         "apply: bearer token file (the pod's service account token)"},
        {"--ca-file", "MLFLOWD_KSERVE_CA_FILE", MFD_CLI_STRING, &cluster.ca_file,
         "apply: CA certificates of the API server"},
    };
    const mfd_cli cli = {
        do_apply ? "mlflowd kserve apply --name MODEL (--version N | --alias A) [OPTIONS]"
                 : "mlflowd kserve manifest --name MODEL (--version N | --alias A) [OPTIONS]",
        "Prints (manifest) or creates/updates with server-side apply, field manager mlflowd "
        "(apply), the KServe InferenceService serving a registered model version: modelFormat "
        "mlflow, protocol v2, storageUri the version's artifacts resolved to s3://.",
        options, sizeof options / sizeof options[0]};
    bool stop;
    int rc = mfd_cli_parse(&cli, argc - 1, argv + 1, &stop);
    if (stop)
        return rc;
    /* Exit statuses as `mlflowd admin`'s: 2 = bad usage (a required flag missing), 1 = failed,
     * a value that cannot be used included. */
    bool has_version = version && *version, has_alias = alias && *alias;
    if (!model || !*model || has_version == has_alias) {
        fprintf(stderr, "mlflowd kserve: give --name and exactly one of --version and --alias\n");
        return 2;
    }
    if (strcmp(output, "yaml") != 0 && strcmp(output, "json") != 0) {
        fprintf(stderr, "mlflowd kserve: --output '%s': yaml or json\n", output);
        return 1;
    }
    mfd_kserve_target target = {model, 0, has_alias ? alias : NULL};
    if (has_version) {
        char *end;
        errno = 0;
        target.version = strtoll(version, &end, 10);
        if (*end || errno == ERANGE || target.version <= 0) {
            fprintf(stderr, "mlflowd kserve: --version '%s' is not a version number\n", version);
            return 1;
        }
    }
    settings.artifacts_destination = destination;
    mfd_arena *arena = mfd_arena_new();
    mfd_db *db = NULL;
    mfd_conn *conn = NULL;
    json_t *manifest = NULL, *applied = NULL;
    mfd_err err = NULL;
    /* Opening would make an empty SQLite file where none is (a mistyped path). */
    const char *file = !strncmp(backend, "sqlite:///", 10) ? backend + 10 : NULL;
    if (file && *file && strcmp(file, ":memory:") != 0 && !strchr(file, '?') &&
        access(file, F_OK) != 0)
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "no tracking database at '%s' (%s)", file,
                          backend);
    if (!err)
        err = mfd_db_open(backend, 1, &db);
    if (!err)
        err = mfd_db_acquire(db, &conn);
    if (!err)
        err = mfd_kserve_manifest(conn, arena, &settings, &target, &manifest);
    mfd_db_release(db, conn);
    mfd_err not_ready;
    if (err && err->code == MFD_INTERNAL_ERROR && (not_ready = mfd_schema_tracking_ready(db))) {
        /* a database never upgraded, or not MLflow's: say so, not "no such table" */
        mfd_err_free(not_ready);
        mfd_err_free(err);
        err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                          "%s is no tracking database at MLflow's current schema: make or "
                          "upgrade it with `mlflowd db upgrade URI`",
                          mfd_db_uri(db));
    }
    if (!err && do_apply)
        err = mfd_kserve_apply(&cluster, arena, manifest, &applied);
    if (!err) {
        const json_t *shown = applied ? applied : manifest;
        if (!strcmp(output, "json")) {
            char *text = json_dumps(shown, JSON_INDENT(2));
            printf("%s\n", text ? text : "{}");
            free(text);
        } else {
            fputs(mfd_kserve_yaml(arena, shown), stdout);
        }
    }
    json_decref(manifest);
    json_decref(applied);
    if (db)
        mfd_db_close(db);
    mfd_arena_free(arena);
    return err ? mfd_cli_fail(err) : 0;
}
