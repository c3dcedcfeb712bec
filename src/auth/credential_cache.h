/* credential_cache.h — Basic credentials verified recently, so the password
 * KDF (32 MiB scrypt) runs once per TTL instead of on every request.
 *
 * An entry is keyed by the keyed hash of username and password
 * (keyed_hash.h) — the password itself is never stored — and remembers the
 * password_hash string it was verified against. A hit requires that the
 * user's row still holds that string, so a password change invalidates the
 * entry at the next request; this process also drops entries at once when
 * it changes or deletes a user.
 *
 * The entry also remembers the user's row (id, admin flag) as last read,
 * under the auth DB's data version read before it, like a decision-cache
 * fact (decision_cache.h): it vouches for the row only while the version is
 * unchanged and for at most row_ttl_ms, so a repeated request needs neither
 * the KDF nor a read of the row. */
#ifndef MFD_AUTH_CREDENTIAL_CACHE_H
#define MFD_AUTH_CREDENTIAL_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"

enum { MFD_CREDENTIAL_DIGEST_LEN = 16 };

typedef struct mfd_credential_cache mfd_credential_cache;

/* What the cache knows of one pair of credentials. */
typedef struct mfd_credential_hit {
    unsigned char digest[MFD_CREDENTIAL_DIGEST_LEN]; /* names the entry for note_row */
    bool keyed;                /* digest was computed (the cache is on, the hash worked) */
    const char *password_hash; /* verified against this hash (arena); NULL = unknown */
    bool row_known;            /* the row below still holds at this data version */
    int64_t user_id;
    bool is_admin;
} mfd_credential_hit;

/* ttl_seconds 0 = never remember (every request verifies); row_ttl_ms 0 =
 * never vouch for a row. NULL when out of memory. */
mfd_credential_cache *mfd_credential_cache_new(int ttl_seconds, int row_ttl_ms);
void mfd_credential_cache_free(mfd_credential_cache *cache);

/* False when these credentials were not verified less than the TTL ago. On a
 * hit, password_hash is set only when the row is not known: the caller then
 * confirms it is still the user's current hash when it reads the row. */
bool mfd_credential_cache_find(mfd_credential_cache *cache, mfd_arena *arena, const char *username,
                               const char *password, uint64_t version, mfd_credential_hit *hit);
/* Verified just now against password_hash; the user's row was read at
 * `version`. */
void mfd_credential_cache_put(mfd_credential_cache *cache, const char *username,
                              const char *password, const char *password_hash, uint64_t version,
                              int64_t user_id, bool is_admin);
/* The row of the entry `digest` names, read again at `version` and found to
 * hold password_hash still. */
void mfd_credential_cache_note_row(mfd_credential_cache *cache,
                                   const unsigned char digest[MFD_CREDENTIAL_DIGEST_LEN],
                                   const char *username, const char *password_hash,
                                   uint64_t version, int64_t user_id, bool is_admin);
void mfd_credential_cache_forget_user(mfd_credential_cache *cache, const char *username);

#endif
