/* What mlflowd knows of MLflow's tracking schema (store/schema_mlflow.c):
 * which stamps are older MLflow releases', and the tables a database at head
 * must have, which are exactly those the embedded DDL creates. */
#include "store/schema.h"
#include "test.h"

extern const unsigned char mfd_schema_tracking_sql[];
extern const unsigned char mfd_schema_tracking_pg_sql[];

static void test_revisions_are_told_apart(void) {
    CHECK_INT(mfd_schema_revision_of("bf29a5ff90ea"), MFD_REVISION_HEAD);
    /* older MLflow releases': the head's parent, one in between, the first */
    CHECK_INT(mfd_schema_revision_of("3da73c924c2f"), MFD_REVISION_OLDER);
    CHECK_INT(mfd_schema_revision_of("0584bdc529eb"), MFD_REVISION_OLDER);
    CHECK_INT(mfd_schema_revision_of("451aebb31d03"), MFD_REVISION_OLDER);
    /* the opendatahub fork's child of our head */
    CHECK_INT(mfd_schema_revision_of("1b5f0d9ad7c1"), MFD_REVISION_FORK_WORKSPACES);
    /* anything else: no MLflow 3.6 upgrades it */
    CHECK_INT(mfd_schema_revision_of("ffffffffffff"), MFD_REVISION_UNKNOWN);
    CHECK_INT(mfd_schema_revision_of(""), MFD_REVISION_UNKNOWN);
    CHECK_INT(mfd_schema_revision_of("BF29A5FF90EA"), MFD_REVISION_UNKNOWN);
    CHECK_INT(mfd_schema_revision_of("bf29a5ff90ea "), MFD_REVISION_UNKNOWN);
}

static bool listed(const char *name, size_t len) {
    for (size_t i = 0; i < mfd_schema_tracking_table_count; i++)
        if (strlen(mfd_schema_tracking_tables[i]) == len &&
            !strncmp(mfd_schema_tracking_tables[i], name, len))
            return true;
    return false;
}

/* Every CREATE TABLE of the DDL but alembic_version's names a listed table. */
static void check_tables_of(const char *ddl) {
    size_t created = 0;
    for (const char *p = strstr(ddl, "CREATE TABLE "); p; p = strstr(p, "CREATE TABLE ")) {
        p += strlen("CREATE TABLE ");
        const char *name = p + (*p == '"');
        size_t len = strcspn(name, "\" (");
        if (len == strlen("alembic_version") && !strncmp(name, "alembic_version", len))
            continue;
        created++;
        if (!listed(name, len))
            fprintf(stderr, "not listed: %.*s\n", (int)len, name);
        CHECK(listed(name, len));
    }
    CHECK_INT(created, mfd_schema_tracking_table_count);
}

static void test_tables_are_those_the_ddl_creates(void) {
    CHECK_INT(mfd_schema_tracking_table_count, 33);
    check_tables_of((const char *)mfd_schema_tracking_sql);
    check_tables_of((const char *)mfd_schema_tracking_pg_sql);
}

MFD_TEST_MAIN(MFD_TEST(test_revisions_are_told_apart),
              MFD_TEST(test_tables_are_those_the_ddl_creates))
