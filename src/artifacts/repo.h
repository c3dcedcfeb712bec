/* repo.h — the artifact repository behind the proxy: where
 * /api/2.0/mlflow-artifacts/ paths are stored (local directory now, S3 later).
 * Paths given to it are already validated relative paths (see path.h). */
#ifndef MFD_ARTIFACT_REPO_H
#define MFD_ARTIFACT_REPO_H

#include "core/err.h"

typedef struct mfd_artifact_repo mfd_artifact_repo;

/* Opens the destination (a local directory, created if missing). */
mfd_err mfd_artifact_repo_open(const char *destination, mfd_artifact_repo **out);
void mfd_artifact_repo_close(mfd_artifact_repo *repo);

#endif
