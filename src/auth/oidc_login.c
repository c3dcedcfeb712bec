/* oidc_login.c — the native login (R-SSO-12, R-SSO-13): OpenID Connect
 * authorization code flow with PKCE S256, `state` and `nonce`, server-side
 * sessions in the auth DB, logout, and cookie-session authentication.
 *
 * Invariants: cookie values are 256-bit random and stored only as their
 * SHA-256; the pre-login record (state, nonce, verifier) is single use and
 * lives 10 minutes; a login always makes a new session id (the old one is
 * deleted); cookies are HttpOnly, SameSite=Lax and — unless cookie_secure
 * is off for plain-HTTP tests — Secure with the __Host- prefix; unsafe
 * methods on a cookie session need a same-origin Origin/Referer or
 * Sec-Fetch-Site; logout is a POST carrying the session's CSRF token; the
 * `next` target is always a local path. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/digest.h"
#include "core/escape.h"
#include "jose_lib.h"
#include "core/log.h"
#include "sso.h"
#include "core/http_client.h"
#include "store/sso_store.h"

/* CALL_SECONDS: the token endpoint's connect + total time (sso-and-deploy.md §7) */
enum { LOGIN_SECONDS = 600, MAX_TOKEN_ANSWER = 256 * 1024, CALL_SECONDS = 5 };

static int64_t now_seconds(void) {
    return (int64_t)time(NULL);
}

static const char *cookie_name(const mfd_sso_settings *s, bool session) {
    if (s->cookie_secure)
        return session ? "__Host-mlflowd_session" : "__Host-mlflowd_login";
    return session ? "mlflowd_session" : "mlflowd_login";
}

static const char *random_token(mfd_arena *arena) {
    unsigned char raw[32];
    char *out = mfd_arena_alloc(arena, 64);
    if (RAND_bytes(raw, sizeof raw) != 1)
        abort(); /* no randomness: nothing here can be safe */
    size_t n = mfd_jose_b64_enc_buf(raw, sizeof raw, out, 63);
    out[n == SIZE_MAX ? 0 : n] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
    return out;
}

static const char *sha256_hex(mfd_arena *arena, const char *s) {
    char *hex = mfd_arena_alloc(arena, 65);
    mfd_sha256_hex(s, strlen(s), hex);
    return hex;
}

static const char *pkce_challenge(mfd_arena *arena, const char *verifier) {
    unsigned char d[32];
    unsigned int n = 0;
    EVP_Digest(verifier, strlen(verifier), d, &n, EVP_sha256(), NULL);
    char *out = mfd_arena_alloc(arena, 64);
    size_t len = mfd_jose_b64_enc_buf(d, sizeof d, out, 63);
    out[len == SIZE_MAX ? 0 : len] = '\0';
    return out;
}

/* The value of cookie `name` in the Cookie header; NULL when absent. */
static const char *cookie_value(mfd_request *req, const char *name) {
    const char *h = req->header ? req->header(req, "Cookie") : NULL;
    size_t n = strlen(name);
    for (const char *p = h; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t len = strcspn(p, ";");
        if (len > n && p[n] == '=' && !strncmp(p, name, n))
            return mfd_arena_strndup(req->arena, p + n + 1, len - n - 1);
        p += len;
    }
    return NULL;
}

static void set_cookie(mfd_request *req, mfd_response *res, const char *name, const char *value,
                       int max_age) {
    const mfd_sso_settings *s = mfd_sso_settings_of(mfd_auth_of(req)->sso);
    char age[48] = "";
    if (max_age >= 0)
        snprintf(age, sizeof age, "; Max-Age=%d", max_age);
    mfd_response_header(res, "Set-Cookie",
                        mfd_arena_sprintf(req->arena, "%s=%s; Path=/%s; HttpOnly; SameSite=Lax%s",
                                          name, value, age, s->cookie_secure ? "; Secure" : ""));
}

static const char *form_escape(mfd_arena *arena, const char *s) {
    return mfd_http_escape(arena, s ? s : "", false);
}

static void redirect(mfd_request *req, mfd_response *res, int status, const char *location) {
    mfd_response_text(req, res, status, "text/html; charset=utf-8", "");
    mfd_response_header(res, "Location", mfd_arena_strdup(req->arena, location));
    mfd_response_header(res, "Cache-Control", "no-store");
}

static void page(mfd_request *req, mfd_response *res, int status, const char *message) {
    mfd_response_text(req, res, status, "text/html; charset=utf-8",
                      mfd_arena_sprintf(req->arena,
                                        "<!DOCTYPE html>\n<html><head><title>MLflow sign-in"
                                        "</title></head><body><p>%s</p><p><a href=\"/oidc/login\">"
                                        "Sign in again</a></p></body></html>\n",
                                        mfd_markup_escape(req->arena, message)));
    mfd_response_header(res, "Cache-Control", "no-store");
}

/* A path on this site, else "/". Browsers drop tabs and line breaks from a
 * URL and read '\\' as '/', so "/\t/evil.example" would leave the site as
 * "//evil.example": every control character and backslash is refused. */
static const char *safe_next(const char *next) {
    if (!next || next[0] != '/' || next[1] == '/')
        return "/";
    for (const unsigned char *p = (const unsigned char *)next; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '\\')
            return "/";
    return next;
}

static mfd_err not_native(mfd_request *req, mfd_auth **auth) {
    *auth = mfd_auth_of(req);
    if (!*auth || !(*auth)->sso || !mfd_sso_settings_of((*auth)->sso)->enabled ||
        !mfd_sso_settings_of((*auth)->sso)->native)
        return mfd_err_new(MFD_ENDPOINT_NOT_FOUND,
                           "No endpoint %s %s (the native single "
                           "sign-on login is off)",
                           req->method, req->path);
    return NULL;
}

static mfd_err with_conn(mfd_auth *auth, mfd_conn **conn) {
    return mfd_auth_db_acquire(auth, conn);
}

/* --- GET /oidc/login ------------------------------------------------------------ */

mfd_err mfd_auth_oidc_login(mfd_request *req, mfd_response *res) {
    mfd_auth *auth;
    mfd_err err = not_native(req, &auth);
    if (err)
        return err;
    const mfd_sso_settings *s = mfd_sso_settings_of(auth->sso);
    char *endpoint = mfd_jwks_discovery_value(mfd_sso_jwks(auth->sso), "authorization_endpoint");
    if (!endpoint)
        return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE,
                           "The identity provider's discovery document cannot be read; try again "
                           "later");
    const char *login_id = random_token(req->arena), *state = random_token(req->arena);
    const char *nonce = random_token(req->arena), *verifier = random_token(req->arena);
    json_t *data = json_pack("{s:s,s:s,s:s,s:s}", "state", state, "nonce", nonce, "verifier",
                             verifier, "next", safe_next(mfd_auth_query_first(req, "next")));
    char *text = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    mfd_conn *conn;
    if (!(err = with_conn(auth, &conn))) {
        err = mfd_sso_store_session_sweep(conn, now_seconds());
        if (!err)
            err = mfd_sso_store_session_put(conn, sha256_hex(req->arena, login_id), "login", NULL,
                                            text, now_seconds() + LOGIN_SECONDS);
        mfd_auth_db_release(auth, conn);
    }
    free(text);
    if (!err) {
        const char *location = mfd_arena_sprintf(
            req->arena,
            "%s%sresponse_type=code&client_id=%s&redirect_uri=%s&scope=%s&state=%s&nonce=%s"
            "&code_challenge=%s&code_challenge_method=S256",
            endpoint, strchr(endpoint, '?') ? "&" : "?", form_escape(req->arena, s->client_id),
            form_escape(req->arena, s->redirect_uri), form_escape(req->arena, s->scopes), state,
            nonce, pkce_challenge(req->arena, verifier));
        redirect(req, res, 302, location);
        set_cookie(req, res, cookie_name(s, false), login_id, LOGIN_SECONDS);
    }
    free(endpoint);
    return err;
}

/* --- GET /oidc/callback ------------------------------------------------------------ */

/* POSTs `form` to the token endpoint; the parsed answer or a message. */
static json_t *token_call(mfd_auth *auth, mfd_arena *arena, const char *form, const char **why) {
    const mfd_sso_settings *s = mfd_sso_settings_of(auth->sso);
    char *endpoint = mfd_jwks_discovery_value(mfd_sso_jwks(auth->sso), "token_endpoint");
    if (!endpoint)
        return *why = "the identity provider's token endpoint is unknown", NULL;
    /* client_secret_basic: RFC 6749 §2.3.1 form-encodes both parts first. */
    mfd_http_call call = {.method = "POST",
                          .url = endpoint,
                          .content_type = "application/x-www-form-urlencoded",
                          .body = form,
                          .body_len = strlen(form),
                          .user = form_escape(arena, s->client_id),
                          .password =
                              s->client_secret ? form_escape(arena, s->client_secret) : NULL,
                          .ca_file = s->ca_file,
                          .connect_timeout = CALL_SECONDS,
                          .timeout = CALL_SECONDS,
                          .max_bytes = MAX_TOKEN_ANSWER};
    mfd_http_answer answer;
    mfd_err err = mfd_http_perform(arena, &call, &answer);
    free(endpoint);
    if (err) {
        *why = mfd_arena_strdup(arena, err->message);
        mfd_err_free(err);
        return NULL;
    }
    json_t *doc = json_loadb(answer.body, answer.len, 0, NULL);
    if (answer.status != 200 || !json_is_object(doc)) {
        const char *e = json_string_value(json_object_get(doc, "error"));
        *why = mfd_arena_sprintf(arena, "the token endpoint answered HTTP %ld%s%s", answer.status,
                                 e ? ": " : "", e ? e : "");
        json_decref(doc);
        doc = NULL;
    }
    return doc;
}

/* Session row data: the identity plus the tokens needed to refresh and
 * to log out at the IdP. */
static char *session_data(const mfd_sso_identity *id, const char *id_token,
                          const char *refresh_token, int64_t token_exp, const char *csrf) {
    json_t *d = json_pack("{s:i,s:b,s:I,s:s,s:s,s:I,s:s}", "level", id->level, "is_admin",
                          id->is_admin, "user_id", (json_int_t)id->user_id, "roles",
                          id->roles ? id->roles : "", "id_token", id_token ? id_token : "",
                          "token_exp", (json_int_t)token_exp, "csrf", csrf);
    if (refresh_token)
        json_object_set_new(d, "refresh_token", json_string(refresh_token));
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    return text;
}

static mfd_err store_session(mfd_auth *auth, mfd_request *req, const char *session_id,
                             const char *username, const char *text, int64_t expires_at) {
    mfd_conn *conn;
    mfd_err err = with_conn(auth, &conn);
    if (err)
        return err;
    err = mfd_sso_store_session_put(conn, sha256_hex(req->arena, session_id), "session", username,
                                    text, expires_at);
    mfd_auth_db_release(auth, conn);
    return err;
}

static const char *string_of(const json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

mfd_err mfd_auth_oidc_callback(mfd_request *req, mfd_response *res) {
    mfd_auth *auth;
    mfd_err err = not_native(req, &auth);
    if (err)
        return err;
    const mfd_sso_settings *s = mfd_sso_settings_of(auth->sso);
    const char *login_id = cookie_value(req, cookie_name(s, false));
    const char *username = NULL, *text = NULL;
    int64_t expires = 0;
    bool found = false;
    mfd_conn *conn;
    if (login_id && !(err = with_conn(auth, &conn))) {
        err = mfd_sso_store_session_get(conn, req->arena, sha256_hex(req->arena, login_id), "login",
                                        true, &username, &text, &expires, &found);
        mfd_auth_db_release(auth, conn);
    }
    if (err)
        return err;
    set_cookie(req, res, cookie_name(s, false), "", 0);
    json_t *login = found ? json_loads(text, 0, NULL) : NULL;
    const char *state = mfd_auth_query_first(req, "state"),
               *code = mfd_auth_query_first(req, "code");
    const char *want = string_of(login, "state");
    const char *idp_error = mfd_auth_query_first(req, "error");
    const char *problem = NULL;
    if (!login)
        problem = "The sign-in took too long or was started elsewhere.";
    else if (!state || !want || strlen(state) != strlen(want) ||
             CRYPTO_memcmp(state, want, strlen(want)) != 0)
        problem = "The sign-in answer does not belong to this browser (state mismatch).";
    else if (idp_error)
        problem = mfd_arena_sprintf(req->arena, "The identity provider refused the sign-in: %s",
                                    idp_error);
    else if (!code)
        problem = "The identity provider sent no authorization code.";
    json_t *tokens = NULL;
    if (!problem) {
        const char *form = mfd_arena_sprintf(
            req->arena,
            "grant_type=authorization_code&code=%s&redirect_uri=%s&code_verifier=%s"
            "&client_id=%s",
            form_escape(req->arena, code), form_escape(req->arena, s->redirect_uri),
            form_escape(req->arena, string_of(login, "verifier")),
            form_escape(req->arena, s->client_id));
        tokens = token_call(auth, req->arena, form, &problem);
        if (tokens && !string_of(tokens, "id_token"))
            problem = "The identity provider returned no ID token (is `openid` in scopes?).";
    }
    mfd_sso_identity id = {0};
    if (!problem)
        err = mfd_sso_resolve_id_token(auth, req->arena, string_of(tokens, "id_token"),
                                       string_of(login, "nonce"), &id, &problem);
    if (!err && problem) {
        mfd_auth_audit(id.username, "login", req->path, id.username, problem, "denied");
        page(req, res, id.username ? 403 : 400, problem);
    } else if (!err) {
        /* A new session id at every login; the old session goes. */
        const char *old = cookie_value(req, cookie_name(s, true));
        if (old && !with_conn(auth, &conn)) {
            mfd_err_free(mfd_sso_store_session_delete(conn, sha256_hex(req->arena, old)));
            mfd_auth_db_release(auth, conn);
            unsigned char digest[MFD_TOKEN_DIGEST_LEN];
            mfd_token_cache_digest("session", old, digest);
            mfd_token_cache_forget(mfd_sso_cache(auth->sso), digest);
        }
        const char *session_id = random_token(req->arena), *csrf = random_token(req->arena);
        char *data = session_data(&id, string_of(tokens, "id_token"),
                                  string_of(tokens, "refresh_token"), id.expires_at, csrf);
        err = store_session(auth, req, session_id, id.username, data,
                            now_seconds() + s->session_seconds);
        free(data);
        if (!err) {
            mfd_auth_audit(id.username, "login", req->path, id.username, "native sign-in", "ok");
            redirect(req, res, 303, safe_next(string_of(login, "next")));
            set_cookie(req, res, cookie_name(s, true), session_id, s->session_seconds);
        }
    }
    json_decref(tokens);
    json_decref(login);
    return err;
}

/* --- sessions on requests ----------------------------------------------------------- */

/* The configured public origin, else this request's Host. */
static bool same_origin(mfd_request *req, const mfd_sso_settings *s, const char *origin) {
    if (!origin)
        return false;
    if (s->external_url) {
        const char *scheme_end = strstr(s->external_url, "://");
        const char *path = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
        size_t n = path ? (size_t)(path - s->external_url) : strlen(s->external_url);
        return strlen(origin) == n && !strncasecmp(origin, s->external_url, n);
    }
    const char *host = req->header(req, "Host");
    if (!host)
        return false;
    const char *rest = !strncasecmp(origin, "http://", 7)    ? origin + 7
                       : !strncasecmp(origin, "https://", 8) ? origin + 8
                                                             : NULL;
    return rest && !strcasecmp(rest, host);
}

static bool csrf_safe(mfd_request *req, const mfd_sso_settings *s) {
    const char *m = req->method;
    if (!strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS"))
        return true;
    const char *site = req->header(req, "Sec-Fetch-Site");
    if (site && !strcmp(site, "same-origin"))
        return true;
    const char *origin = req->header(req, "Origin");
    if (origin)
        return same_origin(req, s, origin);
    const char *referer = req->header(req, "Referer");
    if (!referer)
        return false;
    const char *scheme_end = strstr(referer, "://");
    const char *path = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
    const char *referer_origin =
        path ? mfd_arena_strndup(req->arena, referer, (size_t)(path - referer)) : referer;
    return same_origin(req, s, referer_origin);
}

/* Trades the refresh token for new tokens and re-resolves the user. */
static bool refresh_session(mfd_auth *auth, mfd_request *req, json_t *data, mfd_sso_identity *id) {
    const char *refresh = string_of(data, "refresh_token");
    const char *why = NULL;
    const char *form =
        mfd_arena_sprintf(req->arena,
                          "grant_type=refresh_token&refresh_token=%s"
                          "&client_id=%s",
                          form_escape(req->arena, refresh),
                          form_escape(req->arena, mfd_sso_settings_of(auth->sso)->client_id));
    json_t *tokens = token_call(auth, req->arena, form, &why);
    const char *id_token = string_of(tokens, "id_token");
    bool ok = false;
    if (id_token) {
        mfd_err err = mfd_sso_resolve_id_token(auth, req->arena, id_token, NULL, id, &why);
        ok = !err && !why;
        mfd_err_free(err);
        if (ok) {
            json_object_set_new(data, "id_token", json_string(id_token));
            const char *next_refresh = string_of(tokens, "refresh_token");
            if (next_refresh)
                json_object_set_new(data, "refresh_token", json_string(next_refresh));
        }
    }
    if (!ok)
        mfd_auth_audit(NULL, "session.refresh", req->path, NULL, why ? why : "no ID token",
                       "denied");
    json_decref(tokens);
    return ok;
}

/* The session row of hash `key`: its user, its data (to json_decref) and
 * when it ends; *found false when it is gone. */
static mfd_err read_session(mfd_auth *auth, mfd_request *req, const char *key,
                            const char **username, json_t **data, int64_t *expires, bool *found) {
    const char *text = NULL;
    mfd_conn *conn;
    *data = NULL;
    mfd_err err = with_conn(auth, &conn);
    if (err)
        return err;
    err = mfd_sso_store_session_get(conn, req->arena, key, "session", false, username, &text,
                                    expires, found);
    mfd_auth_db_release(auth, conn);
    *data = !err && *found ? json_loads(text, 0, NULL) : NULL;
    if (!*data)
        *found = false;
    return err;
}

static void session_identity(mfd_request *req, const char *username, const json_t *data,
                             mfd_sso_identity *id) {
    memset(id, 0, sizeof *id);
    id->username = username;
    id->level = (int)json_integer_value(json_object_get(data, "level"));
    id->is_admin = json_is_true(json_object_get(data, "is_admin"));
    id->allowed = true;
    id->user_id = json_integer_value(json_object_get(data, "user_id"));
    id->roles =
        mfd_arena_strdup(req->arena, string_of(data, "roles") ? string_of(data, "roles") : "");
    id->csrf = mfd_arena_strdup(req->arena, string_of(data, "csrf") ? string_of(data, "csrf") : "");
}

/* One refresh of a session at a time in this process: the requests of a
 * session whose ID token has expired (a page's parallel calls) wait for the
 * first one's refresh and read what it stored, rather than each spending
 * the refresh token (an IdP that rotates refresh tokens refuses all but one,
 * and a refused refresh ends the session). Locks by the session's hash. */
enum { REFRESH_LOCKS = 64 };
static pthread_mutex_t refresh_locks[REFRESH_LOCKS];
static pthread_once_t refresh_locks_once = PTHREAD_ONCE_INIT;

static void init_refresh_locks(void) {
    for (int i = 0; i < REFRESH_LOCKS; i++)
        pthread_mutex_init(&refresh_locks[i], NULL);
}

/* `key` is a SHA-256 in hex: its first two digits pick the lock. */
static pthread_mutex_t *refresh_lock_of(const char *key) {
    pthread_once(&refresh_locks_once, init_refresh_locks);
    char first[3] = {key[0], key[0] ? key[1] : '\0', '\0'};
    return &refresh_locks[strtoul(first, NULL, 16) % REFRESH_LOCKS];
}

/* Under the session's refresh lock: read again (another request may have
 * refreshed it, or a logout ended it), and if its ID token is still expired,
 * refresh it and store the result, only while the session still exists. */
static mfd_err refresh_if_due(mfd_auth *auth, mfd_request *req, const char *key,
                              mfd_sso_identity *id, int64_t *token_exp, bool *found) {
    const char *username = NULL;
    int64_t expires = 0;
    json_t *data = NULL;
    mfd_err err = read_session(auth, req, key, &username, &data, &expires, found);
    if (err || !*found)
        return err;
    session_identity(req, username, data, id);
    *token_exp = json_integer_value(json_object_get(data, "token_exp"));
    if (*token_exp > now_seconds()) { /* refreshed meanwhile */
        json_decref(data);
        return NULL;
    }
    const char *csrf = id->csrf;
    mfd_conn *conn;
    if (!refresh_session(auth, req, data, id)) {
        json_decref(data);
        *found = false;
        if (!with_conn(auth, &conn)) {
            mfd_err_free(mfd_sso_store_session_delete(conn, key));
            mfd_auth_db_release(auth, conn);
        }
        return NULL;
    }
    id->csrf = csrf;
    *token_exp = id->expires_at;
    char *updated = session_data(id, string_of(data, "id_token"), string_of(data, "refresh_token"),
                                 *token_exp, csrf);
    json_decref(data);
    if (!(err = with_conn(auth, &conn))) {
        err = mfd_sso_store_session_update(conn, key, updated, expires, found);
        mfd_auth_db_release(auth, conn);
    }
    free(updated);
    return err;
}

/* The session row of `session_id` as an identity; *found false when gone. */
static mfd_err load_session(mfd_auth *auth, mfd_request *req, const char *session_id,
                            mfd_sso_identity *id, int64_t *cache_until, bool *found) {
    const char *username = NULL;
    int64_t expires = 0;
    json_t *data = NULL;
    const char *key = sha256_hex(req->arena, session_id);
    mfd_err err = read_session(auth, req, key, &username, &data, &expires, found);
    if (err || !*found)
        return err;
    session_identity(req, username, data, id);
    int64_t token_exp = json_integer_value(json_object_get(data, "token_exp"));
    bool refreshable = string_of(data, "refresh_token") && token_exp;
    json_decref(data);
    *cache_until = expires;
    if (refreshable) {
        if (token_exp <= now_seconds()) {
            pthread_mutex_t *lock = refresh_lock_of(key);
            pthread_mutex_lock(lock);
            err = refresh_if_due(auth, req, key, id, &token_exp, found);
            pthread_mutex_unlock(lock);
            if (err || !*found)
                return err;
        }
        if (token_exp < *cache_until)
            *cache_until = token_exp;
    }
    id->expires_at = expires;
    id->method = MFD_AUTH_METHOD_SESSION;
    return NULL;
}

mfd_err mfd_sso_authenticate_session(mfd_auth *auth, mfd_request *req, mfd_response *res,
                                     bool *refused, bool *handled) {
    const mfd_sso_settings *s = mfd_sso_settings_of(auth->sso);
    *handled = false;
    const char *session_id =
        s->enabled && s->native ? cookie_value(req, cookie_name(s, true)) : NULL;
    if (!session_id || !*session_id)
        return NULL;
    unsigned char digest[MFD_TOKEN_DIGEST_LEN];
    mfd_token_cache_digest("session", session_id, digest);
    mfd_sso_identity id;
    uint64_t version = mfd_auth_data_version(auth, mfd_auth_request_state(auth, req));
    if (!mfd_token_cache_get(mfd_sso_cache(auth->sso), digest, version, req->arena, &id)) {
        bool found = false;
        int64_t until = 0;
        mfd_err err = load_session(auth, req, session_id, &id, &until, &found);
        if (err || !found)
            return err; /* unknown or ended session: as if no cookie */
        int ttl = auth->settings->cache_ttl_seconds;
        if (ttl > 0 && until > now_seconds() + ttl)
            until = now_seconds() + ttl;
        if (ttl > 0)
            mfd_token_cache_put(mfd_sso_cache(auth->sso), digest, &id, until, version);
    }
    *handled = true;
    if (!csrf_safe(req, s)) {
        mfd_auth_audit(id.username, "csrf", req->path, id.username,
                       "cross-origin unsafe request with a session cookie", "forbidden");
        mfd_auth_refuse_forbidden(req, res);
        *refused = true;
        return NULL;
    }
    mfd_sso_apply(req, &id);
    return NULL;
}

/* --- POST /oidc/logout ----------------------------------------------------------------- */

mfd_err mfd_auth_oidc_logout(mfd_request *req, mfd_response *res) {
    mfd_auth *auth;
    mfd_err err = not_native(req, &auth);
    if (err)
        return err;
    const mfd_sso_settings *s = mfd_sso_settings_of(auth->sso);
    mfd_auth_request *st = req->auth_state;
    const char *session_id = cookie_value(req, cookie_name(s, true));
    if (!st || st->method != MFD_AUTH_METHOD_SESSION || !session_id)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Logout needs the browser session (cookie) it ends");
    const char *token = req->header(req, "X-CSRF-Token");
    const char *body = req->body ? strstr(req->body, "csrf_token=") : NULL;
    if (!token && body)
        token = mfd_arena_strndup(req->arena, body + 11, strcspn(body + 11, "&"));
    if (!token || !st->csrf || strlen(token) != strlen(st->csrf) ||
        CRYPTO_memcmp(token, st->csrf, strlen(token)) != 0) {
        mfd_auth_refuse_forbidden(req, res);
        return NULL;
    }
    const char *key = sha256_hex(req->arena, session_id);
    const char *username = NULL, *text = NULL;
    int64_t expires = 0;
    bool found = false;
    mfd_conn *conn;
    if ((err = with_conn(auth, &conn)))
        return err;
    err = mfd_sso_store_session_get(conn, req->arena, key, "session", true, &username, &text,
                                    &expires, &found);
    mfd_auth_db_release(auth, conn);
    unsigned char digest[MFD_TOKEN_DIGEST_LEN];
    mfd_token_cache_digest("session", session_id, digest);
    mfd_token_cache_forget(mfd_sso_cache(auth->sso), digest);
    if (err)
        return err;
    json_t *data = found ? json_loads(text, 0, NULL) : NULL;
    const char *id_token = string_of(data, "id_token");
    char *end = mfd_jwks_discovery_value(mfd_sso_jwks(auth->sso), "end_session_endpoint");
    const char *location = "/";
    if (end) {
        location = mfd_arena_sprintf(
            req->arena, "%s%sclient_id=%s%s%s%s%s", end, strchr(end, '?') ? "&" : "?",
            form_escape(req->arena, s->client_id), id_token && *id_token ? "&id_token_hint=" : "",
            id_token && *id_token ? id_token : "",
            s->external_url ? "&post_logout_redirect_uri=" : "",
            s->external_url
                ? form_escape(req->arena, mfd_arena_sprintf(req->arena, "%s/", s->external_url))
                : "");
        free(end);
    }
    json_decref(data);
    mfd_auth_audit(req->username, "logout", req->path, req->username, NULL, "ok");
    redirect(req, res, 303, location);
    set_cookie(req, res, cookie_name(s, true), "", 0);
    return NULL;
}
