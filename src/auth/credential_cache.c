/* credential_cache.c — the verified-credential cache of credential_cache.h.
 *
 * A fixed table of SHARDS × SLOTS direct-mapped entries (a colliding put
 * replaces the older entry, so memory is bounded whatever the traffic); each
 * shard has its own read-write lock, so concurrent hits never wait on each
 * other. In front of it, each thread remembers its own last hit (memo). */
#include "credential_cache.h"

#include "keyed_hash.h"
#include "thread_memo.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SHARDS = 16, SLOTS = 256, DIGEST_LEN = MFD_CREDENTIAL_DIGEST_LEN, MEMO_NAME_MAX = 256 };
_Static_assert((int)DIGEST_LEN == (int)MFD_KEYED_HASH_LEN, "the entry key is the keyed hash");

typedef struct entry {
    unsigned char digest[DIGEST_LEN];
    char *username;      /* owned */
    char *password_hash; /* owned; what the credentials were verified against */
    int64_t expires;     /* monotonic seconds; 0 = empty */
    /* The user's row, as read at row_version; trusted until row_expires_ms. */
    uint64_t row_version;
    int64_t row_expires_ms; /* monotonic; 0 = no row */
    int64_t user_id;
    bool is_admin;
} entry;

typedef struct shard {
    pthread_rwlock_t lock; /* readers share it: hits do not queue */
    entry slots[SLOTS];
} shard;

struct mfd_credential_cache {
    int ttl_seconds;
    int row_ttl_ms;
    mfd_memo_owner memos; /* voided by every put and forget */
    shard shards[SHARDS];
};

/* Each thread's last hit whose row was known. libmicrohttpd serves each
 * connection on its own thread, so a client's repeated requests find their
 * answer here without touching the shared table: with every thread taking
 * the same hot shard's lock, the lock's cache line moving between cores
 * cost more than the rest of the lookup. */
typedef struct memo {
    mfd_memo_stamp stamp;
    unsigned char digest[DIGEST_LEN];
    char username[MEMO_NAME_MAX];
    int64_t expires; /* of the credentials, monotonic seconds */
    uint64_t row_version;
    int64_t row_expires_ms;
    int64_t user_id;
    bool is_admin;
} memo;

MFD_THREAD_MEMO memo last;

static void remember_hit(mfd_memo_stamp stamp, const entry *e) {
    size_t len = strlen(e->username);
    if (len >= MEMO_NAME_MAX)
        return;
    last.stamp = stamp;
    memcpy(last.digest, e->digest, DIGEST_LEN);
    memcpy(last.username, e->username, len + 1);
    last.expires = e->expires;
    last.row_version = e->row_version;
    last.row_expires_ms = e->row_expires_ms;
    last.user_id = e->user_id;
    last.is_admin = e->is_admin;
}

static bool memo_hit(const mfd_credential_cache *cache, const char *username, uint64_t version,
                     int64_t now, mfd_credential_hit *hit) {
    if (!mfd_memo_current(last.stamp, &cache->memos) || last.row_version != version ||
        last.row_expires_ms <= now || last.expires <= now / 1000 ||
        CRYPTO_memcmp(last.digest, hit->digest, DIGEST_LEN) != 0 ||
        strcmp(last.username, username) != 0)
        return false;
    hit->row_known = true;
    hit->user_id = last.user_id;
    hit->is_admin = last.is_admin;
    return true;
}

/* Coarse clocks: TTLs of seconds and of half a second. */
static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_seconds(void) {
    return now_ms() / 1000;
}

mfd_credential_cache *mfd_credential_cache_new(int ttl_seconds, int row_ttl_ms) {
    mfd_credential_cache *cache = calloc(1, sizeof *cache);
    if (!cache)
        return NULL;
    cache->ttl_seconds = ttl_seconds;
    cache->row_ttl_ms = row_ttl_ms;
    mfd_memo_owner_init(&cache->memos);
    for (int s = 0; s < SHARDS; s++)
        pthread_rwlock_init(&cache->shards[s].lock, NULL);
    return cache;
}

static void clear_entry(entry *e) {
    free(e->username);
    free(e->password_hash);
    memset(e, 0, sizeof *e);
}

void mfd_credential_cache_free(mfd_credential_cache *cache) {
    if (!cache)
        return;
    for (int s = 0; s < SHARDS; s++) {
        for (int i = 0; i < SLOTS; i++)
            clear_entry(&cache->shards[s].slots[i]);
        pthread_rwlock_destroy(&cache->shards[s].lock);
    }
    free(cache);
}

static bool credential_digest(const char *username, const char *password,
                              unsigned char out[DIGEST_LEN]) {
    const char *parts[] = {username, password};
    return mfd_keyed_hash(parts, 2, out);
}

static entry *slot_for(mfd_credential_cache *cache, const unsigned char *digest, shard **sh) {
    unsigned s = digest[0] % SHARDS;
    unsigned i = ((unsigned)digest[1] | (unsigned)digest[2] << 8) % SLOTS;
    *sh = &cache->shards[s];
    return &cache->shards[s].slots[i];
}

bool mfd_credential_cache_find(mfd_credential_cache *cache, mfd_arena *arena, const char *username,
                               const char *password, uint64_t version, mfd_credential_hit *hit) {
    memset(hit, 0, sizeof *hit);
    if (!cache || cache->ttl_seconds <= 0 ||
        !(hit->keyed = credential_digest(username, password, hit->digest)))
        return false;
    int64_t now = now_ms();
    if (memo_hit(cache, username, version, now, hit))
        return true;
    shard *sh;
    entry *e = slot_for(cache, hit->digest, &sh);
    bool found = false;
    mfd_memo_stamp stamp = mfd_memo_stamp_now(&cache->memos);
    pthread_rwlock_rdlock(&sh->lock);
    if (e->expires > now / 1000 && CRYPTO_memcmp(e->digest, hit->digest, DIGEST_LEN) == 0 &&
        strcmp(e->username, username) == 0) {
        found = true;
        hit->row_known = e->row_expires_ms > now && e->row_version == version;
        if (hit->row_known) {
            hit->user_id = e->user_id;
            hit->is_admin = e->is_admin;
            remember_hit(stamp, e);
        } else {
            hit->password_hash = mfd_arena_strdup(arena, e->password_hash);
            found = hit->password_hash != NULL;
        }
    }
    pthread_rwlock_unlock(&sh->lock);
    return found;
}

static void set_row(mfd_credential_cache *cache, entry *e, uint64_t version, int64_t user_id,
                    bool is_admin) {
    e->row_version = version;
    e->row_expires_ms = cache->row_ttl_ms > 0 ? now_ms() + cache->row_ttl_ms : 0;
    e->user_id = user_id;
    e->is_admin = is_admin;
}

void mfd_credential_cache_put(mfd_credential_cache *cache, const char *username,
                              const char *password, const char *password_hash, uint64_t version,
                              int64_t user_id, bool is_admin) {
    unsigned char digest[DIGEST_LEN];
    if (!cache || cache->ttl_seconds <= 0 || !password_hash ||
        !credential_digest(username, password, digest))
        return;
    char *user_copy = strdup(username), *hash_copy = strdup(password_hash);
    if (!user_copy || !hash_copy) {
        free(user_copy);
        free(hash_copy);
        return;
    }
    shard *sh;
    entry *e = slot_for(cache, digest, &sh);
    pthread_rwlock_wrlock(&sh->lock);
    clear_entry(e);
    memcpy(e->digest, digest, DIGEST_LEN);
    e->username = user_copy;
    e->password_hash = hash_copy;
    e->expires = now_seconds() + cache->ttl_seconds;
    set_row(cache, e, version, user_id, is_admin);
    mfd_memo_void_all(&cache->memos);
    pthread_rwlock_unlock(&sh->lock);
}

void mfd_credential_cache_note_row(mfd_credential_cache *cache,
                                   const unsigned char digest[MFD_CREDENTIAL_DIGEST_LEN],
                                   const char *username, const char *password_hash,
                                   uint64_t version, int64_t user_id, bool is_admin) {
    if (!cache || cache->row_ttl_ms <= 0)
        return;
    shard *sh;
    entry *e = slot_for(cache, digest, &sh);
    pthread_rwlock_wrlock(&sh->lock);
    /* The entry may have been replaced or forgotten since it was found. */
    if (e->expires && CRYPTO_memcmp(e->digest, digest, DIGEST_LEN) == 0 &&
        strcmp(e->username, username) == 0 && strcmp(e->password_hash, password_hash) == 0)
        set_row(cache, e, version, user_id, is_admin);
    pthread_rwlock_unlock(&sh->lock);
}

void mfd_credential_cache_forget_user(mfd_credential_cache *cache, const char *username) {
    if (!cache)
        return;
    for (int s = 0; s < SHARDS; s++) {
        shard *sh = &cache->shards[s];
        pthread_rwlock_wrlock(&sh->lock);
        for (int i = 0; i < SLOTS; i++)
            if (sh->slots[i].expires && strcmp(sh->slots[i].username, username) == 0)
                clear_entry(&sh->slots[i]);
        pthread_rwlock_unlock(&sh->lock);
    }
    /* After the entries are gone: a find that read the old epoch made a memo
     * this voids; one that reads the new one finds no entry. */
    mfd_memo_void_all(&cache->memos);
}
