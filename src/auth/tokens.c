/* tokens.c — personal access tokens: how API clients of single-sign-on
 * users (who have no usable password) authenticate with the unmodified
 * mlflow client, as MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD.
 *
 * A token is "mlfd_<16 hex id>_<43 base64url secret>" (256 random bits).
 * Only its SHA-256 is stored; the secret is shown once, at creation. The id
 * finds the row, the hash is compared in constant time, and the token must
 * belong to the Basic username. A token of an SSO-bound user runs with that
 * user's last mapped level (the snapshot of sso_store.h), so SSO semantics
 * hold for API clients too; a local user's token acts as the user. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "core/digest.h"
#include "core/escape.h"
#include "core/ids.h"
#include "jose_lib.h"
#include "sso.h"
#include "store/sso_store.h"

enum { ID_HEX = 16, SECRET_CHARS = 43, TOKEN_CHARS = 5 + ID_HEX + 1 + SECRET_CHARS };

bool mfd_auth_token_shaped(const char *password) {
    if (strlen(password) != TOKEN_CHARS || strncmp(password, "mlfd_", 5) != 0 ||
        password[5 + ID_HEX] != '_')
        return false;
    for (int i = 5; i < 5 + ID_HEX; i++)
        if (!((password[i] >= '0' && password[i] <= '9') ||
              (password[i] >= 'a' && password[i] <= 'f')))
            return false;
    return true;
}

mfd_err mfd_auth_token_authenticate(mfd_auth *auth, mfd_request *req, const char *username,
                                    const char *token, mfd_token_outcome *outcome) {
    *outcome = MFD_TOKEN_INVALID;
    char id[ID_HEX + 1];
    memcpy(id, token + 5, ID_HEX);
    id[ID_HEX] = '\0';
    mfd_conn *conn;
    mfd_err err = mfd_auth_db_acquire(auth, &conn);
    if (err)
        return err;
    mfd_sso_token t;
    bool found = false;
    err = mfd_sso_store_token_find(conn, req->arena, id, &t, &found);
    mfd_auth_db_release(auth, conn);
    if (err || !found)
        return err;
    char hex[65];
    mfd_sha256_hex(token, strlen(token), hex);
    bool match = strlen(t.secret_hash) == 64 && CRYPTO_memcmp(hex, t.secret_hash, 64) == 0;
    bool live = t.expires_at == 0 || t.expires_at > mfd_now_ms();
    if (!match || !live || strcmp(t.username, username) != 0)
        return NULL;
    mfd_auth_request *st = req->auth_state;
    req->username = t.username;
    req->is_admin = t.user_is_admin;
    st->pending = false;
    st->user_id = t.user_id;
    st->method = MFD_AUTH_METHOD_TOKEN;
    const mfd_sso_settings *s = auth->sso ? mfd_sso_settings_of(auth->sso) : NULL;
    if (s && s->enabled && t.has_snapshot) {
        mfd_permission level = MFD_PERM_NO_PERMISSIONS;
        mfd_auth_parse_permission(t.snap.permission, &level);
        st->sso = true;
        st->mapped = level;
        /* as for the user's tokens from the issuer: the mapping's admin only */
        req->is_admin = t.snap.is_admin;
        if (!t.snap.allowed) {
            *outcome = MFD_TOKEN_FORBIDDEN;
            return NULL;
        }
    }
    *outcome = MFD_TOKEN_OK;
    return NULL;
}

/* --- the REST calls' logic (api/sso_api.c answers them) ------------------------------- */

/* The user a token call is about: the sender, or anyone for an admin. */
static mfd_err target_user(mfd_request *req, mfd_conn *conn, const char *username,
                           mfd_auth_user *user) {
    if (!username || !*username)
        username = req->username;
    if (strcmp(username, req->username) != 0 && !req->is_admin)
        return mfd_err_new(MFD_PERMISSION_DENIED,
                           "Only admins may manage the access tokens of another user");
    return mfd_auth_store_get_user(conn, req->arena, username, user);
}

static void to_info(const mfd_sso_token *t, const char *username, mfd_auth_token_info *info) {
    info->id = t->token_id;
    info->name = t->name;
    info->username = username;
    info->created_at = t->created_at;
    info->expires_at = t->expires_at;
}

mfd_err mfd_auth_token_create(mfd_request *req, const char *username, const char *name,
                              int64_t expires_in_days, mfd_auth_token_info *info,
                              const char **token) {
    mfd_auth *auth = mfd_auth_of(req);
    /* A token that could make tokens would outlive its own expiry and revocation. */
    const mfd_auth_request *st = req->auth_state;
    if (st && st->method == MFD_AUTH_METHOD_TOKEN)
        return mfd_err_new(MFD_PERMISSION_DENIED,
                           "A personal access token cannot create tokens: sign in with your "
                           "password or through single sign-on");
    if (!name || !*name || strlen(name) > 255)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "A token needs a name of 1 to 255 characters");
    if (expires_in_days < 0 || expires_in_days > 3650)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "expires_in_days must be from 1 to 3650 (0 or absent: never)");
    unsigned char raw[8 + 32];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return mfd_err_new(MFD_INTERNAL_ERROR, "cannot draw random bytes");
    char *secret = mfd_arena_alloc(req->arena, TOKEN_CHARS + 1);
    memcpy(secret, "mlfd_", 5);
    mfd_hex_encode(raw, 8, secret + 5);
    secret[5 + ID_HEX] = '_';
    size_t n = mfd_jose_b64_enc_buf(raw + 8, 32, secret + 6 + ID_HEX, SECRET_CHARS + 1);
    OPENSSL_cleanse(raw, sizeof raw);
    if (n != SECRET_CHARS)
        return mfd_err_new(MFD_INTERNAL_ERROR, "cannot encode the token");
    secret[TOKEN_CHARS] = '\0';
    char hex[65];
    mfd_sha256_hex(secret, strlen(secret), hex);
    mfd_conn *conn;
    mfd_err err = mfd_auth_db_acquire(auth, &conn);
    if (err)
        return err;
    mfd_auth_user user;
    err = target_user(req, conn, username, &user);
    int64_t now = mfd_now_ms();
    mfd_sso_token t = {.token_id = mfd_arena_strndup(req->arena, secret + 5, ID_HEX),
                       .user_id = user.id,
                       .name = name,
                       .secret_hash = hex,
                       .created_at = now,
                       .expires_at = expires_in_days ? now + expires_in_days * 86400000 : 0};
    if (!err)
        err = mfd_sso_store_token_insert(conn, &t);
    mfd_auth_db_release(auth, conn);
    mfd_auth_audit(req->username, "token.create", "user", err ? username : user.username, name,
                   err ? mfd_code_name(err->code) : "ok");
    if (err)
        return err;
    to_info(&t, user.username, info);
    *token = secret;
    return NULL;
}

mfd_err mfd_auth_token_list(mfd_request *req, const char *username, mfd_auth_token_info **out,
                            size_t *n) {
    mfd_auth *auth = mfd_auth_of(req);
    mfd_conn *conn;
    mfd_err err = mfd_auth_db_acquire(auth, &conn);
    if (err)
        return err;
    mfd_auth_user user;
    mfd_sso_token *rows = NULL;
    *n = 0;
    err = target_user(req, conn, username, &user);
    if (!err)
        err = mfd_sso_store_token_list(conn, req->arena, user.id, &rows, n);
    mfd_auth_db_release(auth, conn);
    if (err)
        return err;
    *out = mfd_arena_calloc(req->arena, *n ? *n : 1, sizeof **out);
    for (size_t i = 0; i < *n; i++)
        to_info(&rows[i], user.username, &(*out)[i]);
    return NULL;
}

mfd_err mfd_auth_token_delete(mfd_request *req, const char *token_id) {
    mfd_auth *auth = mfd_auth_of(req);
    mfd_auth_request *st = req->auth_state;
    mfd_conn *conn;
    mfd_err err = mfd_auth_db_acquire(auth, &conn);
    if (err)
        return err;
    bool found = false;
    err = mfd_sso_store_token_delete(conn, token_id, req->is_admin ? -1 : st->user_id, &found);
    mfd_auth_db_release(auth, conn);
    if (!err && !found)
        err =
            mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Access token with id=%s not found", token_id);
    mfd_auth_audit(req->username, "token.delete", "token", NULL, token_id,
                   err ? mfd_code_name(err->code) : "ok");
    return err;
}
