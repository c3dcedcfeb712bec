/* jwt.c — compact JWS parsing, key matching, signature verification
 * (libjose) and claim checks; the rules are listed in jwt.h. */
#include "jwt.h"

#include "jose_lib.h"

#include <math.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool mfd_strlist_has(const mfd_strlist *list, const char *s) {
    for (size_t i = 0; list && s && i < list->n; i++)
        if (!strcmp(list->items[i], s))
            return true;
    return false;
}

static bool is_b64url(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* Decodes one base64url segment as a strict JSON object. */
static json_t *decode_object(const char *seg, size_t n) {
    size_t len = mfd_jose_b64_dec_buf(seg, n, NULL, 0);
    if (len == SIZE_MAX || len == 0)
        return NULL;
    char *buf = malloc(len);
    if (!buf)
        return NULL;
    json_t *v = NULL;
    if (mfd_jose_b64_dec_buf(seg, n, buf, len) == len)
        v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
    free(buf);
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

static bool algorithm_forbidden(const char *alg) {
    return !strcasecmp(alg, "none") || !strncasecmp(alg, "HS", 2);
}

/* Header media types of a signed JWT (RFC 7519, RFC 9068). */
static bool typ_acceptable(const char *typ) {
    static const char *const ok[] = {"JWT", "at+jwt", "application/jwt", "application/at+jwt"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strcasecmp(typ, ok[i]))
            return true;
    return false;
}

static bool check_header(mfd_jwt *out, const mfd_strlist *algorithms, const char **why) {
    json_t *h = out->header;
    json_t *alg = json_object_get(h, "alg");
    if (!json_is_string(alg))
        return *why = "header has no alg", false;
    out->alg = json_string_value(alg);
    if (algorithm_forbidden(out->alg))
        return *why = "algorithm none/HS* refused", false;
    if (!mfd_strlist_has(algorithms, out->alg))
        return *why = "algorithm not allowed", false;
    if (json_object_get(h, "crit"))
        return *why = "crit header refused", false;
    if (json_object_get(h, "zip") || json_object_get(h, "enc"))
        return *why = "encrypted/compressed token refused", false;
    json_t *typ = json_object_get(h, "typ");
    if (typ && (!json_is_string(typ) || !typ_acceptable(json_string_value(typ))))
        return *why = "header typ is not a JWT type", false;
    json_t *kid = json_object_get(h, "kid");
    if (kid) {
        if (!json_is_string(kid) || json_string_length(kid) == 0 ||
            json_string_length(kid) > MFD_JWT_MAX_KID)
            return *why = "kid is not a string of 1-256 bytes", false;
        out->kid = json_string_value(kid);
    }
    return true;
}

bool mfd_jwt_parse(const char *token, const mfd_strlist *algorithms, mfd_jwt *out,
                   const char **why) {
    memset(out, 0, sizeof *out);
    size_t len = strnlen(token, MFD_JWT_MAX_BYTES + 1);
    if (len > MFD_JWT_MAX_BYTES)
        return *why = "token larger than 16 KiB", false;
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2)
        return *why = "not a compact JWS (three segments)", false;
    if (strchr(dot2 + 1, '.'))
        return *why = "more than three segments (JWE refused)", false;
    size_t n_header = (size_t)(dot1 - token), n_payload = (size_t)(dot2 - dot1 - 1);
    size_t n_signature = len - (size_t)(dot2 + 1 - token);
    if (!n_header || !n_payload || !n_signature || !is_b64url(token, n_header) ||
        !is_b64url(dot1 + 1, n_payload) || !is_b64url(dot2 + 1, n_signature))
        return *why = "segment is not unpadded base64url", false;
    if (!(out->header = decode_object(token, n_header)))
        return *why = "header is not a JSON object", false;
    if (!check_header(out, algorithms, why)) {
        mfd_jwt_free(out);
        return false;
    }
    if (!(out->claims = decode_object(dot1 + 1, n_payload))) {
        mfd_jwt_free(out);
        return *why = "payload is not a JSON object", false;
    }
    out->jws = json_pack("{s:s%,s:s%,s:s%}", "protected", token, n_header, "payload", dot1 + 1,
                         n_payload, "signature", dot2 + 1, n_signature);
    if (!out->jws) {
        mfd_jwt_free(out);
        return *why = "out of memory", false;
    }
    return true;
}

void mfd_jwt_free(mfd_jwt *jwt) {
    json_decref(jwt->header);
    json_decref(jwt->claims);
    json_decref(jwt->jws);
    memset(jwt, 0, sizeof *jwt);
}

static const char *string_member(const json_t *o, const char *name) {
    json_t *v = json_object_get(o, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool mfd_jwt_key_matches(const json_t *jwk, const char *alg) {
    const char *kty = string_member(jwk, "kty");
    const char *use = string_member(jwk, "use");
    const char *key_alg = string_member(jwk, "alg");
    if (!kty || (json_object_get(jwk, "use") && (!use || strcmp(use, "sig") != 0)))
        return false;
    if (json_object_get(jwk, "alg") && (!key_alg || strcmp(key_alg, alg) != 0))
        return false;
    json_t *ops = json_object_get(jwk, "key_ops");
    if (ops) {
        bool verify = false;
        size_t i;
        json_t *op;
        json_array_foreach(ops, i, op) verify |=
            json_is_string(op) && !strcmp(json_string_value(op), "verify");
        if (!verify)
            return false;
    }
    if (!strncmp(alg, "RS", 2) || !strncmp(alg, "PS", 2)) {
        if (strcmp(kty, "RSA") != 0)
            return false;
        size_t bytes = mfd_jose_b64_dec(json_object_get(jwk, "n"), NULL, 0);
        return bytes != SIZE_MAX && bytes >= 256; /* 2048 bits */
    }
    if (!strncmp(alg, "ES", 2)) {
        const char *crv = string_member(jwk, "crv");
        const char *want = !strcmp(alg, "ES256")   ? "P-256"
                           : !strcmp(alg, "ES384") ? "P-384"
                           : !strcmp(alg, "ES512") ? "P-521"
                                                   : NULL;
        return !strcmp(kty, "EC") && crv && want && !strcmp(crv, want);
    }
    return false; /* EdDSA and anything else: not on the allow-list */
}

bool mfd_jwt_verify(const mfd_jwt *jwt, const json_t *jwk) {
    if (!mfd_jwt_key_matches(jwk, jwt->alg))
        return false;
    /* The key is pinned to the algorithm, so libjose also refuses a header
     * that names another one. */
    json_t *pinned = json_deep_copy(jwk);
    if (!pinned)
        return false;
    json_object_set_new(pinned, "alg", json_string(jwt->alg));
    bool ok = mfd_jose_jws_ver(NULL, jwt->jws, NULL, pinned, false);
    json_decref(pinned);
    return ok;
}

bool mfd_jwt_time_claim(const json_t *claims, const char *name, int64_t *out, bool *bad) {
    json_t *v = json_object_get(claims, name);
    *bad = false;
    if (!v)
        return false;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
    } else if (json_is_real(v) && isfinite(json_real_value(v)) &&
               fabs(json_real_value(v)) < 9.0e15) {
        *out = (int64_t)floor(json_real_value(v));
    } else {
        *bad = true;
        return false;
    }
    if (*out < 0 || *out > (int64_t)1e13) {
        *bad = true;
        return false;
    }
    return true;
}

static bool check_audience(const json_t *claims, const mfd_strlist *audiences, const char **why) {
    json_t *aud = json_object_get(claims, "aud");
    if (json_is_string(aud))
        return mfd_strlist_has(audiences, json_string_value(aud)) ||
               (*why = "aud is not an accepted audience", false);
    if (!json_is_array(aud))
        return *why = aud ? "aud has the wrong type" : "token has no aud", false;
    bool hit = false;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) {
        if (!json_is_string(v))
            return *why = "aud has the wrong type", false;
        hit |= mfd_strlist_has(audiences, json_string_value(v));
    }
    return hit || (*why = "aud is not an accepted audience", false);
}

/* An optional string claim: false (with *why) when present but not a string. */
static bool optional_string(const json_t *claims, const char *name, const char **out,
                            const char **why, const char *wrong_type) {
    json_t *v = json_object_get(claims, name);
    *out = NULL;
    if (!v)
        return true;
    if (!json_is_string(v))
        return *why = wrong_type, false;
    *out = json_string_value(v);
    return true;
}

static bool check_times(const json_t *claims, int leeway, int64_t now, const char **why) {
    int64_t exp, nbf, iat;
    bool bad;
    if (!mfd_jwt_time_claim(claims, "exp", &exp, &bad))
        return *why = bad ? "exp has the wrong type" : "token has no exp", false;
    if (exp + leeway <= now)
        return *why = "token expired", false;
    if (mfd_jwt_time_claim(claims, "nbf", &nbf, &bad) && nbf != 0 && nbf > now + leeway)
        return *why = "token not valid yet (nbf)", false;
    if (bad)
        return *why = "nbf has the wrong type", false;
    if (!mfd_jwt_time_claim(claims, "iat", &iat, &bad)) /* required, as exp (sso §2.2) */
        return *why = bad ? "iat has the wrong type" : "token has no iat", false;
    if (iat > now + leeway)
        return *why = "token issued in the future (iat): check the clocks", false;
    return true;
}

bool mfd_jwt_check_claims(const mfd_jwt *jwt, const mfd_jwt_expect *expect, int64_t now,
                          const char **why) {
    const json_t *c = jwt->claims;
    const char *iss, *azp, *typ, *sub, *nonce;
    if (!optional_string(c, "iss", &iss, why, "iss has the wrong type") ||
        !optional_string(c, "azp", &azp, why, "azp has the wrong type") ||
        !optional_string(c, "typ", &typ, why, "typ has the wrong type") ||
        !optional_string(c, "sub", &sub, why, "sub has the wrong type") ||
        !optional_string(c, "nonce", &nonce, why, "nonce has the wrong type"))
        return false;
    if (!iss || !expect->issuer || strcmp(iss, expect->issuer) != 0)
        return *why = "iss is not the configured issuer", false;
    if (!check_audience(c, expect->audiences, why))
        return false;
    if (expect->azp && expect->azp->n && !mfd_strlist_has(expect->azp, azp))
        return *why = "azp is not allowed", false;
    if (expect->types && expect->types->n && typ && !mfd_strlist_has(expect->types, typ))
        return *why = "token typ is not accepted (refresh or logout token?)", false;
    if (!check_times(c, expect->leeway_seconds, now, why))
        return false;
    if (expect->nonce) {
        size_t n = strlen(expect->nonce);
        if (!nonce || strlen(nonce) != n || CRYPTO_memcmp(nonce, expect->nonce, n) != 0)
            return *why = "nonce does not match", false;
    }
    return true;
}
