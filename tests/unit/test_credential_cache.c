/* The verified-credential cache (auth/credential_cache.h): a hit needs the
 * same username and password; the remembered row holds only at the data
 * version it was read at and within its TTL; forgetting a user drops every
 * entry of theirs. */
#include "auth/credential_cache.h"
#include "test.h"

#include <time.h>

static const char hash_a[] = "scrypt:32768:8:1$salt$aaaa", hash_b[] = "scrypt:32768:8:1$salt$bbbb";

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void test_hit_needs_the_same_credentials(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_credential_cache *c = mfd_credential_cache_new(60, 60000);
    mfd_credential_hit hit;
    CHECK(!mfd_credential_cache_find(c, a, "alice", "pw-1", 1, &hit));
    mfd_credential_cache_put(c, "alice", "pw-1", hash_a, 1, 7, false);
    CHECK(mfd_credential_cache_find(c, a, "alice", "pw-1", 1, &hit));
    CHECK(hit.row_known && hit.user_id == 7 && !hit.is_admin && hit.password_hash == NULL);
    CHECK(!mfd_credential_cache_find(c, a, "alice", "pw-2", 1, &hit));
    CHECK(!mfd_credential_cache_find(c, a, "alice", "pw-", 1, &hit));
    CHECK(!mfd_credential_cache_find(c, a, "bob", "pw-1", 1, &hit));
    /* The length prefix: "al" + "icepw-1" is not "alice" + "pw-1". */
    CHECK(!mfd_credential_cache_find(c, a, "al", "icepw-1", 1, &hit));
    mfd_credential_cache_free(c);
    mfd_arena_free(a);
}

static void test_row_holds_only_at_its_version(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_credential_cache *c = mfd_credential_cache_new(60, 60000);
    mfd_credential_hit hit;
    mfd_credential_cache_put(c, "alice", "pw-1", hash_a, 1, 7, false);
    CHECK(mfd_credential_cache_find(c, a, "alice", "pw-1", 1, &hit) && hit.row_known);
    /* The auth DB changed: the credentials still hold, the row must be re-read. */
    CHECK(mfd_credential_cache_find(c, a, "alice", "pw-1", 2, &hit));
    CHECK(!hit.row_known);
    CHECK_STR(hit.password_hash, hash_a);
    /* Re-read and found to hold the same hash: the row holds at version 2. */
    mfd_credential_cache_note_row(c, hit.digest, "alice", hash_a, 2, 7, true);
    CHECK(mfd_credential_cache_find(c, a, "alice", "pw-1", 2, &hit));
    CHECK(hit.row_known && hit.is_admin && hit.user_id == 7);
    /* A row read for another hash (the password changed since) is not taken. */
    mfd_credential_cache_note_row(c, hit.digest, "alice", hash_b, 3, 7, false);
    CHECK(mfd_credential_cache_find(c, a, "alice", "pw-1", 3, &hit));
    CHECK(!hit.row_known);
    mfd_credential_cache_free(c);
    mfd_arena_free(a);
}

static void test_row_ttl_and_no_rows(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_credential_cache *c = mfd_credential_cache_new(60, 50);
    mfd_credential_hit hit;
    mfd_credential_cache_put(c, "alice", "pw-1", hash_a, 1, 7, false);
    CHECK(mfd_credential_cache_find(c, a, "alice", "pw-1", 1, &hit) && hit.row_known);
    sleep_ms(120);
    CHECK(mfd_credential_cache_find(c, a, "alice", "pw-1", 1, &hit));
    CHECK(!hit.row_known && hit.password_hash != NULL);
    mfd_credential_cache_free(c);

    c = mfd_credential_cache_new(60, 0); /* rows never vouched for */
    mfd_credential_cache_put(c, "alice", "pw-1", hash_a, 1, 7, false);
    CHECK(mfd_credential_cache_find(c, a, "alice", "pw-1", 1, &hit));
    CHECK(!hit.row_known);
    mfd_credential_cache_free(c);

    c = mfd_credential_cache_new(0, 0); /* off: every request verifies */
    mfd_credential_cache_put(c, "alice", "pw-1", hash_a, 1, 7, false);
    CHECK(!mfd_credential_cache_find(c, a, "alice", "pw-1", 1, &hit));
    mfd_credential_cache_free(c);
    mfd_arena_free(a);
}

static void test_forget_user_drops_all_their_entries(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_credential_cache *c = mfd_credential_cache_new(60, 60000);
    mfd_credential_hit hit;
    mfd_credential_cache_put(c, "alice", "pw-1", hash_a, 1, 7, false);
    mfd_credential_cache_put(c, "alice", "pw-2", hash_b, 1, 7, false);
    mfd_credential_cache_put(c, "bob", "pw-1", hash_a, 1, 8, false);
    /* Found once, so this thread's memo holds it too. */
    CHECK(mfd_credential_cache_find(c, a, "alice", "pw-1", 1, &hit) && hit.row_known);
    mfd_credential_cache_forget_user(c, "alice");
    CHECK(!mfd_credential_cache_find(c, a, "alice", "pw-1", 1, &hit));
    CHECK(!mfd_credential_cache_find(c, a, "alice", "pw-2", 1, &hit));
    CHECK(mfd_credential_cache_find(c, a, "bob", "pw-1", 1, &hit));
    mfd_credential_cache_free(c);
    mfd_arena_free(a);
}

/* Each thread's memo never answers for another cache (a server restarted in
 * one process, the tests). */
static void test_memo_belongs_to_its_cache(void) {
    mfd_arena *a = mfd_arena_new();
    mfd_credential_cache *c1 = mfd_credential_cache_new(60, 60000);
    mfd_credential_cache *c2 = mfd_credential_cache_new(60, 60000);
    mfd_credential_hit hit;
    mfd_credential_cache_put(c1, "alice", "pw-1", hash_a, 1, 7, false);
    CHECK(mfd_credential_cache_find(c1, a, "alice", "pw-1", 1, &hit) && hit.row_known);
    CHECK(!mfd_credential_cache_find(c2, a, "alice", "pw-1", 1, &hit));
    mfd_credential_cache_free(c1);
    mfd_credential_cache_free(c2);
    mfd_arena_free(a);
}

MFD_TEST_MAIN(MFD_TEST(test_memo_belongs_to_its_cache),
              MFD_TEST(test_hit_needs_the_same_credentials),
              MFD_TEST(test_row_holds_only_at_its_version), MFD_TEST(test_row_ttl_and_no_rows),
              MFD_TEST(test_forget_user_drops_all_their_entries))
