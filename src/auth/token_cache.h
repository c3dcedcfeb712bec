/* token_cache.h — who a verified bearer token (or session cookie, or set of
 * trusted identity headers) turned out to be, so the signature, the claim
 * checks, the role mapping and the user/binding lookup run once per token
 * instead of once per request.
 *
 * Keyed by the keyed hash (keyed_hash.h) of a kind and the credential (the
 * credential is never stored); an entry expires at the earlier of the token's `exp` and
 * the auth cache TTL, and is used only under the auth DB's data version it
 * was read under (mfd_db_data_version: a write here, or on SQLite by any
 * process, retires it). Where other replicas' writes are not seen
 * (PostgreSQL), an entry lives at most `fresh_ms`, the decision cache's bound,
 * so a deleted user, a removed admin flag or binding, or an ended session is
 * seen there as soon as a changed grant is. Bounded: a fixed table of
 * direct-mapped slots (a colliding put replaces the older entry), one mutex
 * per shard. */
#ifndef MFD_AUTH_TOKEN_CACHE_H
#define MFD_AUTH_TOKEN_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"

enum { MFD_TOKEN_DIGEST_LEN = 16 }; /* MFD_KEYED_HASH_LEN */

/* The outcome of one SSO sign-in, as requests use it. */
typedef struct mfd_sso_identity {
    const char *username;
    int64_t user_id;
    int level;          /* mfd_permission mapped from the roles */
    bool is_admin;      /* for this request */
    bool allowed;       /* holds one of allowed_groups (else: 403) */
    const char *roles;  /* '\n'-joined, for the who-am-i endpoint */
    int64_t expires_at; /* unix seconds: the token's exp, the session's end; 0 = none */
    int64_t issued_at;  /* unix seconds: the token's iat; 0 = none (proxy headers) */
    int method;         /* mfd_auth_method */
    const char *csrf;   /* session CSRF token; NULL otherwise */
} mfd_sso_identity;

typedef struct mfd_token_cache mfd_token_cache;

/* fresh_ms > 0 bounds every entry's life from its put (0: no bound). */
mfd_token_cache *mfd_token_cache_new(int fresh_ms);
void mfd_token_cache_free(mfd_token_cache *cache);

/* The keyed hash of kind and credential. */
void mfd_token_cache_digest(const char *kind, const char *credential,
                            unsigned char out[MFD_TOKEN_DIGEST_LEN]);

/* Copies the entry's identity into `arena`; false when absent, expired, or
 * read under another data version. */
bool mfd_token_cache_get(mfd_token_cache *cache, const unsigned char *digest, uint64_t version,
                         mfd_arena *arena, mfd_sso_identity *out);
/* Remembers until `until` (unix seconds; sooner with fresh_ms) for `version`,
 * the data version read before the identity was; strings are copied. */
void mfd_token_cache_put(mfd_token_cache *cache, const unsigned char *digest,
                         const mfd_sso_identity *identity, int64_t until, uint64_t version);
void mfd_token_cache_forget(mfd_token_cache *cache, const unsigned char *digest);
void mfd_token_cache_forget_user(mfd_token_cache *cache, const char *username);

#endif
