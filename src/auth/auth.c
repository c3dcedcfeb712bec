/* auth.c — the auth layer's life cycle and authentication: reading the INI,
 * opening the auth DB, the startup admin, Basic credentials checked against
 * users.password_hash through the verified-credential cache, the audit log
 * and the signup form's CSRF token.
 *
 * Invariant: a request reaches its handler only after this request read the
 * user's row (so a deleted user or a changed password or admin flag takes
 * effect at once, whichever replica changed it) and either the KDF or a
 * cache entry made for exactly that password_hash vouched for the password.
 * For cached credentials the row is read in gate.c, in the same auth-DB
 * transaction as the permission lookup; a request refused earlier (404 of
 * an unknown route, 415, 413, 503) may be answered before that read. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_internal.h"
#include "core/escape.h"
#include "core/log.h"
#include "http/metrics.h"
#include "passwords.h"
#include "sso.h"
#include "core/http_client.h"
#include "store/schema.h"
#include "store/sso_store.h"

extern char **environ; /* POSIX: declared by the program */

bool mfd_auth_parse_permission(const char *name, mfd_permission *out) {
    static const char *const names[] = {"NO_PERMISSIONS", "READ", "EDIT", "MANAGE"};
    for (int i = 0; name && i < 4; i++) {
        if (!strcmp(name, names[i])) {
            *out = (mfd_permission)i;
            return true;
        }
    }
    return false;
}

mfd_err mfd_auth_check_permission_name(const char *name) {
    mfd_permission unused;
    if (mfd_auth_parse_permission(name, &unused))
        return NULL;
    return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                       "Invalid permission '%s'. Valid permissions are: ('READ', 'EDIT', "
                       "'MANAGE', 'NO_PERMISSIONS')",
                       name ? name : "None");
}

/* Writes s quoted, with quotes, backslashes and control bytes escaped, so a
 * crafted username cannot forge or split audit lines. */
static void quote(char *out, size_t cap, const char *s) {
    size_t n = 0;
    if (cap < 8)
        return;
    out[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && n + 6 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            n += (size_t)snprintf(out + n, cap - n, "\\x%02x", *p);
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
}

void mfd_auth_audit(const char *actor, const char *action, const char *resource,
                    const char *target_user, const char *detail, const char *result) {
    char q_actor[300], q_resource[600], q_user[300], q_detail[300];
    quote(q_actor, sizeof q_actor, actor);
    quote(q_resource, sizeof q_resource, resource);
    quote(q_user, sizeof q_user, target_user);
    quote(q_detail, sizeof q_detail, detail);
    mfd_log_info("audit: actor=%s action=%s resource=%s user=%s detail=%s result=%s", q_actor,
                 action, q_resource, q_user, q_detail, result);
}

/* Exact paths, so that no static prefix or look-alike (/healthz, /static/ajax-api/…)
 * makes an API route public. */
bool mfd_auth_is_unprotected(const char *static_prefix, const char *path) {
    if (strncmp(path, "/api/", 5) == 0)
        return false; /* the API, nearly every request: no list to walk */
    size_t prefix_len = strlen(static_prefix);
    if (prefix_len && !strncmp(path, static_prefix, prefix_len) &&
        !strcmp(path + prefix_len, "/health"))
        return true; /* the probe MLflow serves under its prefix, and opens */
    static const char *const exact[] = {"/health",      "/ready",         "/favicon.ico",
                                        "/oidc/login",  "/oidc/callback", "/oidc/info",
                                        "/static-files"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (!strcmp(path, exact[i]))
            return true;
    return strncmp(path, "/static-files/", 14) == 0 && !strstr(path, "/ajax-api/") &&
           !strstr(path, "/api/");
}

mfd_auth *mfd_auth_of(const mfd_request *req) {
    return req->app ? req->app->auth : NULL;
}

mfd_err mfd_auth_db_acquire(mfd_auth *auth, mfd_conn **out) {
    return mfd_db_acquire(auth->db, out);
}

void mfd_auth_db_release(mfd_auth *auth, mfd_conn *conn) {
    if (conn)
        mfd_db_release(auth->db, conn);
}

void mfd_auth_forget_user(mfd_auth *auth, const char *username) {
    mfd_credential_cache_forget_user(auth->cache, username);
    if (auth->sso)
        mfd_token_cache_forget_user(mfd_sso_cache(auth->sso), username);
}

/* A browser opening a page (not an API call) while the native login is on. */
static bool wants_login_page(mfd_auth *auth, const mfd_request *req) {
    const mfd_sso_settings *s = mfd_sso_settings_of(auth->sso);
    if (!s->enabled || !s->native || !req->header)
        return false;
    const char *accept = req->header(req, "Accept");
    return !strcmp(req->method, "GET") && accept && strstr(accept, "text/html") &&
           strncmp(req->path, "/api/", 5) != 0 && !strstr(req->path, "/ajax-api/");
}

static void refuse_unauthenticated(mfd_auth *auth, mfd_request *req, mfd_response *res,
                                   bool *refused) {
    const mfd_sso_settings *s = mfd_sso_settings_of(auth->sso);
    *refused = true;
    if (wants_login_page(auth, req)) {
        char *next = (char *)mfd_http_escape(req->arena, req->path, false);
        mfd_response_text(req, res, 302, "text/html; charset=utf-8", "");
        mfd_response_header(res, "Location",
                            mfd_arena_sprintf(req->arena, "/oidc/login?next=%s", next));
        return;
    }
    mfd_auth_refuse_unauthenticated(req, res);
    if (s->enabled && s->bearer)
        mfd_response_header(res, "WWW-Authenticate", "Bearer realm=\"mlflow\"");
}

static mfd_err authenticate_basic(mfd_auth *auth, mfd_request *req, const char *username,
                                  const char *password, mfd_response *res, bool *refused);

mfd_err mfd_auth_authenticate(mfd_auth *auth, mfd_request *req, mfd_response *res, bool *refused) {
    *refused = false;
    mfd_auth_request_state(auth, req);
    const mfd_sso_settings *s = mfd_sso_settings_of(auth->sso);
    /* Precedence (R-SSO-1): Bearer > Basic > trusted headers > session. */
    const char *bearer = mfd_sso_bearer_token(auth, req);
    if (bearer)
        return mfd_sso_authenticate_bearer(auth, req, bearer, res, refused);
    const char *header = req->header ? req->header(req, "Authorization") : NULL;
    const char *username = NULL, *password = NULL;
    if (header && *header) {
        if (!mfd_auth_parse_basic(req->arena, header, &username, &password) ||
            (s->enabled && !s->basic)) {
            refuse_unauthenticated(auth, req, res, refused);
            return NULL;
        }
        return authenticate_basic(auth, req, username, password, res, refused);
    }
    bool handled = false;
    mfd_err err = mfd_sso_authenticate_headers(auth, req, res, refused, &handled);
    if (!err && !handled)
        err = mfd_sso_authenticate_session(auth, req, res, refused, &handled);
    if (!err && !handled)
        refuse_unauthenticated(auth, req, res, refused);
    return err;
}

/* A werkzeug scrypt hash (of a throw-away string) at the default cost, verified
 * for unknown users so that their answer takes as long as a wrong password. */
static const char dummy_hash[] =
    "scrypt:32768:8:1$Zq7mW2xN4pR8tV1c$8506771a4bbe414f3ea04aa6d30b9421c34e78e48dc4dca18e515effd"
    "e4fd6686e2c98719380272cf13e6215c2d1cb17450178127679c947060c51e722460b44";

/* Credentials the cache vouched for. */
static void take_hit(mfd_request *req, mfd_auth_request *st, const char *username,
                     const mfd_credential_hit *hit) {
    req->username = username;
    req->is_admin = hit->is_admin;
    st->user_id = hit->user_id;
    st->pending = !hit->row_known;
    st->password_hash = hit->password_hash;
    memcpy(st->credential, hit->digest, sizeof st->credential);
}

/* The KDF: the user's row, then the password against its hash (remembered
 * in the credential cache when it matches). */
static mfd_err verify_password(mfd_auth *auth, mfd_request *req, const char *username,
                               const char *password, uint64_t version, mfd_auth_user *user,
                               bool *found, bool *ok) {
    mfd_conn *conn;
    mfd_err err = mfd_db_acquire(auth->db, &conn);
    if (err)
        return err;
    err = mfd_auth_store_find_user(conn, req->arena, username, user, found);
    mfd_db_release(auth->db, conn);
    if (err)
        return err;
    /* Unknown users (and users without a password) cost one derivation too,
     * so the answer's timing does not tell which usernames exist. */
    const char *against = *found && user->password_hash && user->password_hash[0] != '!'
                              ? user->password_hash
                              : dummy_hash;
    mfd_metrics_password_derivation();
    *ok = mfd_auth_password_verify(against, password) && against != dummy_hash;
    if (*ok)
        mfd_credential_cache_put(auth->cache, username, password, user->password_hash, version,
                                 user->id, user->is_admin);
    return NULL;
}

static mfd_err authenticate_basic(mfd_auth *auth, mfd_request *req, const char *username,
                                  const char *password, mfd_response *res, bool *refused) {
    mfd_auth_request *st = req->auth_state;
    st->method = MFD_AUTH_METHOD_BASIC;
    if (mfd_auth_token_shaped(password)) {
        mfd_token_outcome outcome;
        mfd_err err = mfd_auth_token_authenticate(auth, req, username, password, &outcome);
        if (err || outcome == MFD_TOKEN_OK)
            return err;
        /* The name is logged only for a known user: an unknown one may be a secret
         * typed into the wrong field. */
        const char *known = outcome == MFD_TOKEN_FORBIDDEN ? username : NULL;
        mfd_auth_audit(known, "login", req->path, known,
                       outcome == MFD_TOKEN_FORBIDDEN ? "not in any of the allowed groups"
                                                      : "invalid access token",
                       "denied");
        if (outcome == MFD_TOKEN_FORBIDDEN)
            mfd_auth_refuse_forbidden(req, res);
        else
            mfd_auth_refuse_unauthenticated(req, res);
        *refused = true;
        return NULL;
    }
    /* Verified recently: no KDF now. The user's row is vouched for too while
     * the auth DB is unchanged; else it is re-read together with the
     * permission lookup when the request is authorized. */
    uint64_t version = mfd_auth_data_version(auth, st);
    mfd_credential_hit hit;
    if (mfd_credential_cache_find(auth->cache, req->arena, username, password, version, &hit)) {
        take_hit(req, st, username, &hit);
        return NULL;
    }
    /* The same credentials being verified by another request: take its outcome. */
    bool leader = true;
    mfd_login_outcome seen = MFD_LOGIN_UNKNOWN;
    bool flies = auth->flights && hit.keyed;
    if (flies && !mfd_login_flight_board(auth->flights, hit.digest, &seen)) {
        leader = false;
        if (seen == MFD_LOGIN_VERIFIED &&
            mfd_credential_cache_find(auth->cache, req->arena, username, password, version, &hit)) {
            take_hit(req, st, username, &hit);
            return NULL;
        }
        if (seen == MFD_LOGIN_REFUSED) {
            mfd_auth_audit(NULL, "login", req->path, NULL,
                           "wrong password or unknown user (a concurrent request verified it)",
                           "denied");
            mfd_auth_refuse_unauthenticated(req, res);
            *refused = true;
            return NULL;
        }
    }
    mfd_auth_user user;
    bool found = false, ok = false;
    mfd_err err = verify_password(auth, req, username, password, version, &user, &found, &ok);
    if (leader && flies)
        mfd_login_flight_land(auth->flights, hit.digest,
                              err  ? MFD_LOGIN_UNKNOWN
                              : ok ? MFD_LOGIN_VERIFIED
                                   : MFD_LOGIN_REFUSED);
    if (err)
        return err;
    if (!ok) {
        const char *known = found ? username : NULL; /* an unknown name may be a secret */
        mfd_auth_audit(known, "login", req->path, known, found ? "wrong password" : "unknown user",
                       "denied");
        mfd_auth_refuse_unauthenticated(req, res);
        *refused = true;
        return NULL;
    }
    req->username = user.username;
    req->is_admin = user.is_admin;
    st->user_id = user.id;
    return NULL;
}

/* --- CSRF token of the signup form ------------------------------------
 * "<expiry unix seconds>.<hex HMAC-SHA256(key, expiry ':' username)>": only
 * the user the form was served to can post it, within the hour. */
static bool csrf_mac(mfd_auth *auth, long long expiry, const char *username, char hex[65]) {
    char message[600];
    snprintf(message, sizeof message, "%lld:%s", expiry, username ? username : "");
    unsigned char mac[32];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), auth->csrf_key, sizeof auth->csrf_key, (unsigned char *)message,
              strlen(message), mac, &mac_len) ||
        mac_len != sizeof mac)
        return false;
    mfd_hex_encode(mac, sizeof mac, hex);
    return true;
}

char *mfd_auth_csrf_token(mfd_auth *auth, mfd_request *req) {
    long long expiry = (long long)time(NULL) + 3600;
    char hex[65];
    if (!csrf_mac(auth, expiry, req->username, hex))
        return mfd_arena_strdup(req->arena, "");
    return mfd_arena_sprintf(req->arena, "%lld.%s", expiry, hex);
}

bool mfd_auth_csrf_valid(mfd_auth *auth, const mfd_request *req, const char *token) {
    if (!token)
        return false;
    char *end;
    long long expiry = strtoll(token, &end, 10);
    char hex[65];
    if (end == token || *end != '.' || expiry < (long long)time(NULL) ||
        !csrf_mac(auth, expiry, req->username, hex))
        return false;
    return strlen(end + 1) == 64 && CRYPTO_memcmp(hex, end + 1, 64) == 0;
}

/* --- life cycle ------------------------------------------------------- */

static const char *env_lookup(const char *name) {
    return getenv(name);
}

static void warn_unknown_override(const char *name, size_t len, void *ctx) {
    (void)ctx;
    mfd_log_warn("environment variable %.*s names no key of the auth configuration "
                 "(MLFLOWD_<SECTION>_<KEY>): ignored",
                 (int)len, name);
}

static void warn_ignored_key(const char *key, void *ctx) {
    mfd_log_warn("%s: [mlflow] %s is MLflow's and has no effect in mlflowd: ignored",
                 mfd_auth_ini_source(ctx), key);
}

static mfd_err ensure_admin(mfd_auth *auth) {
    const mfd_auth_settings *s = auth->settings;
    mfd_conn *conn;
    mfd_err err = mfd_db_acquire(auth->db, &conn);
    if (err)
        return err;
    mfd_arena *arena = mfd_arena_new();
    mfd_auth_user user;
    bool found = false;
    err = mfd_auth_store_find_user(conn, arena, s->admin_username, &user, &found);
    char *hash = NULL;
    if (!err && !found) {
        err = mfd_auth_password_check_rule(s->admin_password);
        if (err) {
            mfd_err wrapped = mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "%s: admin_password: %s",
                                          mfd_auth_ini_source(auth->ini), err->message);
            mfd_err_free(err);
            err = wrapped;
        }
        if (!err)
            err = mfd_auth_password_hash(s->admin_password, &hash);
        if (!err)
            err = mfd_auth_store_create_user(conn, arena, s->admin_username, hash, true, &user);
        if (err && err->code == MFD_RESOURCE_ALREADY_EXISTS) {
            mfd_err_free(err); /* another replica created it first */
            err = NULL;
        } else if (!err) {
            mfd_log_info("created admin user '%s'; set a new password soon with PATCH "
                         "/api/2.0/mlflow/users/update-password",
                         s->admin_username);
            mfd_auth_audit("mlflowd", "user.create", "user", s->admin_username, "admin at startup",
                           "ok");
        }
    }
    free(hash);
    mfd_arena_free(arena);
    mfd_db_release(auth->db, conn);
    return err;
}

static void redact_uri(const char *uri, char *out, size_t cap);

mfd_err mfd_auth_open(const mfd_config *cfg, mfd_auth **out) {
    /* A prefix spelled like a public path would carry the UI's routes under it (the
     * redirect at <prefix> itself) out of the protected space. */
    if (*cfg->static_prefix && mfd_auth_is_unprotected("", cfg->static_prefix))
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "--static-prefix %s is a path served without credentials; "
                           "choose another prefix",
                           cfg->static_prefix);
    mfd_auth *auth = calloc(1, sizeof *auth);
    if (!auth)
        abort();
    auth->config = cfg;
    mfd_err err = mfd_auth_ini_load(cfg->auth_config_path, env_lookup, &auth->ini);
    if (err) {
        free(auth);
        return err;
    }
    mfd_auth_ini_unknown_overrides(environ, warn_unknown_override, NULL);
    mfd_auth_ini_ignored(auth->ini, warn_ignored_key, auth->ini);
    auth->settings = mfd_auth_ini_settings(auth->ini);
    mfd_auth_parse_permission(auth->settings->default_permission, &auth->default_permission);
    if (!auth->settings->sso_hook && mfd_auth_ini_get(auth->ini, "sso", "issuer"))
        mfd_log_warn("%s: [sso] is set but authorization_function '%s' does not select it "
                     "(use 'mlflowd:sso'): only Basic credentials are checked",
                     mfd_auth_ini_source(auth->ini), auth->settings->authorization_function);
    int pool = cfg->workers > 4 ? cfg->workers : 4;
    err = mfd_db_open(auth->settings->database_uri, pool, &auth->db);
    if (!err)
        err = mfd_schema_auth_init(auth->db); /* mlflowd's SSO tables too */
    if (!err && (err = mfd_sso_open(auth, &auth->sso)) == NULL)
        auth->sso_authoritative = mfd_sso_settings_of(auth->sso)->authoritative;
    if (!err)
        err = ensure_admin(auth);
    /* Rows read for decisions live half a second (the bound on another
     * PostgreSQL replica's change); off with the credential cache. */
    int row_ttl_ms = auth->settings->cache_ttl_seconds > 0 ? MFD_AUTH_ROW_TTL_MS : 0;
    if (!err &&
        !(auth->cache = mfd_credential_cache_new(auth->settings->cache_ttl_seconds, row_ttl_ms)))
        err = mfd_err_new(MFD_INTERNAL_ERROR, "cannot set up the credential cache (OpenSSL)");
    if (!err && auth->settings->cache_ttl_seconds > 0 && !(auth->flights = mfd_login_flights_new()))
        err = mfd_err_new(MFD_INTERNAL_ERROR, "out of memory");
    if (!err && row_ttl_ms > 0 && !(auth->decisions = mfd_decision_cache_new(MFD_AUTH_ROW_TTL_MS)))
        err = mfd_err_new(MFD_INTERNAL_ERROR, "out of memory");
    if (!err && !(auth->resources = mfd_resource_cache_new()))
        err = mfd_err_new(MFD_INTERNAL_ERROR, "out of memory");
    if (!err) {
        const char *secret = getenv("MLFLOW_FLASK_SERVER_SECRET_KEY");
        unsigned int len = 0;
        if (secret && *secret) {
            if (!EVP_Digest(secret, strlen(secret), auth->csrf_key, &len, EVP_sha256(), NULL))
                err = mfd_err_new(MFD_INTERNAL_ERROR, "cannot hash the server secret key");
        } else {
            mfd_log_warn("MLFLOW_FLASK_SERVER_SECRET_KEY is not set: signup form tokens are "
                         "signed with a random per-process key (set it, the same on every "
                         "replica, when running several)");
            if (RAND_bytes(auth->csrf_key, sizeof auth->csrf_key) != 1)
                err = mfd_err_new(MFD_INTERNAL_ERROR, "cannot draw a random key");
        }
    }
    if (err) {
        mfd_auth_close(auth);
        return err;
    }
    char shown[1024];
    redact_uri(auth->settings->database_uri, shown, sizeof shown);
    mfd_log_info("auth: basic-auth on (%s), auth db %s, default permission %s, credential "
                 "cache %d s, decision cache %s",
                 mfd_auth_ini_source(auth->ini), shown, auth->settings->default_permission,
                 auth->settings->cache_ttl_seconds,
                 !auth->decisions                      ? "off"
                 : mfd_db_sees_other_writers(auth->db) ? "500 ms (sees other processes' writes)"
                                                       : "500 ms");
    *out = auth;
    return NULL;
}

/* The URI with any user:password@ replaced, for the start-up log line. */
static void redact_uri(const char *uri, char *out, size_t cap) {
    const char *scheme_end = strstr(uri, "://");
    const char *host = scheme_end ? scheme_end + 3 : NULL;
    const char *at = host ? strchr(host, '@') : NULL;
    const char *slash = host ? strchr(host, '/') : NULL;
    if (at && (!slash || at < slash))
        snprintf(out, cap, "%.*s***%s", (int)(host - uri), uri, at);
    else
        snprintf(out, cap, "%s", uri);
}

const struct mfd_db *mfd_auth_database(const mfd_auth *auth) {
    return auth->db;
}

void mfd_auth_close(mfd_auth *auth) {
    if (!auth)
        return;
    mfd_sso_close(auth->sso);
    mfd_credential_cache_free(auth->cache);
    mfd_login_flights_free(auth->flights);
    mfd_decision_cache_free(auth->decisions);
    mfd_resource_cache_free(auth->resources);
    mfd_db_close(auth->db);
    mfd_auth_ini_free(auth->ini);
    OPENSSL_cleanse(auth->csrf_key, sizeof auth->csrf_key);
    free(auth);
}
