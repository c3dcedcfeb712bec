/* digest.h — SHA-256 as the lowercase hex text that S3 signatures, token
 * hashes and PKCE challenges are written in (OpenSSL's EVP). */
#ifndef MFD_DIGEST_H
#define MFD_DIGEST_H

#include <stddef.h>

/* The SHA-256 of `len` bytes as 64 hex digits and a NUL. */
void mfd_sha256_hex(const void *data, size_t len, char out[65]);

#endif
