/* run_cache.h — the run-search cache (PostgreSQL): the runs of the
 * experiments that searches read, with the metric, param and tag values
 * their filters and orders use, kept in memory, so that a filtered or
 * metric-ordered search picks its page in memory and reads only the page's
 * runs from the database (over 100,000 runs, ~70 ms of index reads become
 * ~2 ms).
 *
 * Kept right across replicas by mlflowd's triggers (schema_triggers.c): each
 * committed change to runs, latest_metrics, params or tags is logged with
 * the runs it touched, whoever wrote it. Before it answers, a search reads
 * the log from where the last reading stopped (the rows of the transactions
 * that reading's snapshot could not see), so every change committed before
 * the search began is seen, then reads those runs again. A poller does the same every second, so
 * quiet times leave little to catch up. Anything it cannot vouch for (the log not read for minutes,
 * a TRUNCATE, more changes than reading again is worth) drops the experiment, and the SQL answers
 * until it is loaded again.
 *
 * Loading is in the background: a search the cache cannot answer yet goes to
 * SQL and asks for the experiment (and the columns it needs) to be loaded.
 * Memory is bounded (`--search-cache-mb`): the least recently searched
 * experiments are dropped first. */
#ifndef MFD_STORE_RUN_CACHE_H
#define MFD_STORE_RUN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "db.h"
#include "search/search.h"

typedef struct mfd_run_cache mfd_run_cache;

/* The cache over a PostgreSQL tracking database, or NULL (and a log line
 * saying why) when it cannot be kept right: not PostgreSQL, max_bytes 0. */
mfd_run_cache *mfd_run_cache_start(mfd_db *db, size_t max_bytes);
void mfd_run_cache_stop(mfd_run_cache *cache);

/* The page of a search in the experiments: run ids in order, from `offset`,
 * at most `limit`, or *answered false when the cache cannot answer it now
 * (the caller runs the SQL). `conn` (outside any transaction) reads the
 * change log and the changed runs. */
typedef struct mfd_run_cache_query {
    const mfd_run_plan *plan;
    const int64_t *experiment_ids;
    size_t n_experiment_ids;
    bool active, deleted;
    int64_t offset, limit;
} mfd_run_cache_query;
mfd_err mfd_run_cache_page(mfd_run_cache *cache, mfd_conn *conn, mfd_arena *arena,
                           const mfd_run_cache_query *q, const char ***ids, size_t *count,
                           bool *answered);

typedef struct mfd_run_cache_stats {
    uint64_t hits, misses; /* searches answered, and not */
    uint64_t runs, bytes;  /* held now */
    uint64_t experiments;
} mfd_run_cache_stats;
void mfd_run_cache_get_stats(mfd_run_cache *cache, mfd_run_cache_stats *out);

#endif
