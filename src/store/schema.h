/* schema.h — MLflow's schemas: create, check and stamp (schema.md §1, §5). */
#ifndef MFD_SCHEMA_H
#define MFD_SCHEMA_H

#include "db.h"

#define MFD_TRACKING_SCHEMA_HEAD "bf29a5ff90ea"
#define MFD_AUTH_SCHEMA_HEAD     "0965eb92f5f0"
#define MFD_AUTH_SCHEMA_INITIAL  "8606fa83a998"

/* Startup contract of the tracking DB: an empty database gets the whole
 * schema at head, stamped, and mlflowd's search indexes; a
 * database at head is served as it is, except that `add_search_indexes`
 * (`mlflowd db upgrade`) creates the search indexes it lacks, which the
 * server only warns about; any other revision is refused with what to do.
 * Then experiment 0 "Default" is ensured with artifact location
 * <default_artifact_root>/0; with NULL it is not (`db upgrade`, like MLflow's,
 * leaves that to the server, which knows its artifact root).
 * *experiment_indexes (may be NULL) tells whether the database then has
 * the per-experiment search indexes (mfd_app.experiment_indexes). */
mfd_err mfd_schema_tracking_init(mfd_db *db, const char *default_artifact_root,
                                 bool add_search_indexes, bool *experiment_indexes);

/* Auth DB: empty -> create at head; legacy (users, no version table) ->
 * stamp, add scorer_permissions, stamp head; at head -> as is. Then
 * mlflowd's SSO tables when missing (sso_store.h). All under one lock, so
 * replicas starting together on one PostgreSQL database take turns. */
mfd_err mfd_schema_auth_init(mfd_db *db);

/* Readiness (/ready): the tracking DB answers and is stamped at head.
 * TEMPORARILY_UNAVAILABLE otherwise, saying which. */
mfd_err mfd_schema_tracking_ready(mfd_db *db);

/* <root>/<child> as mfd_artifact_location_append joins them (upstream's
 * append_to_uri_path: on the path, before any query). malloc'd. */
char *mfd_artifact_path_join(const char *root, const char *child);

#endif
