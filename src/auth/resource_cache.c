/* resource_cache.c — which experiment a run or a logged model belongs to,
 * remembered so the permission check of the hot write paths (log-metric,
 * log-batch, runs/get) needs no extra tracking-DB query.
 *
 * Safe without invalidation because the mapping never changes: a run or a
 * logged model cannot move to another experiment, and their ids are random
 * UUIDs that are never reused. A direct-mapped table bounds the memory. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth_internal.h"
#include "core/hash.h"

enum { SLOTS = 4096, ID_MAX = 40 };

typedef struct slot {
    char id[ID_MAX + 1]; /* "" = empty */
    int64_t experiment_id;
} slot;

struct mfd_resource_cache {
    pthread_mutex_t lock;
    slot slots[SLOTS];
};

mfd_resource_cache *mfd_resource_cache_new(void) {
    mfd_resource_cache *cache = calloc(1, sizeof *cache);
    if (cache)
        pthread_mutex_init(&cache->lock, NULL);
    return cache;
}

void mfd_resource_cache_free(mfd_resource_cache *cache) {
    if (!cache)
        return;
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

static unsigned slot_of(const char *id) {
    return (unsigned)(mfd_hash_str(MFD_HASH_INIT, id) % SLOTS);
}

bool mfd_resource_cache_get(mfd_resource_cache *cache, const char *id, int64_t *experiment_id) {
    if (!cache || !id || strlen(id) > ID_MAX || !*id)
        return false;
    slot *s = &cache->slots[slot_of(id)];
    pthread_mutex_lock(&cache->lock);
    bool hit = strcmp(s->id, id) == 0;
    if (hit)
        *experiment_id = s->experiment_id;
    pthread_mutex_unlock(&cache->lock);
    return hit;
}

void mfd_resource_cache_put(mfd_resource_cache *cache, const char *id, int64_t experiment_id) {
    if (!cache || !id || strlen(id) > ID_MAX || !*id)
        return;
    slot *s = &cache->slots[slot_of(id)];
    pthread_mutex_lock(&cache->lock);
    strcpy(s->id, id);
    s->experiment_id = experiment_id;
    pthread_mutex_unlock(&cache->lock);
}
