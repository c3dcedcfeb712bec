/* decision_cache.h — what the authorization step read from the auth DB (a
 * user's permission row on one resource), kept a short while so that a
 * repeated request runs no auth-DB statement at all (the user's own row is
 * kept with their credentials, credential_cache.h).
 *
 * An entry carries the auth DB's data version (mfd_db_data_version) read
 * before the row was, and is used only while the version is unchanged and
 * for at most the TTL. Every write through this process — on SQLite, by any
 * process sharing the file — changes the version, so a grant, revocation,
 * password or admin change or user deletion shows on the next request; on
 * PostgreSQL another replica's change shows within the TTL. */
#ifndef MFD_AUTH_DECISION_CACHE_H
#define MFD_AUTH_DECISION_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mfd_decision_cache mfd_decision_cache;

/* One permission row read: found, and number = the level (an mfd_permission). */
typedef struct mfd_auth_fact {
    bool found;
    int64_t number;
} mfd_auth_fact;

/* NULL when ttl_ms <= 0 (off) or out of memory. */
mfd_decision_cache *mfd_decision_cache_new(int ttl_ms);
void mfd_decision_cache_free(mfd_decision_cache *cache);

/* The fact stored under `key` for this data version, younger than the TTL. */
bool mfd_decision_cache_get(mfd_decision_cache *cache, const char *key, uint64_t version,
                            mfd_auth_fact *out);
void mfd_decision_cache_put(mfd_decision_cache *cache, const char *key, uint64_t version,
                            const mfd_auth_fact *fact);

#endif
