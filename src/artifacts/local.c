/* local.c — artifact repository on a local directory. */
#include "repo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct mfd_artifact_repo {
    char *root;
};

static mfd_err make_dirs(const char *path) {
    char *copy = strdup(path);
    for (char *p = copy + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
                mfd_err err = mfd_err_new(MFD_INTERNAL_ERROR, "cannot create directory %s: %s",
                                          copy, strerror(errno));
                free(copy);
                return err;
            }
            *p = '/';
        }
    }
    free(copy);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return mfd_err_new(MFD_INTERNAL_ERROR, "cannot create directory %s: %s", path,
                           strerror(errno));
    return NULL;
}

mfd_err mfd_artifact_repo_open(const char *destination, mfd_artifact_repo **out) {
    mfd_err err = make_dirs(destination);
    if (err)
        return err;
    mfd_artifact_repo *repo = calloc(1, sizeof *repo);
    repo->root = strdup(destination);
    *out = repo;
    return NULL;
}

void mfd_artifact_repo_close(mfd_artifact_repo *repo) {
    if (!repo)
        return;
    free(repo->root);
    free(repo);
}
