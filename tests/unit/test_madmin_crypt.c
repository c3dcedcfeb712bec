/* The encryption of MinIO's admin request bodies (src/admin/madmin_crypt.c):
 * madmin-go's EncryptData, PBKDF2-SHA256 + AES-256-GCM form, over sio-go's
 * stream framing. No MinIO runs here, so the bytes are checked against
 * answers that do not come from this C code:
 *   - the framing against test vectors published by sio-go
 *     (secure-io/sio-go, test_vectors.json, AES-128-GCM entries): empty,
 *     one byte past a fragment, an exact multiple of the fragment size, and
 *     a fragment size of 17 with associated data;
 *   - whole madmin bodies with a fixed salt and nonce against
 *     tests/tools/minio-admin-fake.js (node's crypto), whose framing must
 *     reproduce the same sio-go vectors before it serves, and which decrypts
 *     mlflowd's add-user bodies in the integration tests:
 *       node -e "const f = require('./tests/tools/minio-admin-fake.js');
 *                console.log(f.madminEncrypt('minioadmin', plaintext, salt, nonce)
 *                  .toString('hex'))"
 *     with salt = 00 01 .. 1f and nonce = a0 a1 .. a7. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "test.h"

static size_t from_hex(const char *hex, unsigned char *out) {
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
    return n;
}

static void to_hex(const unsigned char *data, size_t len, char *out) {
    for (size_t i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", data[i]);
    out[2 * len] = '\0';
}

typedef struct sio_vector {
    size_t buf_size;
    const char *key, *nonce, *ad, *plain, *sealed;
} sio_vector;

static const sio_vector SIO_GO_VECTORS[] = {
    {16, "00000000000000000000000000000000", "0000000000000000", "", "",
     "e0247a864e783cecb1f7996c13cd3f64"},
    {16, "10000000000000000000000000000000", "0000000000000002", "",
     "0000000000000000000000000000000000",
     "691deb7b9ccbee91f48d12c7ad5fe3cd4e1e5e7d394f06b91228ec9a5dd2456ac7de9502a0b4010fb1ee1db94e"
     "940458fb"},
    {16, "20000000000000000000000000000000", "2000000000000000", "00",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "f58d8fef7ac7782a4361a79c07f5e6c4672d8a45e6cb9ef67cb7177897358deb8d338d313d44f78e0b68a3723d"
     "7ca0fe5f62aa8af0a72e508f5d5f8491ecedb2"},
    {17, "31dd758d120fd5d30063921a21f723be", "d3794fe387018e32",
     "1d838b6e861ea7576de110e08818de82a27337a99db7b95aa95c3347971ad4cfa0ef0960d6645f5a64f88c7d",
     "d0ae0d85e93ed6be853ded2031643116a03215b4fda224d2986d7233039aa47e91b686f4",
     "a6fe911b94e0b25a25bf6da71f28ad6a6b6920be01589e9194226f77c164606545d5cbdb76c99415b468c54517"
     "f5a8bc8dc8ac13b1b4285fe36f37f7884d5e4bfb32ecef56b4026bf02bfb1d4fce222e01ef9db9"},
};

static void test_sio_framing_reproduces_sio_go_vectors(void) {
    for (size_t i = 0; i < sizeof SIO_GO_VECTORS / sizeof SIO_GO_VECTORS[0]; i++) {
        const sio_vector *v = &SIO_GO_VECTORS[i];
        unsigned char key[32], nonce[8], ad[64], plain[64], sealed[256];
        size_t key_len = from_hex(v->key, key);
        from_hex(v->nonce, nonce);
        size_t ad_len = from_hex(v->ad, ad), plain_len = from_hex(v->plain, plain);
        size_t sealed_len = mfd_sio_sealed_len(plain_len, v->buf_size);
        CHECK_INT(sealed_len, strlen(v->sealed) / 2);
        CHECK(mfd_sio_seal(key, key_len, nonce, ad, ad_len, v->buf_size, plain, plain_len, sealed));
        char hex[512];
        to_hex(sealed, sealed_len, hex);
        CHECK_STR(hex, v->sealed);
    }
}

static void test_sio_refuses_other_key_sizes(void) {
    unsigned char key[24] = {0}, nonce[8] = {0}, out[64];
    CHECK(!mfd_sio_seal(key, sizeof key, nonce, NULL, 0, 16, (const unsigned char *)"x", 1, out));
}

static const unsigned char SALT[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                       11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                       22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const unsigned char NONCE[8] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7};

static void test_madmin_add_user_body_known_answer(void) {
    mfd_arena *arena = mfd_arena_new();
    const char *plain = "{\"secretKey\":\"mlflowd-secret\",\"status\":\"enabled\"}";
    const unsigned char *body = NULL;
    size_t len = 0;
    mfd_err err =
        mfd_madmin_encrypt(arena, "minioadmin", plain, strlen(plain), SALT, NONCE, &body, &len);
    CHECK(err == NULL);
    CHECK_INT(len, 106);
    char hex[256];
    to_hex(body, len, hex);
    CHECK_STR(hex,
              "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f02a0a1a2a3a4a5a6"
              "a74a723102714fbccc1a169c37bc1279da99cdc1afa082ab134e2cdb61f825a066894d7db64363"
              "5a939a48338c9ac90f40c5b0ebf217f11a96ccb803869d71be6b07");
    mfd_arena_free(arena);
}

/* Fragment boundaries of madmin's 16 KiB: none, exactly one, exactly two,
 * and two and a bit (the bodies' SHA-256, from the node fake). */
static void test_madmin_fragment_boundaries_known_answers(void) {
    static const struct {
        size_t plain_len, body_len;
        const char *sha256;
    } cases[] = {
        {0, 57, "6cbfeb7ec4e1ef7bf4fbab95182c212d5738782f2401a5f54fe54c358a8a2ec6"},
        {16384, 16441, "78b2b4ad924aa4fef777e278b09a1aeaa9239d1d8494ef268f5fc9e035d9e021"},
        {32768, 32841, "6e4d41dd60a13321f8e2c9b4529736f5e7ef56eb32903f1a0b274891e71741e6"},
        {40000, 40089, "5f02984047d6d50ce9a90ae08f10a59373db1cd2638d926cdd87ff7ad13cd558"},
    };
    mfd_arena *arena = mfd_arena_new();
    unsigned char *plain = malloc(40000);
    for (size_t i = 0; i < 40000; i++)
        plain[i] = (unsigned char)(i % 251);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const unsigned char *body = NULL;
        size_t len = 0;
        CHECK(mfd_madmin_encrypt(arena, "minioadmin", plain, cases[c].plain_len, SALT, NONCE, &body,
                                 &len) == NULL);
        CHECK_INT(len, cases[c].body_len);
        unsigned char digest[32];
        unsigned digest_len = 0;
        EVP_Digest(body, len, digest, &digest_len, EVP_sha256(), NULL);
        char hex[65];
        to_hex(digest, sizeof digest, hex);
        CHECK_STR(hex, cases[c].sha256);
    }
    free(plain);
    mfd_arena_free(arena);
}

static void test_madmin_salt_and_nonce_are_fresh(void) {
    mfd_arena *arena = mfd_arena_new();
    const unsigned char *a = NULL, *b = NULL;
    size_t a_len = 0, b_len = 0;
    CHECK(mfd_madmin_encrypt(arena, "pw", "same", 4, NULL, NULL, &a, &a_len) == NULL);
    CHECK(mfd_madmin_encrypt(arena, "pw", "same", 4, NULL, NULL, &b, &b_len) == NULL);
    CHECK_INT(a_len, 41 + 4 + 16);
    CHECK_INT(b_len, a_len);
    CHECK_INT(a[32], 0x02);                /* madmin's id of PBKDF2 + AES-GCM */
    CHECK(memcmp(a, b, 32) != 0);          /* salt */
    CHECK(memcmp(a + 33, b + 33, 8) != 0); /* nonce */
    mfd_arena_free(arena);
}

MFD_TEST_MAIN(MFD_TEST(test_sio_framing_reproduces_sio_go_vectors),
              MFD_TEST(test_sio_refuses_other_key_sizes),
              MFD_TEST(test_madmin_add_user_body_known_answer),
              MFD_TEST(test_madmin_fragment_boundaries_known_answers),
              MFD_TEST(test_madmin_salt_and_nonce_are_fresh))
