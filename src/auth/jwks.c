/* jwks.c — the key cache of jwks.h.
 *
 * Invariants: `keys` and `discovery` change only under `lock`; at most one
 * fetch runs at a time (`fetching`, waited on through `changed`); the lock
 * is never held across network I/O. Times are wall-clock seconds. */
#include "jwks.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "jwt.h"
#include "core/http_client.h"

/* sso-and-deploy.md §7: connect + total time of a fetch capped at 5 s */
enum {
    STALE_GRACE_SECONDS = 600,
    RETRY_SECONDS = 10,
    MAX_DOCUMENT_BYTES = 1 << 20,
    FETCH_SECONDS = 5
};

struct mfd_jwks {
    char *issuer, *discovery_url, *jwks_url, *ca_file;
    int cache_seconds, refetch_seconds;
    bool need_discovery;

    pthread_mutex_t lock;
    pthread_cond_t changed; /* a fetch ended, or stop was asked */
    json_t *keys;           /* array of signing JWKs; NULL before the first success */
    json_t *discovery;      /* NULL until fetched */
    int64_t expires_at;     /* the keys' TTL */
    int64_t last_refetch;   /* last unknown-kid refetch */
    int64_t retry_at;       /* no background fetch before this (after any attempt) */
    bool fetching, stopping;
    pthread_t thread;
    bool thread_started;
};

static int64_t now_seconds(void) {
    return (int64_t)time(NULL);
}

static char *dup_or_null(const char *s) {
    return s && *s ? strdup(s) : NULL;
}

/* GETs a JSON object. */
static mfd_err fetch_json(mfd_jwks *j, const char *url, json_t **out, long *max_age) {
    mfd_http_call call = {.method = "GET",
                          .url = url,
                          .ca_file = j->ca_file,
                          .connect_timeout = FETCH_SECONDS,
                          .timeout = FETCH_SECONDS,
                          .max_bytes = MAX_DOCUMENT_BYTES};
    mfd_http_answer answer;
    mfd_arena *arena = mfd_arena_new();
    mfd_err err = mfd_http_perform(arena, &call, &answer);
    if (err) {
        mfd_arena_free(arena);
        return err;
    }
    if (answer.status != 200)
        err = mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE, "%s answered HTTP %ld", url, answer.status);
    json_t *doc = err ? NULL : json_loadb(answer.body, answer.len, JSON_REJECT_DUPLICATES, NULL);
    if (!err && !json_is_object(doc))
        err = mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE, "%s did not answer a JSON object", url);
    if (err) {
        json_decref(doc);
        doc = NULL;
    }
    if (max_age)
        *max_age = answer.max_age;
    mfd_arena_free(arena);
    *out = doc;
    return err;
}

static json_t *usable_keys(const json_t *jwks) {
    json_t *keys = json_object_get(jwks, "keys"), *kept = json_array();
    if (!kept)
        abort();
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        static const char *const algs[] = {"RS256", "RS384", "RS512", "PS256",
                                           "PS384", "PS512", "ES256", "ES384"};
        bool any = false;
        for (size_t a = 0; a < sizeof algs / sizeof algs[0] && !any; a++)
            any = mfd_jwt_key_matches(k, algs[a]);
        if (any)
            json_array_append(kept, k);
    }
    return kept;
}

/* One full fetch: discovery when needed, then the JWKS. Runs with
 * `fetching` set and the lock released. */
static mfd_err fetch_all(mfd_jwks *j) {
    pthread_mutex_lock(&j->lock);
    json_t *discovery = j->discovery ? json_incref(j->discovery) : NULL;
    pthread_mutex_unlock(&j->lock);
    mfd_err err = NULL;
    if (!discovery && (j->need_discovery || !j->jwks_url)) {
        if ((err = fetch_json(j, j->discovery_url, &discovery, NULL)))
            return err;
        const char *iss = json_string_value(json_object_get(discovery, "issuer"));
        if (!iss || strcmp(iss, j->issuer) != 0)
            mfd_log_warn("sso: the discovery document at %s names issuer '%s', not the "
                         "configured '%s'; tokens must carry the configured one",
                         j->discovery_url, iss ? iss : "", j->issuer);
        pthread_mutex_lock(&j->lock);
        json_decref(j->discovery);
        j->discovery = json_incref(discovery);
        pthread_mutex_unlock(&j->lock);
    }
    const char *url =
        j->jwks_url ? j->jwks_url : json_string_value(json_object_get(discovery, "jwks_uri"));
    json_t *jwks = NULL;
    long max_age = -1;
    if (!url)
        err = mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE, "%s has no jwks_uri", j->discovery_url);
    else
        err = fetch_json(j, url, &jwks, &max_age);
    json_t *keys = err ? NULL : usable_keys(jwks);
    /* A set with no key we can use is a failed fetch: the last good set
     * stays (stale-if-error) rather than every token being refused. */
    if (!err && !json_array_size(keys))
        err = mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE,
                          "%s answered no signing key this server can use (a 'keys' array of "
                          "RSA or EC public keys)",
                          url);
    if (err) {
        json_decref(keys);
    } else {
        int ttl = j->cache_seconds;
        if (max_age >= 0)
            ttl = max_age < 60 ? 60 : max_age > 86400 ? 86400 : (int)max_age;
        pthread_mutex_lock(&j->lock);
        json_decref(j->keys);
        j->keys = keys;
        j->expires_at = now_seconds() + ttl;
        pthread_mutex_unlock(&j->lock);
        mfd_log_info("sso: fetched %zu signing key(s) from %s (cached %d s)", json_array_size(keys),
                     url, ttl);
    }
    json_decref(jwks);
    json_decref(discovery);
    return err;
}

/* Runs one fetch unless one is running (then waits for it). Lock held on
 * entry and exit. */
static void fetch_single_flight(mfd_jwks *j) {
    if (j->fetching) {
        while (j->fetching && !j->stopping)
            pthread_cond_wait(&j->changed, &j->lock);
        return;
    }
    j->fetching = true;
    pthread_mutex_unlock(&j->lock);
    mfd_err err = fetch_all(j);
    if (err) {
        mfd_log_warn("sso: cannot fetch the issuer's keys: %s", err->message);
        mfd_err_free(err);
    }
    pthread_mutex_lock(&j->lock);
    j->fetching = false;
    j->retry_at = now_seconds() + RETRY_SECONDS;
    pthread_cond_broadcast(&j->changed);
}

static void *refresher(void *arg) {
    mfd_jwks *j = arg;
    pthread_mutex_lock(&j->lock);
    while (!j->stopping) {
        /* Refresh shortly before expiry; while fetching fails, every
         * RETRY_SECONDS. */
        int64_t due = j->keys ? j->expires_at - 5 : 0;
        if (due < j->retry_at)
            due = j->retry_at;
        struct timespec until = {.tv_sec = (time_t)due};
        int rc = 0;
        while (!j->stopping && rc != ETIMEDOUT && now_seconds() < due)
            rc = pthread_cond_timedwait(&j->changed, &j->lock, &until);
        if (j->stopping)
            break;
        if (now_seconds() >= due)
            fetch_single_flight(j);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

mfd_err mfd_jwks_open(const mfd_jwks_options *o, mfd_jwks **out) {
    mfd_jwks *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->issuer = strdup(o->issuer);
    j->jwks_url = dup_or_null(o->jwks_url);
    j->ca_file = dup_or_null(o->ca_file);
    if (o->discovery_url && *o->discovery_url) {
        j->discovery_url = strdup(o->discovery_url);
    } else {
        size_t n = strlen(o->issuer);
        while (n > 0 && o->issuer[n - 1] == '/')
            n--;
        j->discovery_url = malloc(n + 40);
        if (!j->discovery_url)
            abort();
        memcpy(j->discovery_url, o->issuer, n);
        strcpy(j->discovery_url + n, "/.well-known/openid-configuration");
    }
    j->cache_seconds = o->cache_seconds;
    j->refetch_seconds = o->refetch_seconds;
    j->need_discovery = o->need_discovery;
    pthread_mutex_init(&j->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr); /* CLOCK_REALTIME: deadlines are wall-clock */
    pthread_cond_init(&j->changed, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_lock(&j->lock);
    fetch_single_flight(j); /* warm-up */
    pthread_mutex_unlock(&j->lock);
    /* The refresher takes no signal: the main thread waits for them, and a
     * stop signal delivered here would end the process at once. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&j->thread, NULL, refresher, j);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        mfd_jwks_close(j);
        return mfd_err_new(MFD_INTERNAL_ERROR, "cannot start the JWKS refresher thread");
    }
    j->thread_started = true;
    *out = j;
    return NULL;
}

void mfd_jwks_close(mfd_jwks *j) {
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    j->stopping = true;
    pthread_cond_broadcast(&j->changed);
    pthread_mutex_unlock(&j->lock);
    if (j->thread_started)
        pthread_join(j->thread, NULL);
    json_decref(j->keys);
    json_decref(j->discovery);
    pthread_cond_destroy(&j->changed);
    pthread_mutex_destroy(&j->lock);
    free(j->issuer);
    free(j->discovery_url);
    free(j->jwks_url);
    free(j->ca_file);
    free(j);
}

/* Lock held. */
static json_t *lookup(mfd_jwks *j, const char *kid, const char *alg) {
    if (!j->keys || now_seconds() > j->expires_at + STALE_GRACE_SECONDS)
        return NULL;
    json_t *only = NULL;
    size_t i, candidates = 0;
    json_t *k;
    json_array_foreach(j->keys, i, k) {
        const char *key_kid = json_string_value(json_object_get(k, "kid"));
        if (kid ? key_kid && !strcmp(key_kid, kid) && mfd_jwt_key_matches(k, alg)
                : mfd_jwt_key_matches(k, alg)) {
            only = k;
            candidates++;
        }
    }
    /* Without a kid the key must be unambiguous. */
    return candidates == 1 ? json_incref(only) : NULL;
}

json_t *mfd_jwks_find(mfd_jwks *j, const char *kid, const char *alg) {
    pthread_mutex_lock(&j->lock);
    json_t *key = lookup(j, kid, alg);
    if (!key && !j->stopping) {
        int64_t now = now_seconds();
        if (j->fetching) {
            fetch_single_flight(j); /* waits for the running fetch */
        } else if (now - j->last_refetch >= j->refetch_seconds) {
            j->last_refetch = now;
            mfd_log_info("sso: unknown signing key: refetching the JWKS");
            fetch_single_flight(j);
        }
        key = lookup(j, kid, alg);
    }
    pthread_mutex_unlock(&j->lock);
    return key;
}

char *mfd_jwks_discovery_value(mfd_jwks *j, const char *name) {
    pthread_mutex_lock(&j->lock);
    /* While discovery fails, one attempt per RETRY_SECONDS: these calls come
     * from unauthenticated requests (login, callback, logout). */
    if (!j->discovery && !j->stopping && (j->fetching || now_seconds() >= j->retry_at))
        fetch_single_flight(j);
    const char *v = j->discovery ? json_string_value(json_object_get(j->discovery, name)) : NULL;
    char *copy = v ? strdup(v) : NULL;
    pthread_mutex_unlock(&j->lock);
    return copy;
}
