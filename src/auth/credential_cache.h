/* credential_cache.h — Basic credentials verified recently, so the password
 * KDF (32 MiB scrypt) runs once per TTL instead of on every request.
 *
 * An entry is keyed by HMAC-SHA256(per-process random key, username +
 * password) — the password itself is never stored — and remembers the
 * password_hash string it was verified against. A hit requires that the
 * user's row (read afresh, or remembered by the decision cache while the auth
 * DB is unchanged) still holds that string, so a password change invalidates
 * the entry at the next request; this process also drops entries at once
 * when it changes or deletes a user. */
#ifndef MFD_AUTH_CREDENTIAL_CACHE_H
#define MFD_AUTH_CREDENTIAL_CACHE_H

#include <stdbool.h>

#include "core/arena.h"

typedef struct mfd_credential_cache mfd_credential_cache;

/* ttl_seconds 0 = never remember (every request verifies). NULL on failure. */
mfd_credential_cache *mfd_credential_cache_new(int ttl_seconds);
void mfd_credential_cache_free(mfd_credential_cache *cache);

/* The password_hash these credentials were verified against less than the
 * TTL ago (copied into arena, NULL when unknown): the caller confirms it is
 * still the user's current hash when it next reads the user's row. */
const char *mfd_credential_cache_find(mfd_credential_cache *cache, mfd_arena *arena,
                                      const char *username, const char *password);
void mfd_credential_cache_put(mfd_credential_cache *cache, const char *username,
                              const char *password, const char *password_hash);
void mfd_credential_cache_forget_user(mfd_credential_cache *cache, const char *username);

#endif
