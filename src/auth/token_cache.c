/* token_cache.c — the verified-token cache of token_cache.h: SHARDS × SLOTS
 * direct-mapped entries, each owning malloc'd copies of its strings; in
 * front of them, each thread's last hit (memo). */
#include "token_cache.h"

#include "core/ids.h"
#include "keyed_hash.h"
#include "thread_memo.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SHARDS = 16, SLOTS = 512, MEMO_NAME_MAX = 256, MEMO_ROLES_MAX = 2048, MEMO_CSRF_MAX = 128 };
_Static_assert((int)MFD_TOKEN_DIGEST_LEN == (int)MFD_KEYED_HASH_LEN, "the key is the keyed hash");

typedef struct entry {
    unsigned char digest[MFD_TOKEN_DIGEST_LEN];
    int64_t until;       /* unix ms; 0 = empty */
    uint64_t version;    /* the auth DB's data version the identity was read under */
    mfd_sso_identity id; /* strings owned */
} entry;

typedef struct shard {
    pthread_rwlock_t lock; /* readers share it: hits do not queue */
    entry slots[SLOTS];
} shard;

struct mfd_token_cache {
    mfd_memo_owner memos; /* voided after every put and forget */
    int fresh_ms;         /* > 0: an entry's life from its put is at most this */
    shard shards[SHARDS];
};

/* Each thread's last hit, strings included. As in credential_cache.c: a
 * client's repeated request on its connection's thread skips the shared
 * table, whose hot shard lock every thread would pull between cores. */
typedef struct memo {
    mfd_memo_stamp stamp;
    unsigned char digest[MFD_TOKEN_DIGEST_LEN];
    int64_t until;
    uint64_t version;
    mfd_sso_identity id; /* strings point into the buffers below (or are NULL) */
    char username[MEMO_NAME_MAX], roles[MEMO_ROLES_MAX], csrf[MEMO_CSRF_MAX];
} memo;

MFD_THREAD_MEMO memo last;

static bool memo_copy(char *buf, size_t size, const char *s, const char **out) {
    if (!s) {
        *out = NULL;
        return true;
    }
    size_t len = strlen(s);
    if (len >= size)
        return false;
    memcpy(buf, s, len + 1);
    *out = buf;
    return true;
}

static void remember_hit(mfd_memo_stamp stamp, const entry *e) {
    last.stamp.serial = 0; /* void while half written */
    last.id = e->id;
    if (!memo_copy(last.username, sizeof last.username, e->id.username, &last.id.username) ||
        !memo_copy(last.roles, sizeof last.roles, e->id.roles, &last.id.roles) ||
        !memo_copy(last.csrf, sizeof last.csrf, e->id.csrf, &last.id.csrf))
        return;
    memcpy(last.digest, e->digest, MFD_TOKEN_DIGEST_LEN);
    last.until = e->until;
    last.version = e->version;
    last.stamp = stamp;
}

mfd_token_cache *mfd_token_cache_new(int fresh_ms) {
    mfd_token_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fresh_ms = fresh_ms;
    mfd_memo_owner_init(&c->memos);
    for (int s = 0; s < SHARDS; s++)
        pthread_rwlock_init(&c->shards[s].lock, NULL);
    return c;
}

static void clear(entry *e) {
    free((char *)e->id.username);
    free((char *)e->id.roles);
    free((char *)e->id.csrf);
    memset(e, 0, sizeof *e);
}

void mfd_token_cache_free(mfd_token_cache *c) {
    if (!c)
        return;
    for (int s = 0; s < SHARDS; s++) {
        for (int i = 0; i < SLOTS; i++)
            clear(&c->shards[s].slots[i]);
        pthread_rwlock_destroy(&c->shards[s].lock);
    }
    free(c);
}

void mfd_token_cache_digest(const char *kind, const char *credential,
                            unsigned char out[MFD_TOKEN_DIGEST_LEN]) {
    const char *parts[] = {kind, credential};
    if (!mfd_keyed_hash(parts, 2, out))
        abort(); /* no keyed hash: nothing can be remembered safely */
}

static entry *slot(mfd_token_cache *c, const unsigned char *d, shard **sh) {
    *sh = &c->shards[d[0] % SHARDS];
    return &(*sh)->slots[((unsigned)d[1] | (unsigned)d[2] << 8) % SLOTS];
}

static char *copy(mfd_arena *arena, const char *s) {
    return s ? mfd_arena_strdup(arena, s) : NULL;
}

static void copy_identity(mfd_arena *arena, const mfd_sso_identity *id, mfd_sso_identity *out) {
    *out = *id;
    out->username = copy(arena, id->username);
    out->roles = copy(arena, id->roles);
    out->csrf = copy(arena, id->csrf);
}

bool mfd_token_cache_get(mfd_token_cache *c, const unsigned char *digest, uint64_t version,
                         mfd_arena *arena, mfd_sso_identity *out) {
    int64_t now = mfd_now_ms();
    mfd_memo_stamp stamp = mfd_memo_stamp_now(&c->memos);
    if (mfd_memo_current(last.stamp, &c->memos) && last.until > now && last.version == version &&
        CRYPTO_memcmp(last.digest, digest, MFD_TOKEN_DIGEST_LEN) == 0) {
        copy_identity(arena, &last.id, out);
        return true;
    }
    shard *sh;
    entry *e = slot(c, digest, &sh);
    bool hit = false;
    pthread_rwlock_rdlock(&sh->lock);
    if (e->until > now && e->version == version &&
        CRYPTO_memcmp(e->digest, digest, MFD_TOKEN_DIGEST_LEN) == 0) {
        copy_identity(arena, &e->id, out);
        remember_hit(stamp, e);
        hit = true;
    }
    pthread_rwlock_unlock(&sh->lock);
    return hit;
}

static char *heap_copy(const char *s) {
    return s ? strdup(s) : NULL;
}

void mfd_token_cache_put(mfd_token_cache *c, const unsigned char *digest,
                         const mfd_sso_identity *id, int64_t until, uint64_t version) {
    int64_t now = mfd_now_ms(), until_ms = until * 1000;
    if (c->fresh_ms > 0 && until_ms > now + c->fresh_ms)
        until_ms = now + c->fresh_ms;
    if (until_ms <= now)
        return;
    shard *sh;
    entry *e = slot(c, digest, &sh);
    mfd_sso_identity owned = *id;
    owned.username = heap_copy(id->username);
    owned.roles = heap_copy(id->roles);
    owned.csrf = heap_copy(id->csrf);
    pthread_rwlock_wrlock(&sh->lock);
    clear(e);
    memcpy(e->digest, digest, MFD_TOKEN_DIGEST_LEN);
    e->id = owned;
    e->until = until_ms;
    e->version = version;
    pthread_rwlock_unlock(&sh->lock);
    mfd_memo_void_all(&c->memos);
}

void mfd_token_cache_forget(mfd_token_cache *c, const unsigned char *digest) {
    shard *sh;
    entry *e = slot(c, digest, &sh);
    pthread_rwlock_wrlock(&sh->lock);
    if (CRYPTO_memcmp(e->digest, digest, MFD_TOKEN_DIGEST_LEN) == 0)
        clear(e);
    pthread_rwlock_unlock(&sh->lock);
    mfd_memo_void_all(&c->memos);
}

void mfd_token_cache_forget_user(mfd_token_cache *c, const char *username) {
    for (int s = 0; s < SHARDS; s++) {
        shard *sh = &c->shards[s];
        pthread_rwlock_wrlock(&sh->lock);
        for (int i = 0; i < SLOTS; i++)
            if (sh->slots[i].until && sh->slots[i].id.username &&
                !strcmp(sh->slots[i].id.username, username))
                clear(&sh->slots[i]);
        pthread_rwlock_unlock(&sh->lock);
    }
    mfd_memo_void_all(&c->memos);
}
