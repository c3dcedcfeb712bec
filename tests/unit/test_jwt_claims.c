/* The claim checks of an ID or access token (jwt.h mfd_jwt_check_claims),
 * each refusal proven on its own, and the header/payload shapes the existing
 * SSO test does not send: a header without alg, a compressed or encrypted
 * header, a payload that is not one JSON object. Every case starts from a
 * token that passes, changes one thing, and expects that one refusal. */
#include <jansson.h>

#include "auth/jose_lib.h"
#include "auth/jwt.h"
#include "test.h"
#include "test_b64.h"

enum { NOW = 1700000000, LEEWAY = 30 };

static char *audience_items[] = {"mlflow", "mlflow-ui"};
static const mfd_strlist audiences = {audience_items, 2};
static char *azp_items[] = {"mlflow-ui"};
static const mfd_strlist azp = {azp_items, 1};
static char *type_items[] = {"Bearer", "ID"};
static const mfd_strlist types = {type_items, 2};

static const mfd_jwt_expect expect = {
    .issuer = "https://idp.example/realms/r", .audiences = &audiences, .leeway_seconds = LEEWAY};

/* A claim set that passes `expect` at NOW. */
static json_t *good_claims(void) {
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "iss", "https://idp.example/realms/r", "aud",
                     "mlflow", "sub", "user-1", "exp", (json_int_t)NOW + 300, "iat",
                     (json_int_t)NOW - 10, "nbf", (json_int_t)NOW - 10);
}

/* NULL when the claims pass, else why they do not. Takes `claims`. */
static const char *refusal(json_t *claims, const mfd_jwt_expect *e) {
    mfd_jwt jwt = {.claims = claims};
    const char *why = NULL;
    bool ok = mfd_jwt_check_claims(&jwt, e, NOW, &why);
    json_decref(claims);
    return ok ? NULL : why;
}

static json_t *with(const char *name, json_t *value) {
    json_t *c = good_claims();
    json_object_set_new(c, name, value);
    return c;
}

static json_t *without(const char *name) {
    json_t *c = good_claims();
    json_object_del(c, name);
    return c;
}

#define CHECK_PASSES(claims, e) CHECK(refusal(claims, e) == NULL)
#define CHECK_REFUSED(claims, e, why)                                                              \
    do {                                                                                           \
        const char *w_ = refusal(claims, e);                                                       \
        CHECK_STR(w_ ? w_ : "(passed)", why);                                                      \
    } while (0)

static void test_the_audience(void) {
    CHECK_PASSES(good_claims(), &expect);
    CHECK_PASSES(with("aud", json_pack("[s, s]", "other", "mlflow-ui")), &expect);
    CHECK_REFUSED(with("aud", json_string("other")), &expect, "aud is not an accepted audience");
    CHECK_REFUSED(with("aud", json_pack("[s, s]", "a", "b")), &expect,
                  "aud is not an accepted audience");
    CHECK_REFUSED(with("aud", json_array()), &expect, "aud is not an accepted audience");
    /* a non-string anywhere in the list refuses the token, even beside a match */
    CHECK_REFUSED(with("aud", json_pack("[s, i]", "mlflow", 7)), &expect, "aud has the wrong type");
    CHECK_REFUSED(with("aud", json_integer(1)), &expect, "aud has the wrong type");
    CHECK_REFUSED(with("aud", json_pack("{s:s}", "0", "mlflow")), &expect,
                  "aud has the wrong type");
    CHECK_REFUSED(with("aud", json_null()), &expect, "aud has the wrong type");
    CHECK_REFUSED(without("aud"), &expect, "token has no aud");
    /* an empty list of audiences accepts none */
    mfd_jwt_expect none = expect;
    none.audiences = &(mfd_strlist){NULL, 0};
    CHECK_REFUSED(good_claims(), &none, "aud is not an accepted audience");
}

static void test_issuer_azp_typ_and_string_claims(void) {
    CHECK_REFUSED(with("iss", json_string("https://idp.example/realms/other")), &expect,
                  "iss is not the configured issuer");
    CHECK_REFUSED(with("iss", json_string("https://idp.example/realms/r/")), &expect,
                  "iss is not the configured issuer");
    CHECK_REFUSED(without("iss"), &expect, "iss is not the configured issuer");
    CHECK_REFUSED(with("iss", json_integer(1)), &expect, "iss has the wrong type");
    CHECK_REFUSED(with("sub", json_integer(1)), &expect, "sub has the wrong type");
    CHECK_REFUSED(with("nonce", json_true()), &expect, "nonce has the wrong type");
    mfd_jwt_expect e = expect;
    e.azp = &azp;
    CHECK_PASSES(with("azp", json_string("mlflow-ui")), &e);
    CHECK_REFUSED(with("azp", json_string("other-client")), &e, "azp is not allowed");
    CHECK_REFUSED(good_claims(), &e, "azp is not allowed"); /* required once configured */
    CHECK_REFUSED(with("azp", json_integer(3)), &e, "azp has the wrong type");
    e = expect;
    e.types = &types;
    CHECK_PASSES(with("typ", json_string("Bearer")), &e);
    CHECK_PASSES(good_claims(), &e); /* no typ: not a refresh or logout token */
    CHECK_REFUSED(with("typ", json_string("Refresh")), &e,
                  "token typ is not accepted (refresh or logout token?)");
    CHECK_REFUSED(with("typ", json_array()), &e, "typ has the wrong type");
}

static void test_the_times(void) {
    CHECK_REFUSED(without("exp"), &expect, "token has no exp");
    CHECK_REFUSED(with("exp", json_string("1700000300")), &expect, "exp has the wrong type");
    CHECK_REFUSED(with("exp", json_integer(-1)), &expect, "exp has the wrong type");
    CHECK_REFUSED(with("exp", json_integer((json_int_t)2e13)), &expect, "exp has the wrong type");
    CHECK_REFUSED(with("exp", json_integer(NOW - LEEWAY)), &expect, "token expired");
    CHECK_PASSES(with("exp", json_integer(NOW - LEEWAY + 1)), &expect); /* within the leeway */
    CHECK_PASSES(with("exp", json_real(NOW + 0.5)), &expect);           /* a NumericDate real */
    CHECK_REFUSED(with("exp", json_real(NOW - LEEWAY - 0.5)), &expect, "token expired");
    CHECK_REFUSED(with("nbf", json_integer(NOW + LEEWAY + 1)), &expect,
                  "token not valid yet (nbf)");
    CHECK_PASSES(with("nbf", json_integer(NOW + LEEWAY)), &expect);
    CHECK_PASSES(without("nbf"), &expect);
    CHECK_REFUSED(with("nbf", json_string("0")), &expect, "nbf has the wrong type");
    CHECK_REFUSED(with("nbf", json_true()), &expect, "nbf has the wrong type");
    CHECK_REFUSED(without("iat"), &expect, "token has no iat");
    CHECK_REFUSED(with("iat", json_null()), &expect, "iat has the wrong type");
    CHECK_REFUSED(with("iat", json_integer(NOW + LEEWAY + 1)), &expect,
                  "token issued in the future (iat): check the clocks");
}

static void test_the_nonce(void) {
    mfd_jwt_expect e = expect;
    e.nonce = "n-0123456789";
    CHECK_PASSES(with("nonce", json_string("n-0123456789")), &e);
    CHECK_REFUSED(with("nonce", json_string("n-0123456788")), &e, "nonce does not match");
    CHECK_REFUSED(with("nonce", json_string("n-01234567890")), &e, "nonce does not match");
    CHECK_REFUSED(with("nonce", json_string("n-012345678")), &e, "nonce does not match");
    CHECK_REFUSED(with("nonce", json_string("")), &e, "nonce does not match");
    CHECK_REFUSED(good_claims(), &e, "nonce does not match");      /* absent */
    CHECK_PASSES(with("nonce", json_string("anything")), &expect); /* not asked for */
}

static void test_time_claim_reading(void) {
    int64_t t = 0;
    bool bad = true;
    json_t *c = json_pack("{s:f, s:f, s:s}", "r", 12.9, "inf", 1e300, "s", "5");
    CHECK(mfd_jwt_time_claim(c, "r", &t, &bad) && !bad && t == 12); /* floored */
    CHECK(!mfd_jwt_time_claim(c, "inf", &t, &bad) && bad);
    CHECK(!mfd_jwt_time_claim(c, "s", &t, &bad) && bad);
    CHECK(!mfd_jwt_time_claim(c, "absent", &t, &bad) && !bad);
    json_decref(c);
}

static const char *parse_why(const char *header, const char *payload) {
    static char *algs[] = {"RS256"};
    mfd_strlist allowed = {algs, 1};
    char token[1024];
    snprintf(token, sizeof token, "%s.%s.c2ln", b64(header), b64(payload));
    mfd_jwt jwt;
    const char *why = NULL;
    if (mfd_jwt_parse(token, &allowed, &jwt, &why)) {
        mfd_jwt_free(&jwt);
        return "(parsed)";
    }
    return why;
}

static void test_header_and_payload_shapes(void) {
    const char *payload = "{\"sub\":\"x\"}";
    CHECK_STR(parse_why("{\"alg\":\"RS256\"}", payload), "(parsed)");
    CHECK_STR(parse_why("{\"kid\":\"k\"}", payload), "header has no alg");
    CHECK_STR(parse_why("{\"alg\":256}", payload), "header has no alg");
    CHECK_STR(parse_why("{\"alg\":\"RS256\",\"zip\":\"DEF\"}", payload),
              "encrypted/compressed token refused");
    CHECK_STR(parse_why("{\"alg\":\"RS256\",\"enc\":\"A256GCM\"}", payload),
              "encrypted/compressed token refused");
    CHECK_STR(parse_why("{\"alg\":\"RS256\"}", "[\"sub\"]"), "payload is not a JSON object");
    CHECK_STR(parse_why("{\"alg\":\"RS256\"}", "\"sub\""), "payload is not a JSON object");
    CHECK_STR(parse_why("{\"alg\":\"RS256\"}", "{\"sub\":\"a\",\"sub\":\"admin\"}"),
              "payload is not a JSON object"); /* duplicate members */
    CHECK_STR(parse_why("{\"alg\":\"RS256\"}", "{\"sub\":\"a\"} trailing"),
              "payload is not a JSON object");
}

MFD_TEST_MAIN(MFD_TEST(test_the_audience), MFD_TEST(test_issuer_azp_typ_and_string_claims),
              MFD_TEST(test_the_times), MFD_TEST(test_the_nonce), MFD_TEST(test_time_claim_reading),
              MFD_TEST(test_header_and_payload_shapes))
