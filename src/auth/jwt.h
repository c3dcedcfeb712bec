/* jwt.h — JSON Web Tokens as the hostile input they are (sso-and-deploy.md
 * §7, RFC 8725): compact JWS parsing, key/algorithm matching and signature
 * verification with libjose, and the claim checks. No I/O, no global state.
 *
 * Rules kept here: the verifier's allow-list chooses the algorithm (never
 * `none`, never HS*), the key must be of the algorithm's family (RSA >= 2048
 * bits for RS/PS, EC on the algorithm's curve for ES), header-supplied keys
 * (jku, x5u, jwk, x5c) are never used, any `crit` is refused, JSON is strict
 * (duplicate members, invalid UTF-8, oversized numbers are errors) and a
 * claim of the wrong JSON type is an error, not "absent". */
#ifndef MFD_AUTH_JWT_H
#define MFD_AUTH_JWT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { MFD_JWT_MAX_BYTES = 16 * 1024, MFD_JWT_MAX_KID = 256 };

/* A list of strings (configuration values); items malloc'd by its owner. */
typedef struct mfd_strlist {
    char **items;
    size_t n;
} mfd_strlist;

bool mfd_strlist_has(const mfd_strlist *list, const char *s);

typedef struct mfd_jwt {
    json_t *header; /* owned */
    json_t *claims; /* owned */
    json_t *jws;    /* owned: {"protected", "payload", "signature"} for libjose */
    const char *alg;
    const char *kid; /* NULL when the header has none */
} mfd_jwt;

/* Parses a compact JWS and checks its header against the allow-list.
 * On failure *why says what was wrong (static text, safe to log). */
bool mfd_jwt_parse(const char *token, const mfd_strlist *algorithms, mfd_jwt *out,
                   const char **why);
void mfd_jwt_free(mfd_jwt *jwt);

/* True when `jwk` may verify tokens signed with `alg`: use/key_ops allow
 * verification, kty and curve match the family, the JWK's own alg (if any)
 * is `alg`, RSA moduli have at least 2048 bits. */
bool mfd_jwt_key_matches(const json_t *jwk, const char *alg);

/* Verifies the signature with libjose (the key must match, see above). */
bool mfd_jwt_verify(const mfd_jwt *jwt, const json_t *jwk);

typedef struct mfd_jwt_expect {
    const char *issuer;           /* exact match */
    const mfd_strlist *audiences; /* aud must contain one; empty list = refuse all */
    const mfd_strlist *azp;       /* when non-empty: azp must be one */
    const mfd_strlist *types;     /* when non-empty: a payload typ must be one */
    int leeway_seconds;
    const char *nonce; /* when set: the nonce claim must equal it */
} mfd_jwt_expect;

/* iss, aud, azp, typ, exp (required), nbf, iat and nonce. */
bool mfd_jwt_check_claims(const mfd_jwt *jwt, const mfd_jwt_expect *expect, int64_t now,
                          const char **why);

/* A claim as a NumericDate (integer or finite real); false when absent;
 * *bad set when present with the wrong type or out of range. */
bool mfd_jwt_time_claim(const json_t *claims, const char *name, int64_t *out, bool *bad);

#endif
