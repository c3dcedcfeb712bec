/* passwords.c — werkzeug's password hash formats on OpenSSL 3's KDFs.
 *
 * Stored form `<method>$<salt>$<hex digest>` split on the first two `$`;
 * the salt is used as its literal UTF-8 text. scrypt (n:r:p, default
 * 32768:8:1, 64-byte key) and pbkdf2 (hash:iterations, default
 * sha256:1000000, key length = digest size) are understood; the digest is
 * compared as lower-case hex in constant time. */
#include "passwords.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/escape.h"

enum { SCRYPT_KEY_LEN = 64, MAX_KEY_LEN = 128, SALT_LEN = 16 };

static const uint64_t pbkdf2_default_iterations = 1000000;

static bool derive_scrypt(const char *password, const char *salt, size_t salt_len, uint64_t n,
                          uint32_t r, uint32_t p, unsigned char *out, size_t out_len) {
    /* werkzeug allows 132·n·r·p bytes; OpenSSL needs about 128·r·(n+p+2). */
    uint64_t maxmem = 132u * n * r * p + (1u << 20);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)password,
                                          strlen(password)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
        OSSL_PARAM_construct_end(),
    };
    bool ok = ctx && EVP_KDF_derive(ctx, out, out_len, params) == 1;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return ok;
}

/* hashlib digest names ("sha256", "sha3_256") to OpenSSL's ("sha3-256"). */
static bool derive_pbkdf2(const char *password, const char *salt, size_t salt_len,
                          const char *hash_name, uint64_t iterations, unsigned char *out,
                          size_t *out_len) {
    char digest[32];
    if (strlen(hash_name) >= sizeof digest || !*hash_name)
        return false;
    for (size_t i = 0;; i++) {
        digest[i] = hash_name[i] == '_' ? '-' : hash_name[i];
        if (!hash_name[i])
            break;
    }
    EVP_MD *md = EVP_MD_fetch(NULL, digest, NULL);
    if (!md)
        return false;
    int size = EVP_MD_get_size(md);
    EVP_MD_free(md);
    if (size <= 0 || size > MAX_KEY_LEN)
        return false;
    int pkcs5 = 1; /* no SP 800-132 lower bounds: old werkzeug hashes have short salts */
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "PBKDF2", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)password,
                                          strlen(password)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_ITER, &iterations),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_PKCS5, &pkcs5),
        OSSL_PARAM_construct_end(),
    };
    bool ok = ctx && EVP_KDF_derive(ctx, out, (size_t)size, params) == 1;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    *out_len = (size_t)size;
    return ok;
}

/* Decimal without sign, junk or overflow (Python's int() is laxer; werkzeug
 * writes plain numbers). */
static bool parse_u64(const char *s, size_t len, uint64_t *out) {
    if (len == 0 || len > 19)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* Splits "a:b:c" into at most `max` fields; returns the count or -1. */
static int split_colons(const char *s, size_t len, const char **fields, size_t *lens, int max) {
    int n = 0;
    const char *start = s, *end = s + len;
    for (const char *p = s;; p++) {
        if (p == end || *p == ':') {
            if (n == max)
                return -1;
            fields[n] = start;
            lens[n] = (size_t)(p - start);
            n++;
            if (p == end)
                break;
            start = p + 1;
        }
    }
    return n;
}

/* Derives the key the method string asks for. */
static bool derive(const char *method, size_t method_len, const char *salt, size_t salt_len,
                   const char *password, unsigned char *key, size_t *key_len) {
    const char *f[4];
    size_t fl[4];
    int n = split_colons(method, method_len, f, fl, 4);
    if (n < 1)
        return false;
    if (fl[0] == 6 && !memcmp(f[0], "scrypt", 6)) {
        uint64_t sn = 32768, sr = 8, sp = 1;
        if (n != 1 && (n != 4 || !parse_u64(f[1], fl[1], &sn) || !parse_u64(f[2], fl[2], &sr) ||
                       !parse_u64(f[3], fl[3], &sp)))
            return false;
        /* scrypt needs n a power of two > 1; keep r·p and memory sane (≤ 1 GiB). */
        if (sn < 2 || (sn & (sn - 1)) || sr == 0 || sp == 0 || sr > 1024 || sp > 1024 ||
            sn > (1u << 24) || 128u * sr * sn > (1ull << 30))
            return false;
        *key_len = SCRYPT_KEY_LEN;
        return derive_scrypt(password, salt, salt_len, sn, (uint32_t)sr, (uint32_t)sp, key,
                             SCRYPT_KEY_LEN);
    }
    if (fl[0] == 6 && !memcmp(f[0], "pbkdf2", 6)) {
        char hash_name[32] = "sha256";
        uint64_t iterations = pbkdf2_default_iterations;
        if (n > 3)
            return false;
        if (n >= 2) {
            if (fl[1] >= sizeof hash_name)
                return false;
            memcpy(hash_name, f[1], fl[1]);
            hash_name[fl[1]] = '\0';
        }
        if (n == 3 && !parse_u64(f[2], fl[2], &iterations))
            return false;
        if (iterations == 0 || iterations > 100000000)
            return false;
        return derive_pbkdf2(password, salt, salt_len, hash_name, iterations, key, key_len);
    }
    return false;
}

/* At most one derivation per core at a time: each scrypt holds 32 MiB, and
 * a burst of logins or of guesses would otherwise hold it once per
 * connection thread. The others wait their turn. */
static pthread_mutex_t kdf_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kdf_done = PTHREAD_COND_INITIALIZER;
static long kdf_running;

static void kdf_enter(void) {
    static long limit;
    pthread_mutex_lock(&kdf_lock);
    if (limit == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        limit = cores > 2 ? cores : 2;
    }
    while (kdf_running >= limit)
        pthread_cond_wait(&kdf_done, &kdf_lock);
    kdf_running++;
    pthread_mutex_unlock(&kdf_lock);
}

static void kdf_leave(void) {
    pthread_mutex_lock(&kdf_lock);
    kdf_running--;
    pthread_cond_signal(&kdf_done);
    pthread_mutex_unlock(&kdf_lock);
}

bool mfd_auth_password_verify(const char *stored_hash, const char *password) {
    if (!stored_hash || !password)
        return false;
    const char *d1 = strchr(stored_hash, '$');
    const char *d2 = d1 ? strchr(d1 + 1, '$') : NULL;
    if (!d2)
        return false;
    const char *hex = d2 + 1;
    unsigned char key[MAX_KEY_LEN];
    size_t key_len = 0;
    kdf_enter();
    bool derived = derive(stored_hash, (size_t)(d1 - stored_hash), d1 + 1, (size_t)(d2 - d1 - 1),
                          password, key, &key_len);
    kdf_leave();
    if (!derived)
        return false;
    char computed[2 * MAX_KEY_LEN + 1];
    mfd_hex_encode(key, key_len, computed);
    OPENSSL_cleanse(key, sizeof key);
    size_t hex_len = strlen(hex);
    bool ok = hex_len == 2 * key_len && CRYPTO_memcmp(computed, hex, hex_len) == 0;
    OPENSSL_cleanse(computed, sizeof computed);
    return ok;
}

static bool random_salt(char out[SALT_LEN + 1]) {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t have = 0;
    while (have < SALT_LEN) {
        unsigned char bytes[32];
        if (RAND_bytes(bytes, sizeof bytes) != 1)
            return false;
        for (size_t i = 0; i < sizeof bytes && have < SALT_LEN; i++)
            if (bytes[i] < 248) /* 248 = 4·62: no modulo bias */
                out[have++] = alphabet[bytes[i] % 62];
    }
    out[SALT_LEN] = '\0';
    return true;
}

mfd_err mfd_auth_password_hash(const char *password, char **out) {
    char salt[SALT_LEN + 1];
    unsigned char key[SCRYPT_KEY_LEN];
    if (!random_salt(salt))
        return mfd_err_new(MFD_INTERNAL_ERROR, "cannot draw a random salt (RAND_bytes failed)");
    kdf_enter();
    bool derived = derive_scrypt(password, salt, SALT_LEN, 32768, 8, 1, key, sizeof key);
    kdf_leave();
    if (!derived)
        return mfd_err_new(MFD_INTERNAL_ERROR, "scrypt key derivation failed");
    char hex[2 * SCRYPT_KEY_LEN + 1];
    mfd_hex_encode(key, sizeof key, hex);
    OPENSSL_cleanse(key, sizeof key);
    if (asprintf(out, "scrypt:32768:8:1$%s$%s", salt, hex) < 0)
        return mfd_err_new(MFD_INTERNAL_ERROR, "out of memory");
    return NULL;
}

mfd_err mfd_auth_password_check_rule(const char *password) {
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)password; p && *p; p++)
        if ((*p & 0xC0) != 0x80)
            chars++;
    if (chars < 12)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Password must be a string longer than 12 characters.");
    return NULL;
}
