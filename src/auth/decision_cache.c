/* decision_cache.c — the cache of decision_cache.h.
 *
 * Like the credential cache: SHARDS × SLOTS direct-mapped entries (a
 * colliding put replaces the older entry, so memory is bounded whatever the
 * traffic), a lock per shard. Slots are chosen by a hash seeded at random
 * per process, so nobody can aim a key at another's slot on purpose. */
#include "decision_cache.h"

#include "thread_memo.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SHARDS = 16, SLOTS = 512, MEMO_KEY_MAX = 256 };

typedef struct entry {
    char *key; /* owned; NULL = empty */
    uint64_t version;
    int64_t expires_ms; /* monotonic */
    mfd_auth_fact fact;
} entry;

typedef struct shard {
    pthread_rwlock_t lock; /* readers share it: hits do not queue */
    entry slots[SLOTS];
} shard;

struct mfd_decision_cache {
    int ttl_ms;
    uint64_t seed;
    mfd_memo_owner memos; /* never voided: facts end by version and TTL */
    shard shards[SHARDS];
};

/* Each thread's last fact, found or put: as in credential_cache.c, a
 * client's repeated request on its connection's thread is answered without
 * the shared table's lock, whose cache line every thread would pull over.
 * Facts have no other invalidation than their version and TTL, which the
 * memo keeps too. */
typedef struct memo {
    mfd_memo_stamp stamp;
    char key[MEMO_KEY_MAX];
    uint64_t version;
    int64_t expires_ms;
    mfd_auth_fact fact;
} memo;

MFD_THREAD_MEMO memo last;

static void remember(const mfd_decision_cache *cache, const char *key, uint64_t version,
                     int64_t expires_ms, const mfd_auth_fact *fact) {
    size_t len = strlen(key);
    if (len >= MEMO_KEY_MAX)
        return;
    last.stamp = mfd_memo_stamp_now(&cache->memos);
    memcpy(last.key, key, len + 1);
    last.version = version;
    last.expires_ms = expires_ms;
    last.fact = *fact;
}

/* The coarse clock is enough for a TTL of a fraction of a second, and
 * costs next to nothing. */
static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Eight bytes a step: keys carry a password hash and run to 150 bytes. */
static uint64_t hash_key(uint64_t seed, const char *key) {
    size_t len = strlen(key), i = 0;
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ull), w;
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, key + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    w = 0;
    memcpy(&w, key + i, len - i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

mfd_decision_cache *mfd_decision_cache_new(int ttl_ms) {
    if (ttl_ms <= 0)
        return NULL;
    mfd_decision_cache *cache = calloc(1, sizeof *cache);
    if (!cache)
        return NULL;
    cache->ttl_ms = ttl_ms;
    mfd_memo_owner_init(&cache->memos);
    if (RAND_bytes((unsigned char *)&cache->seed, sizeof cache->seed) != 1)
        cache->seed = (uint64_t)now_ms() * 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < SHARDS; i++)
        pthread_rwlock_init(&cache->shards[i].lock, NULL);
    return cache;
}

void mfd_decision_cache_free(mfd_decision_cache *cache) {
    if (!cache)
        return;
    for (int i = 0; i < SHARDS; i++) {
        for (int j = 0; j < SLOTS; j++)
            free(cache->shards[i].slots[j].key);
        pthread_rwlock_destroy(&cache->shards[i].lock);
    }
    free(cache);
}

static entry *slot_of(mfd_decision_cache *cache, const char *key, shard **sh) {
    uint64_t h = hash_key(cache->seed, key);
    *sh = &cache->shards[h % SHARDS];
    return &(*sh)->slots[(h / SHARDS) % SLOTS];
}

bool mfd_decision_cache_get(mfd_decision_cache *cache, const char *key, uint64_t version,
                            mfd_auth_fact *out) {
    int64_t now = now_ms();
    if (mfd_memo_current(last.stamp, &cache->memos) && last.version == version &&
        last.expires_ms > now && !strcmp(last.key, key)) {
        *out = last.fact;
        return true;
    }
    shard *sh;
    entry *e = slot_of(cache, key, &sh);
    pthread_rwlock_rdlock(&sh->lock);
    bool hit = e->key && e->version == version && e->expires_ms > now && !strcmp(e->key, key);
    if (hit) {
        *out = e->fact;
        remember(cache, key, version, e->expires_ms, out);
    }
    pthread_rwlock_unlock(&sh->lock);
    return hit;
}

void mfd_decision_cache_put(mfd_decision_cache *cache, const char *key, uint64_t version,
                            const mfd_auth_fact *fact) {
    shard *sh;
    entry *e = slot_of(cache, key, &sh);
    int64_t expires = now_ms() + cache->ttl_ms;
    pthread_rwlock_wrlock(&sh->lock);
    if (!e->key || strcmp(e->key, key) != 0) {
        char *copy = strdup(key);
        if (!copy) {
            pthread_rwlock_unlock(&sh->lock);
            return;
        }
        free(e->key);
        e->key = copy;
    }
    e->version = version;
    e->expires_ms = expires;
    e->fact = *fact;
    pthread_rwlock_unlock(&sh->lock);
    remember(cache, key, version, expires, fact);
}
