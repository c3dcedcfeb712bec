/* digest.c — see digest.h. */
#include "digest.h"

#include <openssl/evp.h>

#include "escape.h"

void mfd_sha256_hex(const void *data, size_t len, char out[65]) {
    unsigned char digest[32];
    unsigned int digest_len = sizeof digest;
    EVP_Digest(data, len, digest, &digest_len, EVP_sha256(), NULL);
    mfd_hex_encode(digest, sizeof digest, out);
}
