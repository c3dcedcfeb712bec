/* The verified-token cache (auth/token_cache.h): a hit needs the same kind
 * and credential and the data version it was read under; forgetting a token
 * or its user ends it at once, even after this thread remembered it; an
 * entry ends at its `until`, or `fresh_ms` after its put. */
#include "auth/token_cache.h"
#include "test.h"

#include <time.h>

static void put_alice(mfd_token_cache *c, const unsigned char *digest, int64_t until) {
    mfd_sso_identity id = {
        .username = "alice", .user_id = 3, .level = 2, .allowed = true, .roles = "viewer\neditor"};
    mfd_token_cache_put(c, digest, &id, until, 7);
}

static void test_hit_copies_the_identity(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_token_cache *c = mfd_token_cache_new(0);
    unsigned char d[MFD_TOKEN_DIGEST_LEN], other[MFD_TOKEN_DIGEST_LEN];
    mfd_token_cache_digest("bearer", "token-1", d);
    mfd_token_cache_digest("session", "token-1", other);
    put_alice(c, d, (int64_t)time(NULL) + 60);
    mfd_sso_identity id;
    for (int i = 0; i < 2; i++) { /* the shared table, then this thread's memo */
        CHECK(mfd_token_cache_get(c, d, 7, a, &id));
        CHECK_STR(id.username, "alice");
        CHECK_STR(id.roles, "viewer\neditor");
        CHECK(id.user_id == 3 && id.level == 2 && id.allowed && id.csrf == NULL);
    }
    CHECK(!mfd_token_cache_get(c, other, 7, a, &id)); /* another kind of credential */
    mfd_token_cache_free(c);
    mfd_arena_free(a);
}

static void test_forget_ends_a_remembered_hit(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_token_cache *c = mfd_token_cache_new(0);
    unsigned char d[MFD_TOKEN_DIGEST_LEN];
    mfd_token_cache_digest("bearer", "token-2", d);
    mfd_sso_identity id;
    put_alice(c, d, (int64_t)time(NULL) + 60);
    CHECK(mfd_token_cache_get(c, d, 7, a, &id));
    mfd_token_cache_forget(c, d);
    CHECK(!mfd_token_cache_get(c, d, 7, a, &id));
    put_alice(c, d, (int64_t)time(NULL) + 60);
    CHECK(mfd_token_cache_get(c, d, 7, a, &id));
    mfd_token_cache_forget_user(c, "alice");
    CHECK(!mfd_token_cache_get(c, d, 7, a, &id));
    put_alice(c, d, (int64_t)time(NULL) - 1); /* expired already: not kept */
    CHECK(!mfd_token_cache_get(c, d, 7, a, &id));
    mfd_token_cache_free(c);
    mfd_arena_free(a);
}

/* Another data version (a write to the auth DB) retires an entry, memo
 * included; with fresh_ms an entry lives at most that long. */
static void test_version_and_freshness_bound_an_entry(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_token_cache *c = mfd_token_cache_new(0);
    unsigned char d[MFD_TOKEN_DIGEST_LEN];
    mfd_token_cache_digest("bearer", "token-3", d);
    mfd_sso_identity id;
    put_alice(c, d, (int64_t)time(NULL) + 60);
    CHECK(mfd_token_cache_get(c, d, 7, a, &id));
    CHECK(mfd_token_cache_get(c, d, 7, a, &id)); /* from this thread's memo */
    CHECK(!mfd_token_cache_get(c, d, 8, a, &id));
    mfd_token_cache_free(c);
    c = mfd_token_cache_new(100);
    put_alice(c, d, (int64_t)time(NULL) + 60);
    CHECK(mfd_token_cache_get(c, d, 7, a, &id));
    struct timespec pause = {0, 150 * 1000000};
    nanosleep(&pause, NULL);
    CHECK(!mfd_token_cache_get(c, d, 7, a, &id)); /* 150 ms > fresh_ms, though `until` is far */
    mfd_token_cache_free(c);
    mfd_arena_free(a);
}

MFD_TEST_MAIN(MFD_TEST(test_hit_copies_the_identity), MFD_TEST(test_forget_ends_a_remembered_hit),
              MFD_TEST(test_version_and_freshness_bound_an_entry))
