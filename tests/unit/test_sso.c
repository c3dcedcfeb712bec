/* Single sign-on pieces without a network: compact JWS parsing refuses every
 * hostile shape before any key lookup, keys must match the algorithm's family
 * and size, trusted-proxy CIDRs (IPv4-mapped peers included), roles from
 * claims and oauth2-proxy headers, and the role mapping's level. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jose_lib.h"
#include "auth/sso.h"
#include "config/auth_ini.h"
#include "test.h"
#include "test_b64.h"

static mfd_strlist rs256_only(void) {
    static char *items[] = {"RS256"};
    return (mfd_strlist){items, 1};
}

static const char *parse_why(const char *token) {
    mfd_strlist algs = rs256_only();
    mfd_jwt jwt;
    const char *why = NULL;
    if (mfd_jwt_parse(token, &algs, &jwt, &why)) {
        mfd_jwt_free(&jwt);
        return NULL;
    }
    return why;
}

/* R-SSO-4: none/HS*, algorithms off the allow-list, crit, JWE, padding, long kid, > 16 KiB. */
static void test_hostile_shapes_are_refused_before_any_key(void) {
    char t[1024];
    const char *payload = b64("{\"sub\":\"x\"}");
    snprintf(t, sizeof t, "%s.%s.", b64("{\"alg\":\"none\"}"), payload);
    CHECK(parse_why(t) != NULL);
    snprintf(t, sizeof t, "%s.%s.c2ln", b64("{\"alg\":\"none\"}"), payload);
    CHECK_STR(parse_why(t), "algorithm none/HS* refused");
    snprintf(t, sizeof t, "%s.%s.c2ln", b64("{\"alg\":\"HS256\",\"kid\":\"k1\"}"), payload);
    CHECK_STR(parse_why(t), "algorithm none/HS* refused");
    snprintf(t, sizeof t, "%s.%s.c2ln", b64("{\"alg\":\"ES256\"}"), payload);
    CHECK_STR(parse_why(t), "algorithm not allowed");
    snprintf(t, sizeof t, "%s.%s.c2ln", b64("{\"alg\":\"RS256\",\"crit\":[\"exp\"]}"), payload);
    CHECK_STR(parse_why(t), "crit header refused");
    snprintf(t, sizeof t, "%s.%s.c2ln", b64("{\"alg\":\"RS256\",\"alg\":\"none\"}"), payload);
    CHECK_STR(parse_why(t), "header is not a JSON object"); /* duplicate member */
    snprintf(t, sizeof t, "%s.%s.c2ln", b64("{\"alg\":\"RS256\",\"typ\":\"logout+jwt\"}"), payload);
    CHECK_STR(parse_why(t), "header typ is not a JWT type");
    snprintf(t, sizeof t, "%s.a.b.c.d", b64("{\"alg\":\"RSA-OAEP\"}"));
    CHECK_STR(parse_why(t), "more than three segments (JWE refused)");
    snprintf(t, sizeof t, "%s.%s=.c2ln", b64("{\"alg\":\"RS256\"}"), payload);
    CHECK_STR(parse_why(t), "segment is not unpadded base64url");
    char kid[400];
    memset(kid, 'k', 300);
    kid[300] = '\0';
    char header[512];
    snprintf(header, sizeof header, "{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
    snprintf(t, sizeof t, "%s.%s.c2ln", b64(header), payload);
    CHECK_STR(parse_why(t), "kid is not a string of 1-256 bytes");
    char *big = malloc(MFD_JWT_MAX_BYTES + 10);
    memset(big, 'A', MFD_JWT_MAX_BYTES + 9);
    big[MFD_JWT_MAX_BYTES + 9] = '\0';
    CHECK_STR(parse_why(big), "token larger than 16 KiB");
    free(big);
    snprintf(t, sizeof t, "%s.%s.c2ln", b64("{\"alg\":\"RS256\",\"kid\":\"k1\"}"), payload);
    CHECK(parse_why(t) == NULL);
}

/* R-SSO-4: key/alg match (family, RSA >= 2048 bits, JWK alg, no use:enc key). */
static void test_keys_must_match_the_algorithm(void) {
    char n2048[400], n1024[200];
    memset(n2048, 'A', 342);
    n2048[342] = '\0'; /* 256 bytes */
    memset(n1024, 'A', 171);
    n1024[171] = '\0';
    json_t *rsa = json_pack("{s:s,s:s,s:s}", "kty", "RSA", "n", n2048, "e", "AQAB");
    json_t *weak = json_pack("{s:s,s:s,s:s}", "kty", "RSA", "n", n1024, "e", "AQAB");
    json_t *enc =
        json_pack("{s:s,s:s,s:s,s:s}", "kty", "RSA", "n", n2048, "e", "AQAB", "use", "enc");
    json_t *pinned =
        json_pack("{s:s,s:s,s:s,s:s}", "kty", "RSA", "n", n2048, "e", "AQAB", "alg", "RS512");
    json_t *ec = json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x", "AA", "y", "AA");
    CHECK(mfd_jwt_key_matches(rsa, "RS256") && mfd_jwt_key_matches(rsa, "PS256"));
    CHECK(!mfd_jwt_key_matches(rsa, "ES256") && !mfd_jwt_key_matches(rsa, "HS256"));
    CHECK(!mfd_jwt_key_matches(weak, "RS256"));
    CHECK(!mfd_jwt_key_matches(enc, "RS256"));
    CHECK(!mfd_jwt_key_matches(pinned, "RS256") && mfd_jwt_key_matches(pinned, "RS512"));
    CHECK(mfd_jwt_key_matches(ec, "ES256") && !mfd_jwt_key_matches(ec, "ES384"));
    CHECK(!mfd_jwt_key_matches(ec, "RS256"));
    json_decref(rsa);
    json_decref(weak);
    json_decref(enc);
    json_decref(pinned);
    json_decref(ec);
}

/* R-SSO-11: trusted_proxies CIDRs, IPv4-mapped peers included. */
static void test_trusted_proxies(void) {
    mfd_cidr cidrs[3];
    CHECK(mfd_cidr_parse("127.0.0.1/32", &cidrs[0]));
    CHECK(mfd_cidr_parse("::1/128", &cidrs[1]));
    CHECK(mfd_cidr_parse("10.1.0.0/16", &cidrs[2]));
    CHECK(!mfd_cidr_parse("10.0.0.0/33", &(mfd_cidr){0}));
    CHECK(!mfd_cidr_parse("not-an-address", &(mfd_cidr){0}));
    mfd_sso_settings s = {.proxies = cidrs, .n_proxies = 3};
    CHECK(mfd_sso_peer_trusted(&s, "127.0.0.1"));
    CHECK(mfd_sso_peer_trusted(&s, "::ffff:127.0.0.1"));
    CHECK(mfd_sso_peer_trusted(&s, "::1"));
    CHECK(mfd_sso_peer_trusted(&s, "10.1.200.3"));
    CHECK(!mfd_sso_peer_trusted(&s, "127.0.0.2"));
    CHECK(!mfd_sso_peer_trusted(&s, "10.2.0.1"));
    CHECK(!mfd_sso_peer_trusted(&s, NULL));
}

/* R-SSO-6 (username claims), R-SSO-8 (role sources, header roles), R-SSO-9 (levels). */
static void test_roles_and_mapping(void) {
    mfd_sso_settings s = {0};
    mfd_strlist_split("realm_access.roles, resource_access.mlflow.roles, groups", &s.role_claims);
    mfd_strlist_split("preferred_username, email, sub", &s.username_claims);
    mfd_strlist_split("admin", &s.mappings[MAP_ADMIN]);
    mfd_strlist_split("editor,\n /data-science", &s.mappings[MAP_EDIT]);
    mfd_strlist_split("mlflow:reader", &s.mappings[MAP_READ]);
    s.unmapped = MFD_PERM_NO_PERMISSIONS;
    json_t *claims = json_loads("{\"preferred_username\":\"\",\"email\":\"a@x\",\"realm_access\":"
                                "{\"roles\":[\"x\"]},\"resource_access\":{\"mlflow\":{\"roles\":"
                                "[\"reader\"]}},\"groups\":[\"/data-science\"]}",
                                0, NULL);
    mfd_arena *arena = mfd_arena_new();
    const char *username = NULL, *why = NULL;
    CHECK(mfd_sso_claims_username(&s, claims, &username, &why));
    CHECK_STR(username, "a@x");
    mfd_strbuf roles;
    mfd_strbuf_init(&roles, arena);
    mfd_strbuf_append(&roles, "");
    CHECK(mfd_sso_claims_roles(&s, claims, arena, &roles, &why));
    CHECK_STR(roles.data, "x\nmlflow:reader\n/data-science");
    mfd_sso_identity id = {0};
    mfd_sso_map_roles(&s, roles.data, &id);
    CHECK_INT(id.level, MFD_PERM_EDIT);
    CHECK(!id.is_admin && id.allowed);
    json_t *bad = json_loads("{\"sub\":\"s\",\"groups\":\"/a\"}", 0, NULL);
    mfd_strbuf_init(&roles, arena);
    CHECK(!mfd_sso_claims_roles(&s, bad, arena, &roles, &why));
    mfd_strbuf header;
    mfd_strbuf_init(&header, arena);
    mfd_strbuf_append(&header, "");
    mfd_sso_header_roles("/g1, role:admin,role:mlflow:reader", &header);
    CHECK_STR(header.data, "/g1\nadmin\nmlflow:reader");
    mfd_sso_map_roles(&s, header.data, &id);
    CHECK(id.is_admin);
    CHECK_INT(id.level, MFD_PERM_MANAGE);
    mfd_sso_map_roles(&s, "nothing", &id);
    CHECK_INT(id.level, MFD_PERM_NO_PERMISSIONS);
    mfd_strlist_split("/mlflow-users", &s.allowed_groups);
    mfd_sso_map_roles(&s, "editor", &id);
    CHECK(!id.allowed);
    json_decref(claims);
    json_decref(bad);
    mfd_arena_free(arena);
    mfd_strlist_free(&s.role_claims);
    mfd_strlist_free(&s.username_claims);
    mfd_strlist_free(&s.allowed_groups);
    for (int i = 0; i < MAP_LEVELS; i++)
        mfd_strlist_free(&s.mappings[i]);
}

static const char *no_env(const char *name) {
    (void)name;
    return NULL;
}

/* `basic` in modes and basic_auth: either turns Basic on; saying both on and
 * off is refused, naming the key (it used to keep the last one silently). */
static mfd_err load_sso(const char *sso_lines, mfd_sso_settings **out) {
    char text[512];
    snprintf(text, sizeof text,
             "[mlflow]\nauthorization_function = mlflowd:sso\n[sso]\nissuer = "
             "https://idp.example\naudiences = mlflow\n%s",
             sso_lines);
    mfd_auth_ini *ini = NULL;
    mfd_err err = mfd_auth_ini_parse(text, "f", no_env, &ini);
    if (!err)
        err = mfd_sso_settings_load(ini, out);
    mfd_auth_ini_free(ini);
    return err;
}

static void test_basic_in_modes_and_basic_auth(void) {
    static const struct {
        const char *lines;
        bool basic;
    } ok[] = {{"modes = bearer\n", true},
              {"modes = bearer\nbasic_auth = false\n", false},
              {"modes = basic, bearer\n", true},
              {"modes = basic, bearer\nbasic_auth = true\n", true}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        mfd_sso_settings *s = NULL;
        mfd_err err = load_sso(ok[i].lines, &s);
        CHECK(err == NULL && s && s->basic == ok[i].basic);
        mfd_err_free(err);
        mfd_sso_settings_free(s);
    }
    mfd_sso_settings *s = NULL;
    mfd_err err = load_sso("modes = basic, bearer\nbasic_auth = false\n", &s);
    CHECK(err && strstr(err->message, "basic_auth") && strstr(err->message, "contradicts"));
    mfd_err_free(err);
    mfd_sso_settings_free(s);
}

/* An empty token_types left the payload typ unchecked (refresh and logout tokens passed);
 * it stops the start, naming the key. */
static void test_empty_token_types_are_refused(void) {
    mfd_sso_settings *s = NULL;
    mfd_err err = load_sso("token_types =\n", &s);
    CHECK(err && strstr(err->message, "token_types") && strstr(err->message, "at least one"));
    mfd_err_free(err);
    mfd_sso_settings_free(s);
    s = NULL;
    err = load_sso("token_types = , ,\n", &s);
    CHECK(err && strstr(err->message, "token_types"));
    mfd_err_free(err);
    mfd_sso_settings_free(s);
    s = NULL;
    err = load_sso("token_types = Bearer\n", &s);
    CHECK(err == NULL && s && s->token_types.n == 1);
    mfd_err_free(err);
    mfd_sso_settings_free(s);
}

MFD_TEST_MAIN(MFD_TEST(test_hostile_shapes_are_refused_before_any_key),
              MFD_TEST(test_keys_must_match_the_algorithm), MFD_TEST(test_trusted_proxies),
              MFD_TEST(test_roles_and_mapping), MFD_TEST(test_basic_in_modes_and_basic_auth),
              MFD_TEST(test_empty_token_types_are_refused))
