/* Fuzz target: every search grammar (runs, experiments, registered models,
 * model versions, logged models) and both page-token formats. Input layout:
 * byte 0 picks the grammar; the rest is split at '\n' into the filter and
 * order_by elements. Any outcome but a crash, leak or a non-400 error is fine. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "search/search.h"

static void check(mfd_err err) {
    if (err && err->code != MFD_INVALID_PARAMETER_VALUE)
        abort(); /* every search error must be a 400 */
    mfd_err_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    mfd_arena *arena = mfd_arena_new();
    char *text = mfd_arena_strndup(arena, (const char *)data + 1, size - 1);
    const char *parts[9] = {0};
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(text, "\n", &save); tok && n < 9; tok = strtok_r(NULL, "\n", &save))
        parts[n++] = tok;
    mfd_search_input in = {.filter = n ? parts[0] : NULL,
                           .order_by = n > 1 ? parts + 1 : NULL,
                           .n_order_by = n > 1 ? n - 1 : 0};
    mfd_search_sql out;
    memset(&out, 0, sizeof out);
    int64_t offset;
    switch (data[0] % 7) {
    case 0: { /* SQLite's form, or PostgreSQL's (with its window), a scope, its indexes */
        static const int64_t ids[] = {1, 2};
        mfd_search_scope scope = {.experiment_ids = ids,
                                  .n_experiment_ids = (data[0] & 16) ? 2 - (data[0] & 1) : 0,
                                  .only_its_runs = (data[0] & 32) != 0,
                                  .experiment_indexes = (data[0] & 128) != 0,
                                  .page_rows = (data[0] & 64) ? 100 : 0};
        scope.by_experiment = (data[0] & 4) != 0;
        if (data[0] & 8)
            check(mfd_search_runs_candidates_first(arena, &in, &scope, &out));
        else
            check(mfd_search_runs_in_scope(arena, &in, &scope, &out));
        break;
    }
    case 1:
        check(mfd_search_experiments(arena, &in, &out));
        break;
    case 2:
        check(mfd_search_registered_models(arena, &in, &out));
        break;
    case 3:
        check(mfd_search_model_versions(arena, &in, &out));
        break;
    case 4: {
        mfd_logged_model_order order[8];
        for (size_t i = 1; i < n; i++) {
            order[i - 1].field_name = parts[i];
            order[i - 1].ascending = i & 1;
            order[i - 1].dataset_name = (i & 2) ? "ds" : NULL;
            order[i - 1].dataset_digest = NULL;
        }
        mfd_logged_model_dataset ds = {"ds", (data[0] & 8) ? "abc" : NULL};
        mfd_logged_model_search_input lin = {.filter = in.filter,
                                             .order_by = order,
                                             .n_order_by = n > 1 ? n - 1 : 0,
                                             .datasets = &ds,
                                             .n_datasets = (data[0] & 16) ? 1 : 0};
        check(mfd_search_logged_models(arena, &lin, &out));
        break;
    }
    case 5:
        check(mfd_page_token_decode(in.filter, &offset));
        break;
    case 6: {
        const char *ids[] = {"1", "2"};
        mfd_logged_model_page page = {ids, 2, NULL, NULL, 0};
        check(mfd_logged_model_token_decode(in.filter, &page, &offset));
        break;
    }
    }
    mfd_arena_free(arena);
    return 0;
}
