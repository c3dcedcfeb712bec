/* credential_cache.c — the verified-credential cache of credential_cache.h.
 *
 * A fixed table of SHARDS × SLOTS direct-mapped entries (a colliding put
 * replaces the older entry, so memory is bounded whatever the traffic); each
 * shard has its own read-write lock, so concurrent hits never wait on each other. */
#include "credential_cache.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SHARDS = 16, SLOTS = 256, DIGEST_LEN = MFD_CREDENTIAL_DIGEST_LEN };

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
    uint64_t serial;    /* tells this cache's thread contexts from an earlier one's */
    EVP_MAC_CTX *keyed; /* SipHash with the random key; duplicated per thread */
    shard shards[SHARDS];
};

/* Coarse clocks: TTLs of seconds and of half a second. */
static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_seconds(void) {
    return now_ms() / 1000;
}

/* SipHash-2-4 with a 128-bit output: a keyed hash made for short inputs, a
 * third of HMAC-SHA256's cost per request, and as unguessable without the
 * key (which never leaves this process). */
mfd_credential_cache *mfd_credential_cache_new(int ttl_seconds, int row_ttl_ms) {
    mfd_credential_cache *cache = calloc(1, sizeof *cache);
    if (!cache)
        return NULL;
    cache->ttl_seconds = ttl_seconds;
    cache->row_ttl_ms = row_ttl_ms;
    static _Atomic uint64_t serials;
    cache->serial = ++serials;
    unsigned char key[16];
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    cache->keyed = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    size_t digest_len = DIGEST_LEN;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &digest_len),
        OSSL_PARAM_construct_end(),
    };
    if (!cache->keyed || RAND_bytes(key, sizeof key) != 1 ||
        EVP_MAC_init(cache->keyed, key, sizeof key, params) != 1) {
        OPENSSL_cleanse(key, sizeof key);
        EVP_MAC_CTX_free(cache->keyed);
        free(cache);
        return NULL;
    }
    OPENSSL_cleanse(key, sizeof key);
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
    EVP_MAC_CTX_free(cache->keyed);
    free(cache);
}

/* Each thread keeps its own copy of the keyed context and re-arms it
 * with the same key for every digest: duplicating the context per request
 * cost more than the HMAC itself. The copy is freed when the thread ends. */
static pthread_key_t thread_mac_key;
static pthread_once_t thread_mac_once = PTHREAD_ONCE_INIT;

typedef struct thread_mac {
    uint64_t serial; /* of the cache the context was copied from */
    EVP_MAC_CTX *ctx;
} thread_mac;

static void thread_mac_free(void *p) {
    thread_mac *tm = p;
    EVP_MAC_CTX_free(tm->ctx);
    free(tm);
}

static void thread_mac_init(void) {
    pthread_key_create(&thread_mac_key, thread_mac_free);
}

static EVP_MAC_CTX *thread_ctx(mfd_credential_cache *cache) {
    pthread_once(&thread_mac_once, thread_mac_init);
    thread_mac *tm = pthread_getspecific(thread_mac_key);
    if (tm && tm->serial == cache->serial && EVP_MAC_init(tm->ctx, NULL, 0, NULL) == 1)
        return tm->ctx;
    if (!tm && !(tm = calloc(1, sizeof *tm)))
        return NULL;
    EVP_MAC_CTX_free(tm->ctx);
    tm->ctx = EVP_MAC_CTX_dup(cache->keyed);
    tm->serial = tm->ctx ? cache->serial : 0;
    pthread_setspecific(thread_mac_key, tm);
    return tm->ctx;
}

/* The keyed hash of len(username) ‖ username ‖ password: unambiguous even when the
 * username contains ':'. */
static bool credential_digest(mfd_credential_cache *cache, const char *username,
                              const char *password, unsigned char out[DIGEST_LEN]) {
    EVP_MAC_CTX *ctx = thread_ctx(cache);
    if (!ctx)
        return false;
    uint64_t ulen = strlen(username);
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; i++)
        len_bytes[i] = (unsigned char)(ulen >> (8 * i));
    size_t out_len = 0;
    return EVP_MAC_update(ctx, len_bytes, sizeof len_bytes) == 1 &&
           EVP_MAC_update(ctx, (const unsigned char *)username, ulen) == 1 &&
           EVP_MAC_update(ctx, (const unsigned char *)password, strlen(password)) == 1 &&
           EVP_MAC_final(ctx, out, &out_len, DIGEST_LEN) == 1 && out_len == DIGEST_LEN;
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
        !credential_digest(cache, username, password, hit->digest))
        return false;
    shard *sh;
    entry *e = slot_for(cache, hit->digest, &sh);
    int64_t now = now_ms();
    bool found = false;
    pthread_rwlock_rdlock(&sh->lock);
    if (e->expires > now / 1000 && CRYPTO_memcmp(e->digest, hit->digest, DIGEST_LEN) == 0 &&
        strcmp(e->username, username) == 0) {
        found = true;
        hit->row_known = e->row_expires_ms > now && e->row_version == version;
        if (hit->row_known) {
            hit->user_id = e->user_id;
            hit->is_admin = e->is_admin;
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
        !credential_digest(cache, username, password, digest))
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
}
