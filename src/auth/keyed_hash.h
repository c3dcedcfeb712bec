/* keyed_hash.h — the keyed hash the auth caches file credentials under
 * (passwords, bearer tokens, sessions), so no cache holds a credential.
 *
 * SipHash-2-4 with a 128-bit output and a random key made once per process:
 * a keyed hash made for short inputs, unguessable without the key (which
 * never leaves the process), and a fraction of SHA-256's or HMAC's cost on
 * the request path. */
#ifndef MFD_AUTH_KEYED_HASH_H
#define MFD_AUTH_KEYED_HASH_H

#include <stdbool.h>
#include <stddef.h>

enum { MFD_KEYED_HASH_LEN = 16 };

/* The hash of the parts, each preceded by its length, so no two different
 * lists of parts hash the same input. False only when OpenSSL fails. */
bool mfd_keyed_hash(const char *const *parts, size_t n, unsigned char out[MFD_KEYED_HASH_LEN]);

#endif
