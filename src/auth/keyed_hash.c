/* keyed_hash.c — see keyed_hash.h. */
#include "keyed_hash.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The keyed context, made once; each thread re-arms its own copy for every
 * hash (duplicating a context per request cost more than the hash). */
static EVP_MAC_CTX *keyed;
static pthread_once_t keyed_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_ctx_key;

static void thread_ctx_free(void *ctx) {
    EVP_MAC_CTX_free(ctx);
}

static void make_key(void) {
    pthread_key_create(&thread_ctx_key, thread_ctx_free);
    unsigned char key[16];
    size_t out_len = MFD_KEYED_HASH_LEN;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &out_len),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    if (ctx && RAND_bytes(key, sizeof key) == 1 && EVP_MAC_init(ctx, key, sizeof key, params) == 1)
        keyed = ctx;
    else
        EVP_MAC_CTX_free(ctx);
    OPENSSL_cleanse(key, sizeof key);
}

static EVP_MAC_CTX *thread_ctx(void) {
    pthread_once(&keyed_once, make_key);
    if (!keyed)
        return NULL;
    EVP_MAC_CTX *ctx = pthread_getspecific(thread_ctx_key);
    if (ctx)
        return EVP_MAC_init(ctx, NULL, 0, NULL) == 1 ? ctx : NULL;
    if (!(ctx = EVP_MAC_CTX_dup(keyed)))
        return NULL;
    if (pthread_setspecific(thread_ctx_key, ctx) != 0) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

bool mfd_keyed_hash(const char *const *parts, size_t n, unsigned char out[MFD_KEYED_HASH_LEN]) {
    EVP_MAC_CTX *ctx = thread_ctx();
    if (!ctx)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint64_t len = strlen(parts[i]);
        unsigned char len_bytes[8];
        for (int b = 0; b < 8; b++)
            len_bytes[b] = (unsigned char)(len >> (8 * b));
        if (EVP_MAC_update(ctx, len_bytes, sizeof len_bytes) != 1 ||
            EVP_MAC_update(ctx, (const unsigned char *)parts[i], len) != 1)
            return false;
    }
    size_t out_len = 0;
    return EVP_MAC_final(ctx, out, &out_len, MFD_KEYED_HASH_LEN) == 1 &&
           out_len == MFD_KEYED_HASH_LEN;
}
