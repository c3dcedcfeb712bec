/* madmin_crypt.c — the encrypted request bodies of MinIO's admin API
 * (add-user and friends): madmin-go's EncryptData in its PBKDF2-SHA256 +
 * AES-256-GCM form (algorithm id 0x02, what madmin writes in FIPS mode and
 * what every MinIO server's DecryptData reads), over sio-go's stream framing.
 *
 * The format, written down from madmin-go encrypt.go and sio-go's sio.go and
 * writer.go (read to learn, not copied):
 *
 *   body  = salt (32 random bytes) | 0x02 | nonce (8 random bytes) | fragments
 *   key   = PBKDF2-HMAC-SHA256(password = the admin's secret key, salt,
 *           8192 iterations, 32 bytes)
 *   The plaintext is cut into fragments of buf_size (16 KiB) bytes; the last
 *   fragment holds the rest, 1..buf_size bytes (0 only for an empty
 *   plaintext), so an exact multiple ends on a full final fragment. Each is
 *   sealed with AES-GCM and written with its 16-byte tag appended:
 *     GCM nonce = nonce | little-endian uint32 sequence number; fragment i
 *                 (from 0) uses sequence i + 1
 *     GCM AAD   = flag | T: flag 0x00, or 0x80 on the final fragment; T is
 *                 the GCM tag of an empty plaintext sealed under sequence 0
 *                 with the stream's associated data (madmin passes none) as AAD
 *
 * OpenSSL does every cryptographic step (PBKDF2, AES-GCM, the random salt
 * and nonce); this file only frames. The argon2id variants (ids 0x00 and
 * 0x01) are not written: OpenSSL 3.0 has no Argon2, and the server reads
 * 0x02 whatever it writes itself. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "admin.h"

enum {
    GCM_NONCE_LEN = 12,
    GCM_TAG_LEN = 16,
    MADMIN_PBKDF2_AES_GCM = 0x02,
    MADMIN_PBKDF2_ITERATIONS = 8192,
    MADMIN_KEY_LEN = 32,
    FINAL_FLAG = 0x80,
    MAX_PLAINTEXT = 1 << 20, /* MinIO refuses encrypted bodies above ~256 KiB anyway */
};

size_t mfd_sio_sealed_len(size_t len, size_t buf_size) {
    size_t fragments = len == 0 ? 1 : (len + buf_size - 1) / buf_size;
    return len + fragments * GCM_TAG_LEN;
}

static const EVP_CIPHER *gcm_for(size_t key_len) {
    return key_len == 16 ? EVP_aes_128_gcm() : key_len == 32 ? EVP_aes_256_gcm() : NULL;
}

/* One AES-GCM seal: out = ciphertext (len bytes) | tag (16 bytes). */
static bool gcm_seal(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, const unsigned char *key,
                     const unsigned char nonce[GCM_NONCE_LEN], const unsigned char *aad,
                     size_t aad_len, const unsigned char *plain, size_t len, unsigned char *out) {
    int n = 0;
    if (len > INT32_MAX || aad_len > INT32_MAX ||
        EVP_EncryptInit_ex(ctx, cipher, NULL, key, nonce) != 1)
        return false;
    if (aad_len && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
        return false;
    if (len && EVP_EncryptUpdate(ctx, out, &n, plain, (int)len) != 1)
        return false;
    return EVP_EncryptFinal_ex(ctx, out + len, &n) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, out + len) == 1;
}

static void put_sequence(unsigned char nonce[GCM_NONCE_LEN], uint32_t sequence) {
    for (int i = 0; i < 4; i++)
        nonce[MFD_SIO_NONCE_LEN + i] = (unsigned char)(sequence >> (8 * i));
}

bool mfd_sio_seal(const unsigned char *key, size_t key_len,
                  const unsigned char nonce[MFD_SIO_NONCE_LEN], const unsigned char *ad,
                  size_t ad_len, size_t buf_size, const unsigned char *plain, size_t len,
                  unsigned char *out) {
    const EVP_CIPHER *cipher = gcm_for(key_len);
    if (!cipher || buf_size == 0 || len / buf_size >= UINT32_MAX - 1)
        return false;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return false;
    unsigned char gcm_nonce[GCM_NONCE_LEN];
    memcpy(gcm_nonce, nonce, MFD_SIO_NONCE_LEN);
    /* The AAD of every fragment: flag, then the tag of the stream's own
     * associated data under sequence 0. */
    unsigned char aad[1 + GCM_TAG_LEN];
    put_sequence(gcm_nonce, 0);
    bool ok = gcm_seal(ctx, cipher, key, gcm_nonce, ad, ad_len, NULL, 0, aad + 1);
    uint32_t sequence = 1;
    size_t done = 0;
    while (ok) {
        size_t rest = len - done;
        bool final = rest <= buf_size;
        size_t n = final ? rest : buf_size;
        aad[0] = final ? FINAL_FLAG : 0x00;
        put_sequence(gcm_nonce, sequence++);
        ok = gcm_seal(ctx, cipher, key, gcm_nonce, aad, sizeof aad, plain + done, n, out);
        out += n + GCM_TAG_LEN;
        done += n;
        if (final)
            break;
    }
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

mfd_err mfd_madmin_encrypt(mfd_arena *arena, const char *password, const void *data, size_t len,
                           const unsigned char *salt, const unsigned char *nonce,
                           const unsigned char **out, size_t *out_len) {
    if (len > MAX_PLAINTEXT)
        return mfd_err_new(MFD_INTERNAL_ERROR, "a MinIO admin request of %zu bytes is too large",
                           len);
    size_t header = MFD_MADMIN_SALT_LEN + 1 + MFD_SIO_NONCE_LEN;
    size_t total = header + mfd_sio_sealed_len(len, MFD_SIO_BUF_SIZE);
    unsigned char *body = mfd_arena_alloc(arena, total);
    unsigned char *body_salt = body, *body_nonce = body + MFD_MADMIN_SALT_LEN + 1;
    if (salt)
        memcpy(body_salt, salt, MFD_MADMIN_SALT_LEN);
    if (nonce)
        memcpy(body_nonce, nonce, MFD_SIO_NONCE_LEN);
    if ((!salt && RAND_bytes(body_salt, MFD_MADMIN_SALT_LEN) != 1) ||
        (!nonce && RAND_bytes(body_nonce, MFD_SIO_NONCE_LEN) != 1))
        return mfd_err_new(MFD_INTERNAL_ERROR, "no random bytes for the MinIO admin encryption");
    body[MFD_MADMIN_SALT_LEN] = MADMIN_PBKDF2_AES_GCM;
    unsigned char key[MADMIN_KEY_LEN];
    bool ok = PKCS5_PBKDF2_HMAC(password, (int)strlen(password), body_salt, MFD_MADMIN_SALT_LEN,
                                MADMIN_PBKDF2_ITERATIONS, EVP_sha256(), sizeof key, key) == 1 &&
              mfd_sio_seal(key, sizeof key, body_nonce, NULL, 0, MFD_SIO_BUF_SIZE, data, len,
                           body + header);
    OPENSSL_cleanse(key, sizeof key);
    if (!ok)
        return mfd_err_new(MFD_INTERNAL_ERROR, "OpenSSL could not encrypt a MinIO admin request");
    *out = body;
    *out_len = total;
    return NULL;
}
