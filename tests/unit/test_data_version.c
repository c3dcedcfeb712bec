/* mfd_db_data_version (db.h) and the decision cache built on it
 * (auth/decision_cache.h): a write by another connection pool on the same
 * SQLite file — standing in for another process — changes the version at
 * once; reads do not; cached facts die with the version or the TTL. */
#include "auth/decision_cache.h"
#include "store/db.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char dir[64], path[128], uri[160];

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void exec_write(mfd_db *db, const char *sql) {
    mfd_conn *conn;
    CHECK(mfd_db_acquire(db, &conn) == NULL);
    CHECK(mfd_conn_begin(conn, true) == NULL);
    CHECK(mfd_conn_exec(conn, sql) == NULL);
    CHECK(mfd_conn_commit(conn) == NULL);
    mfd_db_release(db, conn);
}

static void exec_plain(mfd_db *db, const char *sql) {
    mfd_conn *conn;
    CHECK(mfd_db_acquire(db, &conn) == NULL);
    mfd_err err = mfd_conn_exec(conn, sql);
    CHECK(err == NULL);
    mfd_err_free(err);
    mfd_db_release(db, conn);
}

static void exec_read(mfd_db *db) {
    mfd_conn *conn;
    mfd_stmt *stmt;
    CHECK(mfd_db_acquire(db, &conn) == NULL);
    CHECK(mfd_conn_prepare(conn, "SELECT count(*) FROM t", false, &stmt) == NULL);
    mfd_err err = NULL;
    CHECK(mfd_stmt_step(stmt, &err) == MFD_STEP_ROW);
    mfd_stmt_done(stmt);
    mfd_db_release(db, conn);
}

static void test_other_pool_writes_change_the_version(void) {
    snprintf(dir, sizeof dir, "/tmp/mfd-data-version-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/auth.db", dir);
    snprintf(uri, sizeof uri, "sqlite:///%s", path);
    mfd_db *a, *b;
    CHECK(mfd_db_open(uri, 2, &a) == NULL);
    CHECK(mfd_db_open(uri, 2, &b) == NULL);
    exec_write(b, "CREATE TABLE t (x INTEGER)"); /* the first write makes the -shm */
    CHECK(mfd_db_sees_other_writers(a));
    uint64_t v0 = mfd_db_data_version(a);
    CHECK(mfd_db_data_version(a) == v0); /* nothing happened: stable */
    exec_read(b);
    CHECK(mfd_db_data_version(a) == v0); /* reads are not writes */
    exec_write(b, "INSERT INTO t VALUES (1)");
    uint64_t v1 = mfd_db_data_version(a);
    CHECK(v1 != v0); /* at once: the commit is in the shared WAL index */
    CHECK(mfd_db_data_version(a) == v1);
    exec_write(b, "INSERT INTO t VALUES (2)");
    exec_write(b, "INSERT INTO t VALUES (3)");
    uint64_t v2 = mfd_db_data_version(a);
    CHECK(v2 != v1 && v2 != v0);
    exec_write(a, "INSERT INTO t VALUES (4)"); /* its own writes too */
    CHECK(mfd_db_data_version(a) != v2);
    /* a checkpoint that empties the WAL and a writer that starts it over */
    exec_plain(b, "PRAGMA wal_checkpoint(TRUNCATE)");
    uint64_t v3 = mfd_db_data_version(a);
    exec_write(b, "INSERT INTO t VALUES (5)");
    CHECK(mfd_db_data_version(a) != v3);
    mfd_db_close(b);
    mfd_db_close(a);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static void test_memory_database_counts_its_own_writes(void) {
    mfd_db *m;
    CHECK(mfd_db_open("sqlite://", 1, &m) == NULL);
    CHECK(!mfd_db_sees_other_writers(m));
    uint64_t v0 = mfd_db_data_version(m);
    CHECK(mfd_db_data_version(m) == v0);
    exec_write(m, "CREATE TABLE t (x INTEGER)");
    CHECK(mfd_db_data_version(m) != v0);
    mfd_db_close(m);
}

static void test_decision_cache_versions_and_ttl(void) {
    CHECK(mfd_decision_cache_new(0) == NULL); /* off */
    mfd_decision_cache *c = mfd_decision_cache_new(60);
    mfd_auth_fact in = {true, 42}, out = {0};
    CHECK(!mfd_decision_cache_get(c, "u5:alice", 7, &out));
    mfd_decision_cache_put(c, "u5:alice", 7, &in);
    CHECK(mfd_decision_cache_get(c, "u5:alice", 7, &out));
    CHECK(out.found && out.number == 42);
    CHECK(!mfd_decision_cache_get(c, "u5:alice", 8, &out)); /* the data changed */
    CHECK(!mfd_decision_cache_get(c, "u5:alicf", 7, &out)); /* another key */
    sleep_ms(100);
    CHECK(!mfd_decision_cache_get(c, "u5:alice", 7, &out)); /* older than the TTL */
    mfd_decision_cache_free(c);
}

static void test_decision_cache_collisions_never_mix_keys(void) {
    mfd_decision_cache *c = mfd_decision_cache_new(60000);
    char key[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "p1:%d", i);
        mfd_auth_fact f = {true, i};
        mfd_decision_cache_put(c, key, 1, &f);
    }
    int hits = 0, wrong = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "p1:%d", i);
        mfd_auth_fact f;
        if (mfd_decision_cache_get(c, key, 1, &f)) {
            hits++;
            wrong += f.number != i;
        }
    }
    CHECK_INT(wrong, 0);
    CHECK(hits > 2000 && hits < 20000); /* bounded: 8192 slots */
    mfd_decision_cache_free(c);
}

MFD_TEST_MAIN(MFD_TEST(test_other_pool_writes_change_the_version),
              MFD_TEST(test_memory_database_counts_its_own_writes),
              MFD_TEST(test_decision_cache_versions_and_ttl),
              MFD_TEST(test_decision_cache_collisions_never_mix_keys))
