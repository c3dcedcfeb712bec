/* inputs.h — datasets and the input/output edges of runs (schema.md §2
 * `datasets`, `inputs`, `input_tags`): what runs/log-inputs and runs/outputs
 * write and what GetRun/SearchRuns report as inputs and outputs. */
#ifndef MFD_STORE_INPUTS_H
#define MFD_STORE_INPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "key_value.h"
#include "db.h"

typedef struct mfd_dataset {
    const char *name, *digest, *source_type, *source;
    const char *schema, *profile; /* NULL when absent */
} mfd_dataset;

typedef struct mfd_dataset_input {
    mfd_dataset dataset;
    const mfd_key_value *tags;
    size_t n_tags;
} mfd_dataset_input;

typedef struct mfd_model_output {
    const char *model_id;
    int64_t step;
} mfd_model_output;

/* Everything a Run message carries in `inputs` and `outputs`. */
typedef struct mfd_run_io {
    mfd_dataset_input *datasets;
    size_t n_datasets;
    const char **model_inputs; /* model ids */
    size_t n_model_inputs;
    mfd_model_output *model_outputs;
    size_t n_model_outputs;
} mfd_run_io;

/* runs/log-inputs (rest-api.md §5.12), in one transaction: the run must exist
 * (404) and be active (400). Datasets are de-duplicated by (name, digest)
 * keeping the first; an existing dataset row with that name and digest is
 * reused; a DATASET->RUN edge and its tags are written only when new. */
mfd_err mfd_inputs_log(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                       const mfd_dataset_input *datasets, size_t n_datasets,
                       const char *const *model_ids, size_t n_models);

/* runs/outputs: RUN_OUTPUT->MODEL_OUTPUT edges with their step. */
mfd_err mfd_inputs_log_outputs(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                               const mfd_model_output *models, size_t count);

/* Fills out[i] for the run at position i of the page: dataset inputs with
 * their tags, model outputs and (when with_model_inputs) model inputs, in a
 * few set-based queries. */
struct mfd_run_ids;
mfd_err mfd_inputs_load(mfd_conn *conn, mfd_arena *arena, const struct mfd_run_ids *ids,
                        bool with_model_inputs, mfd_run_io *out);

#endif
