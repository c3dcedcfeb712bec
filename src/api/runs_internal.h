/* runs_internal.h — what the files of the runs service share (runs.c,
 * runs_batch.c, runs_search.c, runs_json.c, metrics.c) and nobody else sees:
 * the Run message encoders, MLflow's key/length rules with JSON-path names,
 * and the handlers that runs.c lists in its route table. */
#ifndef MFD_API_RUNS_INTERNAL_H
#define MFD_API_RUNS_INTERNAL_H

#include <jansson.h>

#include "api.h"
#include "message.h"
#include "store/metrics.h"
#include "store/runs.h"

/* Limits of rest-api.md §5 (in characters). */
enum {
    MFD_RUNS_MAX_KEY_LENGTH = 250,
    MFD_RUNS_MAX_PARAM_VALUE_LENGTH = 6000,
    MFD_RUNS_MAX_TAG_VALUE_LENGTH = 8000,
};

extern const mfd_enum_value mfd_api_run_status_values[];

/* Response shapes of rest-api.md §2, appended as JSON text; fields unset in
 * the store are omitted. */
void mfd_api_append_run_info(mfd_strbuf *sb, const mfd_run_info *info);
/* {info, data, inputs[, outputs]} */
void mfd_api_append_run(mfd_strbuf *sb, const mfd_run *run, bool with_outputs);

/* A metric/param/tag key: MLflow's name rule (upstream's wording with the
 * JSON path of the field, e.g. "metrics[3].name") and the 250-character limit
 * reported under `length_name` ("Metric name", "Param key", "tags[0].key"). */
mfd_err mfd_api_check_key(const char *key, const char *path, const char *length_name);
/* upstream _validate_metric, in its order: the name rule, a nonnegative
 * timestamp (the message quotes the value as Python's repr), the length. */
mfd_err mfd_api_check_metric(mfd_arena *arena, const mfd_metric_log *m, const char *name_path,
                             const char *timestamp_path);

/* A run param or tag value (NULL as "") of at most `limit` characters (code
 * points) in *value. A longer one is cut to the limit when `truncate`, as
 * MLflow does by default, or else (MLFLOW_TRUNCATE_LONG_VALUES false, the
 * config's truncate_long_values) refused:
 * "<what> '<first 250>' had length N, which exceeded length limit of L". */
mfd_err mfd_api_limit_value(mfd_arena *arena, bool truncate, const char *what, size_t limit,
                            const char **value);

/* "Invalid value <json> for parameter '<path>' supplied: <detail>" */
mfd_err mfd_api_invalid_value(const char *path, json_t *value, const char *detail);

/* A metric value as JSON text at `out` (no NUL; returns the length): "NaN",
 * "Infinity", "-Infinity" as strings, finite values as numbers that read
 * back as the same double (core/number_text.h). */
size_t mfd_api_format_metric_value(char out[32], double value, bool is_nan);

/* Handlers of runs.c's route table that live in the other files. */
mfd_err mfd_api_runs_search(mfd_request *req, mfd_response *res);
mfd_err mfd_api_runs_log_batch(mfd_request *req, mfd_response *res);
mfd_err mfd_api_runs_log_inputs(mfd_request *req, mfd_response *res);
mfd_err mfd_api_runs_log_outputs(mfd_request *req, mfd_response *res);

#endif
