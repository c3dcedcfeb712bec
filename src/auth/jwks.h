/* jwks.h — the issuer's signing keys and discovery document, cached
 * (sso-and-deploy.md §2.4, §7, R-SSO-3, R-SSO-5).
 *
 * The JWKS location comes from discovery unless overridden. Keys are fetched
 * at start and refreshed by a background thread before they expire (TTL:
 * the configured seconds, or the answer's Cache-Control max-age clamped to
 * [60 s, 24 h]), so requests never wait for a fetch — except for a token
 * whose `kid` is unknown: that triggers one refetch, single-flight (others
 * wait for it), at most once per cool-down. When fetching fails the last
 * good set is served for 10 minutes past its expiry, then nothing (fail
 * closed). Only keys usable for signatures are kept (`use: enc` dropped). */
#ifndef MFD_AUTH_JWKS_H
#define MFD_AUTH_JWKS_H

#include <jansson.h>
#include <stdbool.h>

#include "core/err.h"

typedef struct mfd_jwks mfd_jwks;

typedef struct mfd_jwks_options {
    const char *issuer;        /* compared with the discovery document's */
    const char *discovery_url; /* NULL = <issuer>/.well-known/openid-configuration */
    const char *jwks_url;      /* NULL = discovery's jwks_uri */
    const char *ca_file;
    int cache_seconds;   /* default TTL */
    int refetch_seconds; /* cool-down of unknown-kid refetches */
    bool need_discovery; /* also read discovery when jwks_url is given (native login) */
} mfd_jwks_options;

/* Copies the options, fetches once (a failure is logged, not returned: the
 * background thread keeps trying) and starts the refresher. */
mfd_err mfd_jwks_open(const mfd_jwks_options *options, mfd_jwks **out);
void mfd_jwks_close(mfd_jwks *jwks);

/* A key for this kid (NULL kid: the only signing key) that may verify
 * `alg`; a new reference, or NULL. May refetch once (see above). */
json_t *mfd_jwks_find(mfd_jwks *jwks, const char *kid, const char *alg);

/* A string member of the discovery document (e.g. "token_endpoint"),
 * malloc'd; NULL when unknown. Fetches discovery first if it never worked. */
char *mfd_jwks_discovery_value(mfd_jwks *jwks, const char *name);

#endif
