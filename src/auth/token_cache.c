/* token_cache.c — the verified-token cache of token_cache.h: SHARDS × SLOTS
 * direct-mapped entries, each owning malloc'd copies of its strings. */
#include "token_cache.h"

#include "keyed_hash.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SHARDS = 16, SLOTS = 512 };
_Static_assert((int)MFD_TOKEN_DIGEST_LEN == (int)MFD_KEYED_HASH_LEN, "the key is the keyed hash");

typedef struct entry {
    unsigned char digest[MFD_TOKEN_DIGEST_LEN];
    int64_t until;       /* 0 = empty */
    mfd_sso_identity id; /* strings owned */
} entry;

typedef struct shard {
    pthread_rwlock_t lock; /* readers share it: hits do not queue */
    entry slots[SLOTS];
} shard;

struct mfd_token_cache {
    shard shards[SHARDS];
};

mfd_token_cache *mfd_token_cache_new(void) {
    mfd_token_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
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

bool mfd_token_cache_get(mfd_token_cache *c, const unsigned char *digest, mfd_arena *arena,
                         mfd_sso_identity *out) {
    shard *sh;
    entry *e = slot(c, digest, &sh);
    bool hit = false;
    pthread_rwlock_rdlock(&sh->lock);
    if (e->until > (int64_t)time(NULL) &&
        CRYPTO_memcmp(e->digest, digest, MFD_TOKEN_DIGEST_LEN) == 0) {
        *out = e->id;
        out->username = copy(arena, e->id.username);
        out->roles = copy(arena, e->id.roles);
        out->csrf = copy(arena, e->id.csrf);
        hit = true;
    }
    pthread_rwlock_unlock(&sh->lock);
    return hit;
}

static char *heap_copy(const char *s) {
    return s ? strdup(s) : NULL;
}

void mfd_token_cache_put(mfd_token_cache *c, const unsigned char *digest,
                         const mfd_sso_identity *id, int64_t until) {
    if (until <= (int64_t)time(NULL))
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
    e->until = until;
    pthread_rwlock_unlock(&sh->lock);
}

void mfd_token_cache_forget(mfd_token_cache *c, const unsigned char *digest) {
    shard *sh;
    entry *e = slot(c, digest, &sh);
    pthread_rwlock_wrlock(&sh->lock);
    if (CRYPTO_memcmp(e->digest, digest, MFD_TOKEN_DIGEST_LEN) == 0)
        clear(e);
    pthread_rwlock_unlock(&sh->lock);
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
}
