/* registry_search.c — the result pages of registered-models/search and
 * model-versions/search: the SQL fragments compiled by src/search against
 * `registered_models rm` / `model_versions mv`, paged with LIMIT/OFFSET,
 * then completed with their children.
 *
 * Invariants kept here:
 * - the page query is a plain ORDER BY ... LIMIT so the engine can stop
 *   early (a top-N sort, or an index walk when ordering by name);
 * - children are fetched per page with one query per kind (chunks of names
 *   for version tags), never one query per row, and always through the tag
 *   tables' primary keys (see MFD_TAG_KEYS_CTE);
 * - page and children are read in one read transaction. */
#include <stdlib.h>
#include <string.h>

#include "registry_internal.h"

enum { NAMES_PER_QUERY = 500 };

static mfd_err prepare_page(mfd_conn *conn, mfd_arena *arena, const char *fmt,
                            const mfd_search_sql *search, int64_t offset, int64_t limit,
                            mfd_stmt **stmt) {
    char *sql = mfd_arena_sprintf(arena, fmt, search->where, search->order_by);
    mfd_err err = mfd_conn_prepare(conn, sql, false, stmt);
    if (err)
        return err;
    /* where, then order_by: the order their values are in. */
    mfd_stmt_bind_params(*stmt, 1, &search->params);
    int index = (int)search->params.count + 1;
    mfd_stmt_bind_int64(*stmt, index, limit);
    mfd_stmt_bind_int64(*stmt, index + 1, offset);
    return NULL;
}

/* ---- version tags of a page ------------------------------------------------------------------ */

typedef struct version_entry {
    const char *name;
    int64_t version;
    mfd_model_version *mv;
    size_t tag_cap;
} version_entry;

static int compare_versions(const void *a, const void *b) {
    const version_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return (x->version > y->version) - (x->version < y->version);
}

/* Tags of every version of names sorted[first..] (up to NAMES_PER_QUERY
 * distinct names); rows of versions outside the page are skipped. Returns
 * the index after the last entry covered. */
static mfd_err load_tags_chunk(mfd_conn *conn, mfd_arena *arena, version_entry *sorted, size_t n,
                               size_t first, size_t *next) {
    mfd_strbuf sql;
    mfd_strbuf_init(&sql, arena);
    mfd_strbuf_append(&sql, "WITH RECURSIVE " MFD_TAG_KEYS_CTE(
                                "model_version_tags") " SELECT t.name, t.version, t.key, t.value "
                                                      "FROM k JOIN model_version_tags t ON t.key "
                                                      "= k.key WHERE t.name IN (");
    const char **names = mfd_arena_alloc(arena, NAMES_PER_QUERY * sizeof *names);
    size_t n_names = 0, i = first;
    for (; i < n; i++) {
        if (n_names > 0 && strcmp(names[n_names - 1], sorted[i].name) == 0)
            continue;
        if (n_names == NAMES_PER_QUERY)
            break;
        mfd_strbuf_append(&sql, n_names ? ", ?" : "?");
        names[n_names++] = sorted[i].name;
    }
    *next = i;
    mfd_strbuf_append(&sql, ") ORDER BY t.name, t.version, t.key");
    mfd_stmt *stmt;
    mfd_err err = mfd_conn_prepare(conn, sql.data, n_names == 1, &stmt);
    if (err)
        return err;
    for (size_t k = 0; k < n_names; k++)
        mfd_stmt_bind_text(stmt, (int)k + 1, names[k]);
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW) {
        version_entry key = {mfd_stmt_text(stmt, 0), mfd_stmt_int64(stmt, 1), NULL, 0};
        version_entry *hit =
            bsearch(&key, sorted + first, *next - first, sizeof key, compare_versions);
        if (hit)
            mfd_registry_add_tag(arena, stmt, 2, &hit->mv->tags, &hit->mv->n_tags, &hit->tag_cap);
    }
    mfd_stmt_done(stmt);
    return s == MFD_STEP_ERROR ? err : NULL;
}

static mfd_err attach_version_tags(mfd_conn *conn, mfd_arena *arena, mfd_model_version *versions,
                                   size_t n) {
    if (n == 0)
        return NULL;
    version_entry *sorted = mfd_arena_alloc(arena, n * sizeof *sorted);
    for (size_t i = 0; i < n; i++)
        sorted[i] = (version_entry){versions[i].name, versions[i].version, &versions[i], 0};
    qsort(sorted, n, sizeof *sorted, compare_versions);
    mfd_err err = NULL;
    for (size_t first = 0; !err && first < n;)
        err = load_tags_chunk(conn, arena, sorted, n, first, &first);
    return err;
}

/* ---- the pages ------------------------------------------------------------------------------- */

/* What tells the two searches apart: the page's SQL (where and order_by go
 * in its two %s), how a row becomes an item, how a page of items gets its
 * children. */
typedef struct page_kind {
    const char *sql;
    size_t item_size;
    void (*read_row)(mfd_arena *arena, mfd_stmt *stmt, void *item);
    mfd_err (*complete)(mfd_conn *conn, mfd_arena *arena, void *items, size_t n);
} page_kind;

static mfd_err read_page(mfd_conn *conn, mfd_arena *arena, const page_kind *kind,
                         const mfd_search_sql *search, int64_t offset, int64_t limit, void **out,
                         size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    if (search->match_nothing)
        return NULL;
    mfd_stmt *stmt;
    mfd_err err = prepare_page(conn, arena, kind->sql, search, offset, limit, &stmt);
    if (err)
        return err;
    if ((err = mfd_conn_begin(conn, false))) {
        mfd_stmt_done(stmt);
        return err;
    }
    char *items = NULL;
    size_t n = 0, cap = 0;
    mfd_step s;
    while ((s = mfd_stmt_step(stmt, &err)) == MFD_STEP_ROW) {
        items = mfd_arena_grow(arena, items, n, &cap, kind->item_size, 64);
        kind->read_row(arena, stmt, items + n++ * kind->item_size);
    }
    mfd_stmt_done(stmt);
    if (s != MFD_STEP_ERROR)
        err = kind->complete(conn, arena, items, n);
    mfd_conn_rollback(conn);
    if (err)
        return err;
    *out = items;
    *n_out = n;
    return NULL;
}

static void read_model_row(mfd_arena *arena, mfd_stmt *stmt, void *item) {
    mfd_registry_read_model(arena, stmt, item);
}

static mfd_err complete_models(mfd_conn *conn, mfd_arena *arena, void *items, size_t n) {
    return mfd_registry_complete_models(conn, arena, items, n);
}

static void read_version_row(mfd_arena *arena, mfd_stmt *stmt, void *item) {
    mfd_registry_read_version(arena, stmt, item);
}

static mfd_err complete_versions(mfd_conn *conn, mfd_arena *arena, void *items, size_t n) {
    return attach_version_tags(conn, arena, items, n);
}

mfd_err mfd_registry_search_models(mfd_conn *conn, mfd_arena *arena, const mfd_search_sql *search,
                                   int64_t offset, int64_t limit, mfd_registered_model **out,
                                   size_t *n_out) {
    static const page_kind models = {
        "SELECT rm.name, rm.creation_time, rm.last_updated_time, rm.description "
        "FROM registered_models rm WHERE (%s) ORDER BY %s LIMIT ? OFFSET ?",
        sizeof **out, read_model_row, complete_models};
    void *items;
    mfd_err err = read_page(conn, arena, &models, search, offset, limit, &items, n_out);
    *out = items;
    return err;
}

mfd_err mfd_registry_search_versions(mfd_conn *conn, mfd_arena *arena, const mfd_search_sql *search,
                                     int64_t offset, int64_t limit, mfd_model_version **out,
                                     size_t *n_out) {
    static const page_kind versions = {
        "SELECT " MFD_MV_COLUMNS " FROM model_versions mv WHERE (%s) ORDER BY %s LIMIT ? OFFSET ?",
        sizeof **out, read_version_row, complete_versions};
    void *items;
    mfd_err err = read_page(conn, arena, &versions, search, offset, limit, &items, n_out);
    *out = items;
    return err;
}
