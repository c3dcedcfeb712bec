/* werkzeug password hashes (auth.md §6): the spec's vectors verify, wrong
 * passwords and malformed or unsupported strings never match, new hashes
 * have werkzeug's current format and verify. */
#include <stdlib.h>
#include <string.h>

#include "auth/passwords.h"
#include "test.h"

static const char *const vectors[] = {
    "scrypt:32768:8:1$abcdefghijklmnop$5e486b2eeda2d795f7264fb41829aa1b25c54f2cc26993369310e21fa38"
    "8c850761d029c99544f5d059424bb0ef0685d1a561ef4a40736237e3e3584821fecb8",
    "scrypt:16384:8:1$abcdefghijklmnop$beca6b8866895c524ed3d41a60e26df2a98c0d19f6f107b1e0dd43966d6"
    "c898779ce2c018d8eb9ca2f003cc59c5d4eddc34ac6435d1163f1c541680c64d0ca09",
    "pbkdf2:sha256:600000$abcdefghijklmnop$4006a4e16079d6a3714ff8d7afe8a3c3272207e2d0206aa5f1e2d812"
    "61a34690",
    "pbkdf2:sha256:260000$abcdefghijklmnop$e899cf972d255b26b6b68a9ef80f00520c66daea0e31011662d58edb"
    "e14cfcbf",
    "pbkdf2:sha256:1000000$abcdefghijklmnop$2ef89f44078b05c8208d834369234e142b44f311d40f975c35f68bc"
    "cb7276769",
    "pbkdf2:sha1:1000$abcdefghijklmnop$b438f3094ea63c1d3920ad7e98adb1112d10211b",
    "pbkdf2:sha512:1000$abcdefghijklmnop$2179fb05be22d6de766077d55b49b7bd3aa5d7d9dddd5e8f8638797bf1"
    "396d65f47a861ae68e69136bf351b4c47edab9364cbbd7fd3fa6b30ae6540eeabc065b",
};

/* R-SSO-14: werkzeug pbkdf2/scrypt hashes as MLflow's auth DB holds them verify. */
static void test_werkzeug_vectors_verify(void) {
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        if (!mfd_auth_password_verify(vectors[i], "password1234"))
            fprintf(stderr, "vector %zu did not verify: %.40s...\n", i, vectors[i]);
        CHECK(mfd_auth_password_verify(vectors[i], "password1234"));
    }
}

static void test_wrong_password_never_matches(void) {
    CHECK(!mfd_auth_password_verify(vectors[0], "password1235"));
    CHECK(!mfd_auth_password_verify(vectors[5], "password123"));
    CHECK(!mfd_auth_password_verify(vectors[6], ""));
}

static void test_defaults_of_short_method_strings(void) {
    /* "scrypt" alone = 32768:8:1, "pbkdf2" alone = sha256 with 1,000,000 iterations. */
    const char *v0 = strchr(vectors[0], '$');
    const char *v4 = strchr(vectors[4], '$');
    char buf[300];
    snprintf(buf, sizeof buf, "scrypt%s", v0);
    CHECK(mfd_auth_password_verify(buf, "password1234"));
    snprintf(buf, sizeof buf, "pbkdf2%s", v4);
    CHECK(mfd_auth_password_verify(buf, "password1234"));
    snprintf(buf, sizeof buf, "pbkdf2:sha256%s", v4);
    CHECK(mfd_auth_password_verify(buf, "password1234"));
}

static void test_malformed_and_legacy_strings_never_match(void) {
    CHECK(!mfd_auth_password_verify("", "password1234"));
    CHECK(!mfd_auth_password_verify(NULL, "password1234"));
    CHECK(!mfd_auth_password_verify("pbkdf2:sha256:1000", "password1234"));
    CHECK(!mfd_auth_password_verify("pbkdf2:sha256:1000$salt", "password1234"));
    CHECK(!mfd_auth_password_verify("sha256$abcdefghijklmnop$00", "password1234"));
    CHECK(!mfd_auth_password_verify("md5$abc$00", "password1234"));
    CHECK(!mfd_auth_password_verify("scrypt:1:2$abc$00", "password1234"));
    CHECK(!mfd_auth_password_verify("scrypt:3:8:1$abc$00", "password1234")); /* n not 2^k */
    CHECK(!mfd_auth_password_verify("pbkdf2:nohash:1000$abc$00", "password1234"));
    CHECK(!mfd_auth_password_verify("pbkdf2:sha256:x$abc$00", "password1234"));
    /* Upper-case hex of a right digest does not match, as in werkzeug. */
    char upper[300];
    snprintf(upper, sizeof upper, "%s", vectors[5]);
    for (char *p = strrchr(upper, '$'); *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    CHECK(!mfd_auth_password_verify(upper, "password1234"));
}

static void test_new_hash_has_werkzeug_format_and_verifies(void) {
    char *hash = NULL;
    mfd_err err = mfd_auth_password_hash("correct horse battery", &hash);
    CHECK(err == NULL);
    mfd_err_free(err);
    CHECK(hash && strncmp(hash, "scrypt:32768:8:1$", 17) == 0);
    if (!hash)
        return;
    const char *salt = hash + 17;
    const char *dollar = strchr(salt, '$');
    CHECK(dollar && dollar - salt == 16);
    for (const char *p = salt; dollar && p < dollar; p++)
        CHECK((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'));
    CHECK(dollar && strlen(dollar + 1) == 128);
    CHECK(mfd_auth_password_verify(hash, "correct horse battery"));
    CHECK(!mfd_auth_password_verify(hash, "correct horse batterz"));
    char *again = NULL;
    mfd_err_free(mfd_auth_password_hash("correct horse battery", &again));
    CHECK(again && strcmp(again, hash) != 0); /* fresh salt every time */
    free(again);
    free(hash);
}

static void test_password_rule_counts_characters(void) {
    mfd_err err = mfd_auth_password_check_rule("short");
    CHECK(err && err->code == MFD_INVALID_PARAMETER_VALUE &&
          !strcmp(err->message, "Password must be a string longer than 12 characters."));
    mfd_err_free(err);
    CHECK(mfd_auth_password_check_rule("123456789012") == NULL);
    err = mfd_auth_password_check_rule("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"); /* 6 */
    CHECK(err != NULL);
    mfd_err_free(err);
}

MFD_TEST_MAIN(MFD_TEST(test_werkzeug_vectors_verify), MFD_TEST(test_wrong_password_never_matches),
              MFD_TEST(test_defaults_of_short_method_strings),
              MFD_TEST(test_malformed_and_legacy_strings_never_match),
              MFD_TEST(test_new_hash_has_werkzeug_format_and_verifies),
              MFD_TEST(test_password_rule_counts_characters))
