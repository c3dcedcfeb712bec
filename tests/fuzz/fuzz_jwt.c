/* Fuzz target: JWT handling as the hostile input it is (src/auth/jwt.h):
 * compact JWS parsing against an allow-list, key matching, libjose
 * signature verification and the claim checks. Input layout: the token,
 * then optionally "\n" and a JWK (JSON) to verify with. Any outcome but a
 * crash or a leak is fine; a token must never verify with an HS key or alg
 * "none" (the allow-list excludes them). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "core/arena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mfd_arena *arena = mfd_arena_new();
    char *text = mfd_arena_strndup(arena, (const char *)data, size);
    char *jwk_text = strchr(text, '\n');
    if (jwk_text)
        *jwk_text++ = '\0';
    char *algs[] = {"RS256", "ES256", "PS256"};
    mfd_strlist algorithms = {algs, 3};
    char *auds[] = {"mlflow"};
    mfd_strlist audiences = {auds, 1};
    mfd_jwt jwt;
    const char *why = NULL;
    if (mfd_jwt_parse(text, &algorithms, &jwt, &why)) {
        if (!jwt.alg ||
            (strcmp(jwt.alg, "RS256") && strcmp(jwt.alg, "ES256") && strcmp(jwt.alg, "PS256")))
            abort(); /* only allow-listed algorithms get through */
        json_t *jwk = jwk_text ? json_loads(jwk_text, 0, NULL) : NULL;
        if (jwk && mfd_jwt_key_matches(jwk, jwt.alg)) {
            const char *kty = json_string_value(json_object_get(jwk, "kty"));
            if (kty && strcmp(kty, "oct") == 0)
                abort(); /* a symmetric key never matches an asymmetric algorithm */
            (void)mfd_jwt_verify(&jwt, jwk);
        }
        json_decref(jwk);
        mfd_jwt_expect expect = {.issuer = "https://idp.example/realms/x",
                                 .audiences = &audiences,
                                 .leeway_seconds = 30};
        (void)mfd_jwt_check_claims(&jwt, &expect, 1700000000, &why);
        int64_t t;
        bool bad;
        (void)mfd_jwt_time_claim(jwt.claims, "exp", &t, &bad);
        mfd_jwt_free(&jwt);
    }
    mfd_arena_free(arena);
    return 0;
}
