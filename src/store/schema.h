/* schema.h — MLflow's schemas: create, check and stamp (schema.md §1, §5). */
#ifndef MFD_SCHEMA_H
#define MFD_SCHEMA_H

#include "db.h"

#define MFD_TRACKING_SCHEMA_HEAD "bf29a5ff90ea"
#define MFD_AUTH_SCHEMA_HEAD     "0965eb92f5f0"
#define MFD_AUTH_SCHEMA_INITIAL  "8606fa83a998"
/* PostgreSQL: the table mlflowd's triggers log changed runs in
 * (schema_triggers.c): id, xid (the writer's transaction), experiment_id
 * (NULL: not known), run_uuid ("*": every run, a TRUNCATE). */
#define MFD_RUN_CHANGES_TABLE "mlflowd_run_changes"
/* The opendatahub fork's revision after our head (workspaces): out of scope. */
#define MFD_TRACKING_SCHEMA_FORK_WORKSPACES "1b5f0d9ad7c1"

/* Startup contract of the tracking DB: an empty database gets the whole
 * schema at head, stamped, and mlflowd's search indexes; a database at head
 * is served as it is if it has every table of the schema (else it is refused,
 * naming those it lacks), except that `add_search_indexes` (`mlflowd db
 * upgrade`) creates the search indexes it lacks, which the server only warns
 * about; any other revision is refused with what to do, which depends on what
 * made it (mfd_schema_revision_of). Then experiment 0 "Default" is inserted
 * when missing, with artifact location <default_artifact_root>/0; with NULL
 * it is not (`db upgrade`, like MLflow's, leaves that to the server, which
 * knows its artifact root).
 * *experiment_indexes (may be NULL) tells whether the database then has
 * the per-experiment search indexes (mfd_app.experiment_indexes). */
mfd_err mfd_schema_tracking_init(mfd_db *db, const char *default_artifact_root,
                                 bool add_search_indexes, bool *experiment_indexes);

/* What a tracking database's stamp is to mlflowd (schema.md §1.2). */
typedef enum mfd_schema_revision {
    MFD_REVISION_HEAD,            /* MFD_TRACKING_SCHEMA_HEAD: served */
    MFD_REVISION_OLDER,           /* an older MLflow's: upgraded with MLflow 3.6 first */
    MFD_REVISION_FORK_WORKSPACES, /* MFD_TRACKING_SCHEMA_FORK_WORKSPACES */
    MFD_REVISION_UNKNOWN          /* a newer MLflow's, a fork's, or garbage */
} mfd_schema_revision;
mfd_schema_revision mfd_schema_revision_of(const char *version);

/* MLflow's tables at head (schema.md appendix A) but alembic_version: those
 * a database must have to be served. */
extern const char *const mfd_schema_tracking_tables[];
extern const size_t mfd_schema_tracking_table_count;

/* Auth DB: empty -> create at head; legacy (users, no version table) ->
 * stamp, add scorer_permissions, stamp head; at head -> as is. Then
 * mlflowd's SSO tables when missing (sso_store.h). All under one lock, so
 * replicas starting together on one PostgreSQL database take turns. Nothing
 * that exists is created again (PostgreSQL checks the CREATE privilege before
 * IF NOT EXISTS), so a role without CREATE on the schema serves a database
 * whose tables its owner made; tables it must make and cannot are an error
 * naming them and what to do. */
mfd_err mfd_schema_auth_init(mfd_db *db);

/* Readiness (/ready): the tracking DB answers and is stamped at head.
 * TEMPORARILY_UNAVAILABLE otherwise, saying which. Asked on the pool's spare
 * connection, so busy pooled connections do not hold it up. */
mfd_err mfd_schema_tracking_ready(mfd_db *db);

/* <root>/<child> as mfd_artifact_location_append joins them (upstream's
 * append_to_uri_path: on the path, before any query). malloc'd. */
char *mfd_artifact_path_join(const char *root, const char *child);

#endif
