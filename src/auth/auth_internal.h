/* auth_internal.h — state and helpers shared by the files of src/auth only. */
#ifndef MFD_AUTH_INTERNAL_H
#define MFD_AUTH_INTERNAL_H

#include "auth.h"
#include "config/auth_ini.h"
#include "credential_cache.h"
#include "login_flight.h"
#include "decision_cache.h"
#include "store/db.h"

/* resource_cache.c: run / logged model id -> experiment id (immutable). */
typedef struct mfd_resource_cache mfd_resource_cache;
mfd_resource_cache *mfd_resource_cache_new(void);
void mfd_resource_cache_free(mfd_resource_cache *cache);
bool mfd_resource_cache_get(mfd_resource_cache *cache, const char *id, int64_t *experiment_id);
void mfd_resource_cache_put(mfd_resource_cache *cache, const char *id, int64_t experiment_id);

struct mfd_sso;

struct mfd_auth {
    const mfd_config *config;
    mfd_auth_ini *ini;
    const mfd_auth_settings *settings; /* inside ini */
    mfd_permission default_permission;
    mfd_db *db;
    mfd_credential_cache *cache;
    mfd_login_flights *flights;    /* NULL with the cache off */
    mfd_decision_cache *decisions; /* NULL: every request reads its rows */
    mfd_resource_cache *resources;
    unsigned char csrf_key[32]; /* HMAC key of signup CSRF tokens */
    struct mfd_sso *sso;        /* single sign-on (sso.h); settings only when off */
    bool sso_authoritative;     /* [sso] mapping_mode = authoritative */
};

/* How long what was read from the auth DB may be used where another
 * replica's writes are not seen (PostgreSQL): decisions' rows, and SSO
 * identities (token_cache.h). The README promises this bound. */
enum { MFD_AUTH_ROW_TTL_MS = 500 };

/* --- rules.c: the endpoint -> permission table ----------------------- */

/* Where a rule finds the resource it checks. */
typedef enum mfd_rule_resource {
    MFD_RES_NONE,              /* any authenticated user */
    MFD_RES_NOBODY,            /* admins only */
    MFD_RES_SELF,              /* param username == sender */
    MFD_RES_EXPERIMENT_ID,     /* param experiment_id */
    MFD_RES_EXPERIMENT_NAME,   /* param experiment_name -> its experiment */
    MFD_RES_NEW_RUN,           /* param experiment_id; "" = 0 (runs/create) */
    MFD_RES_RUN,               /* param run_id (run_uuid) -> its experiment */
    MFD_RES_RUN_QUERY,         /* query run_id or run_uuid (non-proto routes) */
    MFD_RES_RUN_UUID_QUERY,    /* query run_uuid alone: the run the UI's upload writes */
    MFD_RES_RUN_IDS_QUERY,     /* every query run_id / run_ids value */
    MFD_RES_MODEL_NAME,        /* param name: registered model */
    MFD_RES_MODEL_NAME_QUERY,  /* query name (non-proto route) */
    MFD_RES_MODEL_VERSION_NEW, /* param name, and READ on its run_id / model_id */
    MFD_RES_LOGGED_MODEL,      /* path {model_id} -> its experiment */
    MFD_RES_SCORER,            /* params experiment_id + name */
    MFD_RES_SCORER_GRANT,      /* params experiment_id + scorer_name */
    MFD_RES_ARTIFACT_PATH,     /* experiment = leading digits of the path tail */
    MFD_RES_ARTIFACT_QUERY,    /* same, from the `path` query value */
    MFD_RES_EXPERIMENT_IDS,    /* every body experiment_ids value */
    MFD_RES_PROMPTLAB,         /* body experiment_id */
    MFD_RES_TRACE_QUERY,       /* query request_id -> its experiment */
    MFD_RES_RUNS_SEARCH,       /* no gate: body experiment_ids reduced to readable */
    MFD_RES_LOGGED_MODELS_SEARCH,
} mfd_rule_resource;

/* What runs after a successful handler (auth.md §4). */
typedef enum mfd_rule_after {
    MFD_AFTER_NONE,
    MFD_AFTER_GRANT_EXPERIMENT,
    MFD_AFTER_GRANT_MODEL,
    MFD_AFTER_GRANT_SCORER,
    MFD_AFTER_DELETE_MODEL,
    MFD_AFTER_RENAME_MODEL,
    MFD_AFTER_DELETE_SCORER,
    MFD_AFTER_FILTER_EXPERIMENTS,
    MFD_AFTER_FILTER_MODELS,
    MFD_AFTER_FILTER_MODEL_VERSIONS,
    MFD_AFTER_FILTER_LOGGED_MODELS,
} mfd_rule_after;

typedef struct mfd_auth_rule {
    const char *method;
    const char *pattern; /* see rules.c for the spelling of patterns */
    unsigned char spelling;
    unsigned char need; /* mfd_permission level required */
    unsigned char resource;
    unsigned char after;
} mfd_auth_rule;

typedef struct mfd_rule_match {
    const mfd_auth_rule *rule; /* NULL: no rule, no check */
    const char *segment;       /* the first {x} of the pattern (model_id), arena */
    const char *tail;          /* the <path> rest, arena; NULL when none */
} mfd_rule_match;

void mfd_auth_rule_find(const mfd_request *req, const char *static_prefix, mfd_rule_match *out);

/* --- per-request notes (req->auth_state) ------------------------------- */
struct mfd_auth_request {
    mfd_rule_match match;      /* the rule of this request, found once */
    bool pending;              /* vouched for by the credential cache: the user's row is re-read
                                  (and the hash compared) when the request is authorized */
    const char *password_hash; /* the hash the cached credentials were verified against */
    unsigned char credential[MFD_CREDENTIAL_DIGEST_LEN]; /* their cache entry (pending only) */
    bool version_read;
    uint64_t version; /* the auth DB's data version, read once, before any row */
    int64_t user_id;  /* 0 until the row was read */
    int method;       /* mfd_auth_method (sso.h) */
    bool reverified;  /* the password was verified again against a changed row */
    /* Single sign-on: the user's level comes from the role mapping. In
     * authoritative mode `mapped` is the level on every resource; in floor
     * mode explicit grants can only raise it. Never written to rows. */
    bool sso;
    mfd_permission mapped;
    const char *roles;  /* '\n'-joined, arena */
    int64_t expires_at; /* unix seconds; 0 = none */
    const char *csrf;   /* session CSRF token (native login) */
    /* Before a model or scorer is deleted or renamed: the highest id of its
     * permission rows, which the post-hook moves or deletes (hooks.c) */
    int64_t resource_rows;
};
typedef struct mfd_auth_request mfd_auth_request;
/* The request's notes, made (and its rule matched) on first use. */
mfd_auth_request *mfd_auth_request_state(mfd_auth *auth, mfd_request *req);
/* The auth DB's data version for what this request reads and remembers (0
 * when nothing is remembered), read on first use: before any row is. */
uint64_t mfd_auth_data_version(mfd_auth *auth, mfd_auth_request *st);

/* --- permissions.c: reading requests, levels, readable sets ------------ */
const char *mfd_auth_query_first(const mfd_request *req, const char *name);
/* True when this request's validator parameters may come from its body (a
 * DELETE's do when it has one, and a GET's when it has no query string, as
 * the handlers read them), which must then be read before the check. */
bool mfd_auth_params_may_be_in_body(const mfd_request *req);
/* A parameter from where the handler reads it; NULL when absent. */
mfd_err mfd_auth_param_optional(mfd_request *req, const char *name, const char **out);
mfd_err mfd_auth_json_text(mfd_request *req, json_t *v, const char *name, const char **out);
mfd_err mfd_auth_param_run_id(mfd_request *req, const char **out);
/* A stored permission name as a level (unknown names: NO_PERMISSIONS). */
mfd_permission mfd_auth_level_of(const char *name);
/* The request's user's level on a resource, given its explicit row (found):
 * MLflow's rule (row, else default_permission) for local users, the SSO
 * rule (mapped level; floor: max(row, mapped)) for SSO users. */
mfd_permission mfd_auth_effective(const mfd_auth *auth, const mfd_auth_request *st, bool found,
                                  mfd_permission row);

/* --- basic.c ------------------------------------------------------------ */
/* Parses `Basic <base64(user:password)>`; false when absent or malformed. */
bool mfd_auth_parse_basic(mfd_arena *arena, const char *header, const char **username,
                          const char **password);
/* The 401 and 403 answers of auth.md §2.1. */
void mfd_auth_refuse_unauthenticated(mfd_request *req, mfd_response *res);
void mfd_auth_refuse_forbidden(mfd_request *req, mfd_response *res);
/* Answers `err` (freed) as MLflow's JSON error body with its status. */
void mfd_auth_refuse_error(mfd_request *req, mfd_response *res, mfd_err err);
/* The user's explicit rows of one kind, for filtering many resources. */
typedef struct mfd_grant_set {
    mfd_auth_grant *rows;
    size_t n;
    bool default_readable;
    bool rows_ignored;    /* SSO authoritative: rows are not read */
    bool rows_only_raise; /* SSO floor: a row never lowers the mapped level */
} mfd_grant_set;
mfd_err mfd_auth_load_grants(mfd_auth *auth, mfd_request *req, mfd_auth_kind kind,
                             mfd_grant_set *set);
/* The same on a connection the caller holds. */
mfd_err mfd_auth_list_grants(mfd_conn *conn, mfd_request *req, mfd_auth_kind kind,
                             mfd_grant_set *set);
/* Keeps the readable ids of the body's experiment_ids (runs and logged
 * model search); sets *answered with `{}` in res when none is left. */
mfd_err mfd_auth_reduce_experiment_ids(mfd_request *req, const mfd_grant_set *set,
                                       mfd_response *res, bool *answered);
bool mfd_auth_grant_readable(const mfd_grant_set *set, const char *key);

#endif
