/* artifact_locations.h — where the artifacts of a run, a model version or a
 * logged model live: the small lookups the artifact endpoints need
 * (rest-api.md §3 get-artifact, §5.16, §6.9). Each returns the stored URI
 * (copied into the arena) or RESOURCE_DOES_NOT_EXIST with MLflow's message. */
#ifndef MFD_STORE_ARTIFACT_LOCATIONS_H
#define MFD_STORE_ARTIFACT_LOCATIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "db.h"

/* runs.artifact_uri of a run, deleted runs included ("" when NULL). */
mfd_err mfd_artifact_location_run(mfd_conn *conn, mfd_arena *arena, const char *run_id,
                                  const char **uri);
/* A model version's download URI: storage_location, else source. Versions
 * in stage Deleted_Internal do not exist. */
mfd_err mfd_artifact_location_model_version(mfd_conn *conn, mfd_arena *arena, const char *name,
                                            int64_t version, const char **uri);
/* logged_models.artifact_location of a model that is not deleted. */
mfd_err mfd_artifact_location_logged_model(mfd_conn *conn, mfd_arena *arena, const char *model_id,
                                           const char **uri);

/* The experiment and artifact location of run `id` (or of logged model `id`):
 * the directory the server chose for it, which ends in its id. *found is
 * false for no such run or model (deleted ones included: their files stay). */
mfd_err mfd_artifact_location_owner(mfd_conn *conn, mfd_arena *arena, const char *id,
                                    bool logged_model, int64_t *experiment_id,
                                    const char **location, bool *found);

/* Upstream's append_to_uri_path: `suffix` ("<run id>/artifacts",
 * "models/<id>/artifacts") joined to the path of location `uri`, its query
 * kept after it, an empty fragment dropped, as urlunparse writes them; a
 * location without a scheme is a POSIX path. Appended as text, a location
 * ending in "#" or "?" gave every run the location's own directory: the
 * reader cuts a URI at "#" and "?". In `arena`. */
const char *mfd_artifact_location_append(mfd_arena *arena, const char *uri, const char *suffix);

#endif
