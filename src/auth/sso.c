/* sso.c — bearer tokens and trusted proxy headers to a user (R-SSO-1, -4,
 * -6 … -11): verification, the username and roles, the role mapping, the
 * allowed-groups gate, just-in-time provisioning and the (iss, sub) binding.
 *
 * Invariants: a token's signature, claims, mapping and binding are checked
 * once, then its outcome is cached under the token's hash until its `exp`
 * (or the auth cache TTL, if shorter) — a request with a known token touches
 * no database to authenticate. Nothing here writes permission rows; the
 * auth DB is written only when a user or binding is new or its mapped
 * level changed. Tokens, cookies and Authorization headers are never
 * logged (reasons, usernames and subjects are, quoted). */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "passwords.h"
#include "sso.h"
#include "core/http_client.h"
#include "store/sso_store.h"

struct mfd_sso {
    mfd_sso_settings *settings;
    mfd_jwks *jwks; /* NULL unless bearer or native */
    mfd_token_cache *cache;
    int ttl_seconds; /* auth_cache_ttl_seconds */
};

const mfd_sso_settings *mfd_sso_settings_of(const mfd_sso *sso) {
    return sso->settings;
}

mfd_jwks *mfd_sso_jwks(mfd_sso *sso) {
    return sso->jwks;
}

mfd_token_cache *mfd_sso_cache(mfd_sso *sso) {
    return sso->cache;
}

static const char *permission_name(int level) {
    static const char *const names[] = {"NO_PERMISSIONS", "READ", "EDIT", "MANAGE"};
    return level >= 0 && level < 4 ? names[level] : "NO_PERMISSIONS";
}

mfd_err mfd_sso_open(mfd_auth *auth, mfd_sso **out) {
    mfd_sso *sso = calloc(1, sizeof *sso);
    if (!sso)
        abort();
    sso->ttl_seconds = auth->settings->cache_ttl_seconds;
    mfd_http_client_init();
    mfd_err err = mfd_sso_settings_load(auth->ini, &sso->settings);
    int fresh_ms = mfd_db_sees_other_writers(auth->db) ? 0 : MFD_AUTH_ROW_TTL_MS;
    if (!err && !(sso->cache = mfd_token_cache_new(fresh_ms)))
        err = mfd_err_new(MFD_INTERNAL_ERROR, "out of memory");
    const mfd_sso_settings *s = sso->settings;
    if (!err && s->enabled && s->issuer && (s->bearer || s->native)) {
        mfd_jwks_options o = {.issuer = s->issuer,
                              .discovery_url = s->discovery_url,
                              .jwks_url = s->jwks_url,
                              .ca_file = s->ca_file,
                              .cache_seconds = s->jwks_cache_seconds,
                              .refetch_seconds = s->jwks_refetch_seconds,
                              .need_discovery = s->native};
        err = mfd_jwks_open(&o, &sso->jwks);
    }
    if (err) {
        mfd_sso_close(sso);
        return err;
    }
    if (s->enabled)
        mfd_log_info("auth: single sign-on on: basic %s, bearer %s, trusted headers %s, native "
                     "login %s; issuer %s; mapping %s, unmapped users %s",
                     s->basic ? "on" : "off", s->bearer ? "on" : "off",
                     s->trusted_header ? "on" : "off", s->native ? "on" : "off",
                     s->issuer ? s->issuer : "(none)", s->authoritative ? "authoritative" : "floor",
                     permission_name(s->unmapped));
    *out = sso;
    return NULL;
}

void mfd_sso_close(mfd_sso *sso) {
    if (!sso)
        return;
    mfd_jwks_close(sso->jwks);
    mfd_token_cache_free(sso->cache);
    mfd_sso_settings_free(sso->settings);
    free(sso);
    mfd_http_client_cleanup();
}

/* --- answers ---------------------------------------------------------------- */

void mfd_sso_refuse_token(mfd_request *req, mfd_response *res, const char *why) {
    mfd_err err = mfd_err_new(MFD_UNAUTHENTICATED, "Bearer token rejected: %s", why);
    mfd_auth_refuse_error(req, res, err);
    mfd_response_header(res, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
}

void mfd_sso_apply(mfd_request *req, const mfd_sso_identity *id) {
    mfd_auth_request *st = req->auth_state;
    req->username = id->username;
    req->is_admin = id->is_admin;
    st->pending = false;
    st->user_id = id->user_id;
    st->sso = true;
    st->mapped = (mfd_permission)id->level;
    st->method = id->method;
    st->roles = id->roles;
    st->expires_at = id->expires_at;
    st->csrf = id->csrf;
}

/* --- identity ---------------------------------------------------------------- */

/* The legacy platform hook set password = sub: such a password is retired
 * the first time the subject's token names the user. */
static mfd_err retire_legacy_password(mfd_conn *conn, int64_t user_id, const char *password_hash,
                                      const char *subject, const char *username) {
    if (!user_id || !password_hash || !mfd_auth_password_verify(password_hash, subject))
        return NULL;
    mfd_err err = mfd_sso_store_make_password_unusable(conn, user_id);
    mfd_auth_audit("mlflowd", "user.password_unusable", "user", username,
                   "legacy password equal to the token subject", err ? "error" : "ok");
    return err;
}

/* When what the identity says was said: the token's iat; 0 (unknown) for
 * proxy headers, which order with nothing (sso_store.h). */
static int64_t as_of(const mfd_sso_identity *id) {
    return id->issued_at > 0 ? id->issued_at : 0;
}

/* A sign-in outside the allowed groups, kept where it matters: the bound
 * identity's snapshot (its personal access tokens stop working), and a
 * legacy password equal to the subject on the row it would claim, retired
 * as a successful first sign-in retires it. No user is created. */
static mfd_err record_refusal(mfd_auth *auth, mfd_arena *arena, const char *issuer,
                              const char *subject, const mfd_sso_identity *id) {
    mfd_sso_snapshot snap = {permission_name(id->level), false, false, as_of(id)};
    mfd_conn *conn;
    mfd_err err = mfd_auth_db_acquire(auth, &conn);
    if (err)
        return err;
    mfd_sso_refusal r;
    err = mfd_sso_store_refuse(conn, arena, issuer, subject, id->username, &snap, &r);
    if (!err)
        err = retire_legacy_password(conn, r.unbound_user_id, r.unbound_password_hash, subject,
                                     id->username);
    mfd_auth_db_release(auth, conn);
    return err;
}

/* Maps the roles, applies the allowed-groups gate, then finds or makes the
 * user and its binding. *refusal set (a 403) when the user may not in. */
static mfd_err resolve(mfd_auth *auth, mfd_arena *arena, const char *issuer, const char *subject,
                       mfd_sso_identity *id, const char **refusal) {
    const mfd_sso_settings *s = auth->sso->settings;
    *refusal = NULL;
    mfd_sso_map_roles(s, id->roles, id);
    if (!strcmp(id->username, auth->settings->admin_username)) {
        *refusal = "the username is reserved for the local admin";
        return NULL;
    }
    if (!id->allowed) {
        *refusal = "not in any of the allowed groups";
        id->is_admin = false;
        return record_refusal(auth, arena, issuer, subject, id);
    }
    mfd_sso_snapshot snap = {permission_name(id->level), id->is_admin, id->allowed, as_of(id)};
    mfd_conn *conn;
    mfd_err err = mfd_auth_db_acquire(auth, &conn);
    if (err)
        return err;
    mfd_sso_binding b;
    err = mfd_sso_store_bind(conn, arena, issuer, subject, id->username, &snap, &b);
    if (!err && b.result == MFD_SSO_SUBJECT_MISMATCH)
        *refusal = "the username is bound to another identity of the issuer (an admin can "
                   "re-bind it)";
    else if (!err && b.result == MFD_SSO_USERNAME_MISMATCH)
        *refusal = "this identity is bound to another username (an admin can re-bind it)";
    if (!err && !*refusal && b.newly_bound)
        err = retire_legacy_password(conn, b.user_id, b.password_hash, subject, id->username);
    mfd_auth_db_release(auth, conn);
    if (err || *refusal)
        return err;
    if (b.created)
        mfd_auth_audit("mlflowd", "user.create", "user", id->username, "single sign-on", "ok");
    id->user_id = b.user_id;
    return NULL;
}

static void remember(mfd_sso *sso, const unsigned char *digest, const mfd_sso_identity *id,
                     int64_t token_exp, uint64_t version) {
    if (sso->ttl_seconds <= 0)
        return;
    int64_t until = (int64_t)time(NULL) + sso->ttl_seconds;
    if (token_exp > 0 && token_exp < until)
        until = token_exp;
    mfd_token_cache_put(sso->cache, digest, id, until, version);
}

/* The auth DB's data version, read before anything of this request is. */
static uint64_t version_now(mfd_auth *auth, mfd_request *req) {
    return mfd_auth_data_version(auth, mfd_auth_request_state(auth, req));
}

static void deny(mfd_request *req, mfd_response *res, const char *username, const char *why,
                 bool *refused) {
    mfd_auth_audit(username, "login", req->path, username, why, "forbidden");
    mfd_auth_refuse_forbidden(req, res);
    *refused = true;
}

/* --- bearer tokens ------------------------------------------------------------ */

const char *mfd_sso_bearer_token(mfd_auth *auth, const mfd_request *req) {
    const mfd_sso_settings *s = auth->sso ? auth->sso->settings : NULL;
    if (!s || !s->enabled || !s->bearer || !req->header)
        return NULL;
    const char *h = req->header(req, "Authorization");
    while (h && (*h == ' ' || *h == '\t'))
        h++;
    if (h && !strncasecmp(h, "bearer", 6) && (h[6] == ' ' || h[6] == '\t')) {
        h += 7;
        while (*h == ' ' || *h == '\t')
            h++;
        return h;
    }
    if (h && *h)
        return NULL; /* another scheme (Basic) */
    if (!mfd_sso_peer_trusted(s, req->peer_addr))
        return NULL;
    const char *forwarded = req->header(req, "X-Forwarded-Access-Token");
    if (forwarded && !strncasecmp(forwarded, "bearer ", 7))
        forwarded += 7;
    return forwarded && *forwarded ? forwarded : NULL;
}

/* Parse, key, signature, claims. */
static bool verify(mfd_sso *sso, const char *token, const mfd_jwt_expect *expect, mfd_jwt *jwt,
                   const char **why) {
    const mfd_sso_settings *s = sso->settings;
    if (!sso->jwks)
        return *why = "no issuer is configured", false;
    if (!mfd_jwt_parse(token, &s->algorithms, jwt, why))
        return false;
    json_t *key = mfd_jwks_find(sso->jwks, jwt->kid, jwt->alg);
    bool ok = key != NULL;
    if (!ok)
        *why = "no signing key of the issuer matches the token's kid and alg";
    else if (!(ok = mfd_jwt_verify(jwt, key)))
        *why = "bad signature";
    json_decref(key);
    if (ok)
        ok = mfd_jwt_check_claims(jwt, expect, (int64_t)time(NULL), why);
    if (!ok)
        mfd_jwt_free(jwt);
    return ok;
}

/* Username, subject and roles of verified claims. */
static bool read_claims(const mfd_sso_settings *s, const json_t *claims, mfd_arena *arena,
                        mfd_sso_identity *id, const char **subject, const char **why) {
    mfd_strbuf roles;
    mfd_strbuf_init(&roles, arena);
    mfd_strbuf_append(&roles, "");
    const char *username;
    *subject = json_string_value(json_object_get(claims, "sub"));
    if (!*subject || !**subject)
        return *why = "token has no sub", false;
    if (strlen(*subject) > 255) /* OIDC Core: at most 255 ASCII characters */
        return *why = "the token's sub is longer than 255 bytes", false;
    if (!mfd_sso_claims_username(s, claims, &username, why) ||
        !mfd_sso_claims_roles(s, claims, arena, &roles, why))
        return false;
    id->username = mfd_arena_strdup(arena, username);
    id->roles = roles.data;
    int64_t exp;
    bool bad;
    id->expires_at = mfd_jwt_time_claim(claims, "exp", &exp, &bad) ? exp : 0;
    id->issued_at = mfd_jwt_time_claim(claims, "iat", &exp, &bad) ? exp : 0;
    return true;
}

mfd_err mfd_sso_authenticate_bearer(mfd_auth *auth, mfd_request *req, const char *token,
                                    mfd_response *res, bool *refused) {
    mfd_sso *sso = auth->sso;
    const mfd_sso_settings *s = sso->settings;
    unsigned char digest[MFD_TOKEN_DIGEST_LEN];
    mfd_token_cache_digest("bearer", token, digest);
    mfd_sso_identity id = {0};
    uint64_t version = version_now(auth, req);
    if (mfd_token_cache_get(sso->cache, digest, version, req->arena, &id)) {
        if (!id.allowed) {
            deny(req, res, id.username, "not in any of the allowed groups", refused);
            return NULL;
        }
        mfd_sso_apply(req, &id);
        return NULL;
    }
    mfd_jwt jwt;
    const char *why = NULL, *subject = NULL, *refusal = NULL;
    mfd_jwt_expect expect = {.issuer = s->issuer,
                             .audiences = &s->audiences,
                             .azp = &s->allowed_azp,
                             .types = &s->token_types,
                             .leeway_seconds = s->leeway_seconds};
    if (!verify(sso, token, &expect, &jwt, &why)) {
        mfd_auth_audit(NULL, "login", req->path, NULL, why, "invalid_token");
        mfd_sso_refuse_token(req, res, why);
        *refused = true;
        return NULL;
    }
    id.method = MFD_AUTH_METHOD_BEARER;
    bool claims_ok = read_claims(s, jwt.claims, req->arena, &id, &subject, &why);
    subject = subject ? mfd_arena_strdup(req->arena, subject) : NULL;
    mfd_jwt_free(&jwt);
    if (!claims_ok) {
        mfd_auth_audit(subject, "login", req->path, NULL, why, "invalid_token");
        mfd_sso_refuse_token(req, res, why);
        *refused = true;
        return NULL;
    }
    mfd_err err = resolve(auth, req->arena, s->issuer, subject, &id, &refusal);
    if (err)
        return err;
    if (refusal) {
        if (!id.allowed)
            remember(sso, digest, &id, id.expires_at, version);
        deny(req, res, id.username, refusal, refused);
        return NULL;
    }
    remember(sso, digest, &id, id.expires_at, version);
    mfd_sso_apply(req, &id);
    return NULL;
}

mfd_err mfd_sso_resolve_id_token(mfd_auth *auth, mfd_arena *arena, const char *id_token,
                                 const char *nonce, mfd_sso_identity *id, const char **refusal) {
    const mfd_sso_settings *s = auth->sso->settings;
    mfd_strlist audience = {(char **)&s->client_id, 1};
    mfd_jwt_expect expect = {.issuer = s->issuer,
                             .audiences = &audience,
                             .types = &s->token_types,
                             .leeway_seconds = s->leeway_seconds,
                             .nonce = nonce};
    mfd_jwt jwt;
    const char *why = NULL, *subject = NULL;
    memset(id, 0, sizeof *id);
    *refusal = NULL;
    if (!verify(auth->sso, id_token, &expect, &jwt, &why)) {
        *refusal = mfd_arena_sprintf(arena, "the ID token was refused: %s", why);
        return NULL;
    }
    bool ok = read_claims(s, jwt.claims, arena, id, &subject, &why);
    subject = subject ? mfd_arena_strdup(arena, subject) : NULL;
    mfd_jwt_free(&jwt);
    if (!ok) {
        *refusal = mfd_arena_sprintf(arena, "the ID token was refused: %s", why);
        return NULL;
    }
    id->method = MFD_AUTH_METHOD_SESSION;
    return resolve(auth, arena, s->issuer, subject, id, refusal);
}

/* --- trusted proxy headers -------------------------------------------------------- */

static const char *header_for_claim(const char *claim) {
    if (!strcmp(claim, "preferred_username"))
        return "X-Forwarded-Preferred-Username";
    if (!strcmp(claim, "email"))
        return "X-Forwarded-Email";
    if (!strcmp(claim, "sub"))
        return "X-Forwarded-User";
    return NULL;
}

mfd_err mfd_sso_authenticate_headers(mfd_auth *auth, mfd_request *req, mfd_response *res,
                                     bool *refused, bool *handled) {
    mfd_sso *sso = auth->sso;
    const mfd_sso_settings *s = sso->settings;
    *handled = false;
    if (!s->enabled || !s->trusted_header || !mfd_sso_peer_trusted(s, req->peer_addr))
        return NULL;
    const char *username = NULL;
    for (size_t i = 0; !username && i < s->username_claims.n; i++) {
        const char *name = header_for_claim(s->username_claims.items[i]);
        const char *v = name ? req->header(req, name) : NULL;
        if (v && *v)
            username = v;
    }
    if (!username)
        return NULL;
    *handled = true;
    const char *subject = req->header(req, "X-Forwarded-User");
    if (!subject || !*subject)
        subject = username;
    /* As for token claims: a first header that names no one refuses the
     * request, never the next header instead. */
    const char *problem = mfd_sso_username_problem(username);
    if (problem || (problem = mfd_sso_username_problem(subject))) {
        deny(req, res, NULL,
             mfd_arena_sprintf(req->arena, "the proxy's identity header is %s", problem), refused);
        return NULL;
    }
    const char *groups = req->header_all ? req->header_all(req, "X-Forwarded-Groups") : NULL;
    /* The cache key covers everything the proxy asserted. */
    const char *asserted =
        mfd_arena_sprintf(req->arena, "%s\n%s\n%s", username, subject, groups ? groups : "");
    unsigned char digest[MFD_TOKEN_DIGEST_LEN];
    mfd_token_cache_digest("headers", asserted, digest);
    mfd_sso_identity id = {0};
    uint64_t version = version_now(auth, req);
    if (mfd_token_cache_get(sso->cache, digest, version, req->arena, &id)) {
        if (!id.allowed)
            deny(req, res, id.username, "not in any of the allowed groups", refused);
        else
            mfd_sso_apply(req, &id);
        return NULL;
    }
    mfd_strbuf roles;
    mfd_strbuf_init(&roles, req->arena);
    mfd_strbuf_append(&roles, "");
    mfd_sso_header_roles(groups, &roles);
    id.username = mfd_arena_strdup(req->arena, username);
    id.roles = roles.data;
    id.method = MFD_AUTH_METHOD_TRUSTED_HEADER;
    const char *refusal = NULL;
    mfd_err err = resolve(auth, req->arena, s->issuer ? s->issuer : MFD_SSO_HEADER_ISSUER, subject,
                          &id, &refusal);
    if (err)
        return err;
    if (refusal) {
        if (!id.allowed)
            remember(sso, digest, &id, 0, version);
        deny(req, res, id.username, refusal, refused);
        return NULL;
    }
    remember(sso, digest, &id, 0, version);
    mfd_sso_apply(req, &id);
    return NULL;
}
