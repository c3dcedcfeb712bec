/* gate.c — the authorization step of auth.md §2 steps 3–5 for one request.
 *
 * In two phases, so no request ever holds an auth-DB connection while it
 * waits for a tracking-DB one (the reverse order happens in the post-hooks,
 * and two pools taken in both orders could deadlock):
 *   1. plan: read the resource ids the rule names and resolve runs, logged
 *      models and traces to their experiment (tracking DB, or the resource
 *      cache for the immutable run/model -> experiment mapping);
 *   2. decide: re-read the user's row when the credentials came from the
 *      cache (a changed password, a deleted user or a changed admin flag
 *      shows at once), then look up the user's level on each resource — from
 *      the rows remembered in the decision cache while the auth DB has not
 *      changed (decision_cache.h), else in one read transaction.
 * Admins skip phase 2's checks; an error of phase 1 (missing parameter, run
 * not found) is only answered once the user is known not to be an admin,
 * since upstream never validates an admin's request. */
#include <string.h>

#include "api/message.h"
#include "api/uri.h"
#include "artifacts/repo.h"
#include "auth_internal.h"
#include "sso.h"
#include "store/auth_store.h"

typedef enum { PLAN_ALLOW, PLAN_DENY, PLAN_CHECKS, PLAN_DEFAULT, PLAN_SELF, PLAN_REDUCE } plan_kind;

typedef struct check_item {
    mfd_auth_kind kind;
    const char *key[2];
    mfd_permission need;
} check_item;

typedef struct plan {
    plan_kind kind;
    mfd_permission need;
    check_item *items;
    size_t n, cap;
    const char *self; /* PLAN_SELF: the username the request is about */
} plan;

mfd_auth_request *mfd_auth_request_state(mfd_auth *auth, mfd_request *req) {
    if (!req->auth_state) {
        mfd_auth_request *st = mfd_arena_calloc(req->arena, 1, sizeof *st);
        mfd_auth_rule_find(req, auth->config->static_prefix, &st->match);
        req->auth_state = st;
    }
    return req->auth_state;
}

/* A row read after this is filed under a version that is already stale if
 * the row changed in between, so it is never used. */
uint64_t mfd_auth_data_version(mfd_auth *auth, mfd_auth_request *st) {
    if (!st->version_read) {
        st->version = auth->decisions ? mfd_db_data_version(auth->db) : 0;
        st->version_read = true;
    }
    return st->version;
}

static void add_check_at(mfd_request *req, plan *p, mfd_auth_kind kind, const char *key0,
                         const char *key1, mfd_permission need) {
    if (kind == MFD_AUTH_EXPERIMENT || kind == MFD_AUTH_SCORER)
        key0 = mfd_auth_experiment_key(req->arena, key0);
    p->items = mfd_arena_grow(req->arena, p->items, p->n, &p->cap, sizeof *p->items, 4);
    p->items[p->n++] = (check_item){kind, {key0, key1}, need};
    p->kind = PLAN_CHECKS;
}

static void add_check(mfd_request *req, plan *p, mfd_auth_kind kind, const char *key0,
                      const char *key1) {
    add_check_at(req, p, kind, key0, key1, p->need);
}

/* The experiment of a run or logged model: the resource cache, else the
 * tracking DB (404 when it does not exist). Logged models skip the cache: a
 * deleted one is 404, not its experiment's answer (runs stay readable when
 * deleted, and never change experiment). */
static mfd_err experiment_of(mfd_auth *auth, mfd_request *req, const char *id, bool logged_model,
                             const char **experiment_id) {
    int64_t cached;
    if (!logged_model && mfd_resource_cache_get(auth->resources, id, &cached)) {
        *experiment_id = mfd_arena_sprintf(req->arena, "%lld", (long long)cached);
        return NULL;
    }
    mfd_conn *conn;
    mfd_err err = mfd_api_conn(req, &conn);
    if (!err)
        err = logged_model
                  ? mfd_auth_store_logged_model_experiment(conn, req->arena, id, experiment_id)
                  : mfd_auth_store_run_experiment(conn, req->arena, id, experiment_id);
    int64_t number;
    if (!err && !logged_model && mfd_parse_int64(*experiment_id, &number))
        mfd_resource_cache_put(auth->resources, id, number);
    return err;
}

static mfd_err query_required(const mfd_request *req, const char *name, const char *alt,
                              const char *message, const char **out) {
    *out = mfd_auth_query_first(req, name);
    if ((!*out || !**out) && alt)
        *out = mfd_auth_query_first(req, alt);
    if (!*out || !**out)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "%s", message);
    return NULL;
}

/* The experiment named by an artifact path: its first segment when that is
 * all digits, read from the path as the artifact store will (normalised:
 * "./1/x" and "1//x" are in experiment 1, and so is the listing of "1").
 * MLflow matches `^\d+/` on the text as sent, so a leading "./" falls back
 * to the default permission there. A path the store refuses needs no check. */
static void plan_artifact_path(mfd_request *req, plan *p, const char *path) {
    const char *rel = NULL;
    mfd_err bad = path ? mfd_artifact_path_normalize(req->arena, path, strlen(path), &rel) : NULL;
    mfd_err_free(bad);
    size_t digits = 0;
    while (rel && rel[digits] >= '0' && rel[digits] <= '9')
        digits++;
    if (digits == 0 || (rel[digits] != '/' && rel[digits] != '\0'))
        p->kind = PLAN_DEFAULT;
    else
        add_check(req, p, MFD_AUTH_EXPERIMENT, mfd_arena_strndup(req->arena, rel, digits), NULL);
}

/* model-versions/create: the rule's level on the registered model, and READ
 * on the run and logged models the version is made from (its run_id and
 * model_id, and a source models:/<model_id>) and on a registered model whose
 * version is its source (models:/<name>/<version>); the version's files are
 * checked where they are read, mfd_auth_require_read. Upstream asks only the
 * first, so anyone with a model of their own could link another user's
 * logged model, write its mlflow.modelVersions tag, and learn where its files
 * are. An id that names nothing, or a source the handler refuses, is left to
 * the handler, which answers as upstream does. */
static mfd_err plan_new_version(mfd_auth *auth, mfd_request *req, plan *p) {
    const char *name, *ids[3] = {NULL, NULL, NULL}, *experiment_id;
    mfd_model_version_new source = {0};
    mfd_err err;
    if ((err = mfd_auth_param(req, "name", &name)) ||
        (err = mfd_msg_string(req, "run_id", &ids[0])) ||
        (err = mfd_msg_string(req, "model_id", &ids[1])) ||
        (err = mfd_msg_string(req, "source", &source.source)))
        return err;
    add_check(req, p, MFD_AUTH_REGISTERED_MODEL, name, NULL);
    if (source.source && !(err = mfd_uri_parse_models_source(req->arena, &source))) {
        if (source.source_kind == MFD_SOURCE_LOGGED_MODEL)
            ids[2] = source.source_model_id;
        else if (source.source_kind == MFD_SOURCE_MODEL_VERSION)
            add_check_at(req, p, MFD_AUTH_REGISTERED_MODEL, source.source_name, NULL,
                         MFD_PERM_READ);
    }
    mfd_err_free(err);
    for (int i = 0; i < 3; i++) {
        if (!ids[i] || !*ids[i])
            continue;
        err = experiment_of(auth, req, ids[i], i > 0, &experiment_id);
        if (err && err->code == MFD_RESOURCE_DOES_NOT_EXIST) {
            mfd_err_free(err);
            continue;
        }
        if (err)
            return err;
        add_check_at(req, p, MFD_AUTH_EXPERIMENT, experiment_id, NULL, MFD_PERM_READ);
    }
    return NULL;
}

static mfd_err plan_each_run(mfd_auth *auth, mfd_request *req, plan *p) {
    for (size_t i = 0; i < req->n_query; i++) {
        if (strcmp(req->query[i].key, "run_id") != 0 && strcmp(req->query[i].key, "run_ids") != 0)
            continue;
        const char *experiment_id;
        mfd_err err = experiment_of(auth, req, req->query[i].value, false, &experiment_id);
        if (err)
            return err;
        add_check(req, p, MFD_AUTH_EXPERIMENT, experiment_id, NULL);
    }
    if (p->n == 0)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "GetMetricHistoryBulk request must specify at least one run_id.");
    return NULL;
}

/* Phase 1: what must be checked, from the request and the tracking DB. */
static mfd_err make_plan(mfd_auth *auth, mfd_request *req, const mfd_rule_match *m, plan *p) {
    const char *a = NULL, *b = NULL;
    mfd_conn *conn;
    mfd_err err = NULL;
    p->need = (mfd_permission)m->rule->need;
    switch ((mfd_rule_resource)m->rule->resource) {
    case MFD_RES_NONE:
        p->kind = PLAN_ALLOW;
        return NULL;
    case MFD_RES_NOBODY:
        p->kind = PLAN_DENY;
        return NULL;
    case MFD_RES_SELF:
        p->kind = PLAN_SELF;
        return mfd_auth_param(req, "username", &p->self);
    case MFD_RES_EXPERIMENT_ID:
        if (!(err = mfd_auth_param(req, "experiment_id", &a)))
            add_check(req, p, MFD_AUTH_EXPERIMENT, a, NULL);
        return err;
    case MFD_RES_NEW_RUN: /* absent: upstream's 400; "": the experiment the run goes to */
        if (!(err = mfd_auth_param(req, "experiment_id", &a)))
            add_check(req, p, MFD_AUTH_EXPERIMENT, mfd_api_new_run_experiment(a), NULL);
        return err;
    case MFD_RES_EXPERIMENT_NAME:
        if (!(err = mfd_auth_param(req, "experiment_name", &a)) &&
            !(err = mfd_api_conn(req, &conn)))
            err = mfd_auth_store_experiment_by_name(conn, req->arena, a, &b);
        if (!err)
            add_check(req, p, MFD_AUTH_EXPERIMENT, b, NULL);
        return err;
    case MFD_RES_RUN:
        if (!(err = mfd_auth_param_run_id(req, &a)) &&
            !(err = experiment_of(auth, req, a, false, &b)))
            add_check(req, p, MFD_AUTH_EXPERIMENT, b, NULL);
        return err;
    case MFD_RES_RUN_QUERY:
        if (!(err = query_required(req, "run_id", "run_uuid",
                                   "Request must specify run_id or run_uuid parameter", &a)) &&
            !(err = experiment_of(auth, req, a, false, &b)))
            add_check(req, p, MFD_AUTH_EXPERIMENT, b, NULL);
        return err;
    case MFD_RES_RUN_UUID_QUERY: /* not run_id first: the handler writes to run_uuid's run */
        if (!(err = query_required(req, "run_uuid", NULL, "Request must specify run_uuid.", &a)) &&
            !(err = experiment_of(auth, req, a, false, &b)))
            add_check(req, p, MFD_AUTH_EXPERIMENT, b, NULL);
        return err;
    case MFD_RES_RUN_IDS_QUERY:
        return plan_each_run(auth, req, p);
    case MFD_RES_MODEL_NAME:
        if (!(err = mfd_auth_param(req, "name", &a)))
            add_check(req, p, MFD_AUTH_REGISTERED_MODEL, a, NULL);
        return err;
    case MFD_RES_MODEL_VERSION_NEW:
        return plan_new_version(auth, req, p);
    case MFD_RES_MODEL_NAME_QUERY:
        if (!(err = query_required(req, "name", NULL, "Request must specify name parameter", &a)))
            add_check(req, p, MFD_AUTH_REGISTERED_MODEL, a, NULL);
        return err;
    case MFD_RES_LOGGED_MODEL:
        if (!(err = experiment_of(auth, req, m->segment, true, &b)))
            add_check(req, p, MFD_AUTH_EXPERIMENT, b, NULL);
        return err;
    case MFD_RES_SCORER:
    case MFD_RES_SCORER_GRANT:
        if (!(err = mfd_auth_param(req, "experiment_id", &a)))
            err = mfd_auth_param(req, m->rule->resource == MFD_RES_SCORER ? "name" : "scorer_name",
                                 &b);
        if (!err)
            add_check(req, p, MFD_AUTH_SCORER, a, b);
        return err;
    case MFD_RES_ARTIFACT_PATH:
        plan_artifact_path(req, p, m->tail);
        return NULL;
    case MFD_RES_ARTIFACT_QUERY: /* the listing: its path may be in a GET's body */
        if (!(err = mfd_auth_param_optional(req, "path", &a)))
            plan_artifact_path(req, p, a);
        return err;
    case MFD_RES_EXPERIMENT_IDS: {
        const char **ids = NULL;
        size_t n = 0;
        err = mfd_msg_string_list(req, "experiment_ids", &ids, &n);
        if (!err && n == 0)
            err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                              "SearchDatasets request must specify at least one experiment_id.");
        for (size_t i = 0; !err && i < n; i++)
            add_check(req, p, MFD_AUTH_EXPERIMENT, ids[i], NULL);
        return err;
    }
    case MFD_RES_PROMPTLAB:
        err = mfd_auth_json_text(req, json_object_get(mfd_msg_body(req), "experiment_id"),
                                 "experiment_id", &a);
        if (!err && (!a || !*a))
            err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                              "CreatePromptlabRun request must specify experiment_id.");
        if (!err)
            add_check(req, p, MFD_AUTH_EXPERIMENT, a, NULL);
        return err;
    case MFD_RES_TRACE_QUERY:
        if (!(err = query_required(req, "request_id", NULL,
                                   "Request must specify request_id parameter", &a)) &&
            !(err = mfd_api_conn(req, &conn)))
            err = mfd_auth_store_trace_experiment(conn, req->arena, a, &b);
        if (!err)
            add_check(req, p, MFD_AUTH_EXPERIMENT, b, NULL);
        return err;
    case MFD_RES_RUNS_SEARCH:
    case MFD_RES_LOGGED_MODELS_SEARCH:
        p->kind = PLAN_REDUCE;
        return NULL;
    }
    p->kind = PLAN_ALLOW;
    return NULL;
}

/* --- rows remembered between requests (decision_cache.h) ------------------ */

/* Cache keys: a tag, then each part as <length>:<bytes>, so no two
 * different lists of parts make the same key. Built by hand: formatting
 * them with printf cost as much as the rest of the decision. */
static const char *fact_key(mfd_request *req, char tag, const char *const *parts, size_t n) {
    size_t lens[5], total = 2;
    for (size_t i = 0; i < n; i++) {
        lens[i] = parts[i] ? strlen(parts[i]) : 0;
        total += lens[i] + 21;
    }
    char *key = mfd_arena_alloc(req->arena, total), *p = key;
    *p++ = tag;
    for (size_t i = 0; i < n; i++) {
        char digits[20];
        int d = 0;
        size_t len = lens[i];
        do
            digits[d++] = (char)('0' + len % 10);
        while ((len /= 10) > 0);
        while (d > 0)
            *p++ = digits[--d];
        *p++ = ':';
        memcpy(p, parts[i] ? parts[i] : "", lens[i]);
        p += lens[i];
    }
    *p = '\0';
    return key;
}

/* The user's permission row on one resource. */
static const char *grant_fact_key(mfd_request *req, const check_item *c) {
    const char kind[2] = {(char)('0' + (int)c->kind), '\0'};
    const char *parts[] = {kind, c->key[0], c->key[1], req->username};
    return fact_key(req, 'p', parts, 4);
}

static void remember(mfd_auth *auth, uint64_t version, const char *key, bool found,
                     int64_t number) {
    mfd_auth_fact fact = {found, number};
    if (auth->decisions)
        mfd_decision_cache_put(auth->decisions, key, version, &fact);
}

/* The user's row, re-read for cached credentials: found only while it still
 * holds the hash they were verified against. Kept in their cache entry. */
static void confirmed(mfd_auth *auth, uint64_t version, mfd_request *req, mfd_auth_request *st,
                      int64_t user_id, bool is_admin) {
    st->pending = false;
    st->user_id = user_id;
    req->is_admin = is_admin;
    if (auth->decisions)
        mfd_credential_cache_note_row(auth->cache, st->credential, req->username, st->password_hash,
                                      version, user_id, is_admin);
}

/* The level a permission row gives, as decide_on reckons it. */
static bool grant_allows(mfd_auth *auth, const mfd_auth_request *st, const check_item *item,
                         bool found, mfd_permission row) {
    mfd_permission have =
        mfd_auth_effective(auth, st, found, found ? row : MFD_PERM_NO_PERMISSIONS);
    return have >= item->need && have != MFD_PERM_NO_PERMISSIONS;
}

/* Phase 2 from remembered rows alone, with no auth-DB statement; false (and
 * nothing changed) when a row it needs is not remembered. The user's row is
 * known already unless st->pending (credential_cache.h). Searches, which
 * read all the user's rows of a kind, always go to the DB. */
static bool decide_remembered(mfd_auth *auth, uint64_t version, mfd_request *req,
                              mfd_auth_request *st, const plan *p, bool *allowed) {
    if (!auth->decisions || p->kind == PLAN_REDUCE || st->pending)
        return false;
    bool ok = true;
    if (!req->is_admin) {
        switch (p->kind) {
        case PLAN_ALLOW:
        case PLAN_REDUCE:
            break;
        case PLAN_DENY:
            ok = false;
            break;
        case PLAN_DEFAULT:
            ok = mfd_auth_effective(auth, st, false, MFD_PERM_NO_PERMISSIONS) >= p->need;
            break;
        case PLAN_SELF:
            ok = p->self && strcmp(p->self, req->username) == 0;
            break;
        case PLAN_CHECKS:
            for (size_t i = 0; i < p->n && ok; i++) {
                mfd_auth_fact grant;
                if (!mfd_decision_cache_get(auth->decisions, grant_fact_key(req, &p->items[i]),
                                            version, &grant))
                    return false;
                ok =
                    grant_allows(auth, st, &p->items[i], grant.found, (mfd_permission)grant.number);
            }
            break;
        }
    }
    *allowed = ok;
    return true;
}

/* Phase 2 for the common request — cached credentials, one resource — in
 * one statement. */
static mfd_err decide_one(mfd_auth *auth, uint64_t version, mfd_conn *conn, mfd_request *req,
                          mfd_auth_request *st, const plan *p, bool *allowed,
                          bool *unauthenticated) {
    mfd_auth_confirmed c;
    mfd_err err = mfd_auth_store_confirm_and_lookup(conn, p->items[0].kind, p->items[0].key,
                                                    req->username, st->password_hash, &c);
    if (err)
        return err;
    if (!c.user_found) {
        *unauthenticated = true;
        return NULL;
    }
    mfd_permission row =
        c.permission_found ? mfd_auth_level_of(c.permission) : MFD_PERM_NO_PERMISSIONS;
    remember(auth, version, grant_fact_key(req, &p->items[0]), c.permission_found, row);
    confirmed(auth, version, req, st, c.user_id, c.is_admin);
    *allowed = req->is_admin || grant_allows(auth, st, &p->items[0], c.permission_found, row);
    return NULL;
}

/* Phase 2 on one auth-DB connection. */
static mfd_err decide_on(mfd_auth *auth, uint64_t version, mfd_conn *conn, mfd_request *req,
                         mfd_auth_request *st, const plan *p, bool *allowed, bool *unauthenticated,
                         mfd_grant_set *grants) {
    mfd_err err = NULL;
    if (st->pending) {
        bool found = false, is_admin = false;
        int64_t user_id = 0;
        err = mfd_auth_store_confirm_user(conn, req->username, st->password_hash, &user_id,
                                          &is_admin, &found);
        if (err)
            return err;
        if (!found) {
            *unauthenticated = true;
            return NULL;
        }
        confirmed(auth, version, req, st, user_id, is_admin);
    }
    if (req->is_admin)
        return NULL;
    switch (p->kind) {
    case PLAN_ALLOW:
        return NULL;
    case PLAN_DENY:
        *allowed = false;
        return NULL;
    case PLAN_DEFAULT:
        *allowed = mfd_auth_effective(auth, st, false, MFD_PERM_NO_PERMISSIONS) >= p->need;
        return NULL;
    case PLAN_SELF:
        *allowed = p->self && strcmp(p->self, req->username) == 0;
        return NULL;
    case PLAN_REDUCE:
        grants->default_readable =
            mfd_auth_effective(auth, st, false, MFD_PERM_NO_PERMISSIONS) >= MFD_PERM_READ;
        grants->rows_only_raise = st->sso;
        return mfd_auth_list_grants(conn, req, MFD_AUTH_EXPERIMENT, grants);
    case PLAN_CHECKS:
        break;
    }
    for (size_t i = 0; !err && i < p->n && *allowed; i++) {
        char name[64];
        bool found = false;
        err = mfd_auth_store_lookup(conn, p->items[i].kind, p->items[i].key, req->username, name,
                                    sizeof name, &found);
        if (err)
            break;
        mfd_permission row = found ? mfd_auth_level_of(name) : MFD_PERM_NO_PERMISSIONS;
        remember(auth, version, grant_fact_key(req, &p->items[i]), found, row);
        *allowed = grant_allows(auth, st, &p->items[i], found, row);
    }
    return err;
}

static mfd_err decide(mfd_auth *auth, mfd_request *req, mfd_auth_request *st, const plan *p,
                      bool *allowed, bool *unauthenticated, mfd_grant_set *grants) {
    uint64_t version = mfd_auth_data_version(auth, st);
    if (decide_remembered(auth, version, req, st, p, allowed))
        return NULL;
    mfd_conn *conn;
    mfd_err err = mfd_db_acquire(auth->db, &conn);
    if (err)
        return err;
    if (st->pending && p->kind == PLAN_CHECKS && p->n == 1) {
        err = decide_one(auth, version, conn, req, st, p, allowed, unauthenticated);
        mfd_db_release(auth->db, conn);
        return err;
    }
    /* Several statements: one read transaction, so one consistent view and
     * one lock round-trip. */
    size_t statements = (st->pending ? 1 : 0) + (p->kind == PLAN_CHECKS   ? p->n
                                                 : p->kind == PLAN_REDUCE ? 1
                                                                          : 0);
    bool in_txn = statements > 1 && mfd_conn_begin(conn, false) == NULL;
    err = decide_on(auth, version, conn, req, st, p, allowed, unauthenticated, grants);
    if (in_txn) {
        if (err)
            mfd_conn_rollback(conn);
        else
            err = mfd_conn_commit(conn);
    }
    mfd_db_release(auth->db, conn);
    return err;
}

bool mfd_auth_needs_body(mfd_auth *auth, mfd_request *req) {
    const mfd_auth_rule *rule = mfd_auth_request_state(auth, req)->match.rule;
    if (!rule)
        return false;
    switch ((mfd_rule_resource)rule->resource) {
    case MFD_RES_SELF:
    case MFD_RES_EXPERIMENT_ID:
    case MFD_RES_NEW_RUN:
    case MFD_RES_EXPERIMENT_NAME:
    case MFD_RES_RUN:
    case MFD_RES_MODEL_NAME:
    case MFD_RES_MODEL_VERSION_NEW:
    case MFD_RES_SCORER:
    case MFD_RES_SCORER_GRANT:
    case MFD_RES_EXPERIMENT_IDS:
    case MFD_RES_ARTIFACT_QUERY:
        return mfd_auth_params_may_be_in_body(req);
    case MFD_RES_PROMPTLAB:
    case MFD_RES_RUNS_SEARCH:
    case MFD_RES_LOGGED_MODELS_SEARCH:
        return true;
    default:
        return false;
    }
}

/* Creating an experiment or registered model: SSO users need the
 * configured level ([sso] create_permission, EDIT by default). */
static bool is_creation(const mfd_auth_rule *rule) {
    return rule->resource == MFD_RES_NONE &&
           (rule->after == MFD_AFTER_GRANT_EXPERIMENT || rule->after == MFD_AFTER_GRANT_MODEL);
}

/* SSO users in authoritative mode: the mapped level is the level on every
 * resource, so no resource is looked up and no row is read. */
static mfd_err authorize_authoritative(mfd_request *req, mfd_auth_request *st, mfd_response *res,
                                       bool *refused) {
    const mfd_auth_rule *rule = st->match.rule;
    mfd_permission need = (mfd_permission)rule->need;
    bool allowed;
    const char *self = NULL;
    mfd_err err = NULL;
    switch ((mfd_rule_resource)rule->resource) {
    case MFD_RES_NONE:
        allowed = true;
        break;
    case MFD_RES_NOBODY:
        allowed = false;
        break;
    case MFD_RES_SELF:
        if ((err = mfd_auth_param(req, "username", &self)))
            return err;
        allowed = !strcmp(self, req->username);
        break;
    case MFD_RES_RUNS_SEARCH:
    case MFD_RES_LOGGED_MODELS_SEARCH:
        if (st->mapped < MFD_PERM_READ) {
            res->json = json_object(); /* nothing readable: an empty page */
            *refused = true;
        }
        return NULL;
    default:
        allowed = st->mapped >= need && st->mapped != MFD_PERM_NO_PERMISSIONS;
    }
    if (!allowed) {
        mfd_auth_refuse_forbidden(req, res);
        *refused = true;
    }
    return NULL;
}

mfd_err mfd_auth_authorize(mfd_auth *auth, mfd_request *req, mfd_response *res, bool *refused) {
    *refused = false;
    mfd_auth_request *st = mfd_auth_request_state(auth, req);
    if (!st->pending && (req->is_admin || !st->match.rule))
        return NULL;
    if (st->sso && is_creation(st->match.rule) &&
        st->mapped < mfd_sso_settings_of(auth->sso)->create_level) {
        mfd_auth_refuse_forbidden(req, res);
        *refused = true;
        return NULL;
    }
    if (st->sso && auth->sso_authoritative)
        return authorize_authoritative(req, st, res, refused);
    plan p = {.kind = PLAN_ALLOW};
    mfd_err plan_err = NULL;
    if (st->match.rule && !req->is_admin)
        plan_err = make_plan(auth, req, &st->match, &p);
    bool allowed = true, unauthenticated = false;
    mfd_grant_set grants = {0};
    mfd_err err = decide(auth, req, st, &p, &allowed, &unauthenticated, &grants);
    if (err || unauthenticated || req->is_admin) {
        mfd_err_free(plan_err); /* admins are never validated */
        if (unauthenticated) {
            mfd_auth_forget_user(auth, req->username);
            /* The row changed since the password was verified: another replica
             * re-hashed it (the same password set again) or re-created the
             * user. The password is checked against the row as it is now,
             * once, before the request is refused. */
            if (st->method == MFD_AUTH_METHOD_BASIC && !st->reverified) {
                st->reverified = true;
                st->pending = false;
                mfd_err again = mfd_auth_authenticate(auth, req, res, refused);
                return again || *refused ? again : mfd_auth_authorize(auth, req, res, refused);
            }
            mfd_auth_audit(req->username, "login", req->path, req->username,
                           "credentials changed since verified", "denied");
            mfd_auth_refuse_unauthenticated(req, res);
            *refused = true;
        }
        return err;
    }
    if (plan_err)
        return plan_err;
    if (p.kind == PLAN_REDUCE)
        return mfd_auth_reduce_experiment_ids(req, &grants, res, refused);
    if (!allowed) {
        mfd_auth_refuse_forbidden(req, res);
        *refused = true;
    }
    return NULL;
}

/* For handlers that act on what their route's rule does not name: the plan
 * decided as the gate decides its own. */
static mfd_err require_plan(mfd_auth *auth, mfd_request *req, mfd_response *res, plan *p,
                            bool *refused) {
    mfd_auth_request *st = mfd_auth_request_state(auth, req);
    bool allowed = true, unauthenticated = false;
    if (st->sso && auth->sso_authoritative) {
        allowed = st->mapped >= p->need && st->mapped != MFD_PERM_NO_PERMISSIONS;
    } else {
        mfd_grant_set grants = {0};
        mfd_err err = decide(auth, req, st, p, &allowed, &unauthenticated, &grants);
        if (err)
            return err;
    }
    if (!allowed || unauthenticated) {
        mfd_auth_refuse_forbidden(req, res);
        *refused = true;
    }
    return NULL;
}

mfd_err mfd_auth_require(mfd_request *req, mfd_response *res, mfd_auth_kind kind, const char *key,
                         mfd_permission need, bool *refused) {
    *refused = false;
    mfd_auth *auth = mfd_auth_of(req);
    if (!auth || req->is_admin || !req->username)
        return NULL;
    plan p = {.kind = PLAN_DEFAULT, .need = need};
    if (key)
        add_check(req, &p, kind, key, NULL);
    return require_plan(auth, req, res, &p, refused);
}

mfd_err mfd_auth_require_artifact(mfd_request *req, mfd_response *res, const char *path,
                                  mfd_permission need, bool *refused) {
    *refused = false;
    mfd_auth *auth = mfd_auth_of(req);
    if (!auth || req->is_admin || !req->username)
        return NULL;
    plan p = {.kind = PLAN_DEFAULT, .need = need};
    plan_artifact_path(req, &p, path);
    return require_plan(auth, req, res, &p, refused);
}
