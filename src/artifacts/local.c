/* local.c — artifact file operations on a local directory tree: the proxied
 * destination (--artifacts-destination) and runs' local artifact folders.
 *
 * Invariants kept here:
 *   - Below the root, every path component is opened with openat() and
 *     O_NOFOLLOW, so a symbolic link inside the tree is never followed: a
 *     link pointing outside reads as "not found" and is never written through.
 *   - An upload is written to a hidden temporary file in the target's own
 *     directory and renamed over the target at the end: readers never see a
 *     partial file, and a failed upload leaves the old one in place.
 *   - Nothing here holds a whole file in memory: downloads hand an fd to the
 *     server, uploads are written by the server straight into the fd. */
#include "backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/log.h"

/* Where an upload goes; one malloc'd block (the server frees it with free()). */
typedef struct upload_state {
    mfd_artifact_upload_head head;
    const char *root, *parent, *temp_name, *leaf;
} upload_state;

static mfd_err make_dirs(const char *path) {
    char *copy = strdup(path);
    for (char *p = copy + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
                mfd_err err = mfd_err_new(MFD_INTERNAL_ERROR, "cannot create directory %s: %s",
                                          copy, strerror(errno));
                free(copy);
                return err;
            }
            *p = '/';
        }
    }
    free(copy);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return mfd_err_new(MFD_INTERNAL_ERROR, "cannot create directory %s: %s", path,
                           strerror(errno));
    return NULL;
}

/* Uploads in progress write to files named `prefix`... in `dir` (hidden
 * files in a local root; spool files of S3 uploads in $TMPDIR); a server
 * killed mid-upload leaves its file behind. One untouched for
 * STALE_UPLOAD_SECONDS is removed at start: a live upload writes all the
 * time (a client idle for 600 s is dropped), another replica sharing the
 * directory may have one running, and a spool file already being sent to
 * S3 is read through an open descriptor, which a removal does not end. */
enum { STALE_UPLOAD_SECONDS = 3600 };

void mfd_artifact_remove_stale_uploads(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (strncmp(e->d_name, prefix, strlen(prefix)) ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            now - st.st_mtime < STALE_UPLOAD_SECONDS)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            mfd_log_info("removed %s/%s, an upload cut off by a stop", dir, e->d_name);
    }
    closedir(d);
}

static mfd_err local_open(const char *destination, char **root) {
    mfd_err err = make_dirs(destination);
    struct stat st;
    if (!err && (stat(destination, &st) != 0 || !S_ISDIR(st.st_mode)))
        err = mfd_err_new(MFD_INTERNAL_ERROR, "the artifacts destination %s is not a directory",
                          destination);
    if (err)
        return err;
    mfd_artifact_remove_stale_uploads(destination, MFD_ARTIFACT_UPLOAD_PREFIX);
    *root = strdup(destination);
    return NULL;
}

/* errno values meaning "nothing usable there": absent, a file where a
 * directory was expected, or a symbolic link we refuse to follow. */
static bool is_missing_errno(int e) {
    return e == ENOENT || e == ENOTDIR || e == ELOOP || e == ENAMETOOLONG;
}

/* Opens the directory made of the first `rel_len` bytes of `rel` under
 * `root`, one component at a time, never following a link; with `create`,
 * missing directories (the root included) are made. -1 with errno set. */
static int open_dir(const char *root, const char *rel, size_t rel_len, bool create) {
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        mfd_err err = make_dirs(root);
        if (err) {
            mfd_err_free(err);
            errno = EACCES;
            return -1;
        }
        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    size_t start = 0;
    char name[NAME_MAX + 1];
    while (fd >= 0 && start < rel_len) {
        const char *slash = memchr(rel + start, '/', rel_len - start);
        size_t end = slash ? (size_t)(slash - rel) : rel_len;
        size_t seg_len = end - start;
        if (seg_len > NAME_MAX) {
            close(fd);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(name, rel + start, seg_len);
        name[seg_len] = '\0';
        start = end + 1;
        int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        int next = openat(fd, name, flags);
        if (next < 0 && errno == ENOENT && create) {
            if (mkdirat(fd, name, 0777) == 0 || errno == EEXIST)
                next = openat(fd, name, flags);
        }
        int saved = errno;
        close(fd);
        errno = saved;
        fd = next;
    }
    return fd;
}

/* Splits a normalised non-empty `rel` into its parent length and leaf. */
static const char *split_leaf(const char *rel, size_t *parent_len) {
    const char *slash = strrchr(rel, '/');
    *parent_len = slash ? (size_t)(slash - rel) : 0;
    return slash ? slash + 1 : rel;
}

static mfd_err not_found(const char *rel) {
    return mfd_err_new(MFD_RESOURCE_DOES_NOT_EXIST, "Artifact '%s' does not exist or is not a file",
                       rel);
}

static mfd_err io_error(const char *what, const char *rel) {
    return mfd_err_new(MFD_INTERNAL_ERROR, "cannot %s artifact '%s': %s", what, rel,
                       strerror(errno));
}

mfd_err mfd_artifact_local_open(const char *root, const char *rel, int *fd_out, uint64_t *size) {
    *fd_out = -1;
    if (!*rel)
        return not_found(rel);
    size_t parent_len;
    const char *leaf = split_leaf(rel, &parent_len);
    int dir = open_dir(root, rel, parent_len, false);
    if (dir < 0)
        return is_missing_errno(errno) ? not_found(rel) : io_error("open", rel);
    /* O_NONBLOCK: opening a FIFO someone placed in the tree must not hang us. */
    int fd = openat(dir, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    int saved = errno;
    close(dir);
    if (fd < 0) {
        errno = saved;
        return is_missing_errno(saved) ? not_found(rel) : io_error("open", rel);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return not_found(rel);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    *fd_out = fd;
    *size = (uint64_t)st.st_size;
    return NULL;
}

static mfd_err local_download(const char *root, const char *rel, mfd_response *res) {
    int fd;
    uint64_t size;
    mfd_err err = mfd_artifact_local_open(root, rel, &fd, &size);
    if (err)
        return err;
    res->fd = fd;
    res->fd_offset = 0;
    res->fd_size = size;
    return NULL;
}

static int compare_files(const void *a, const void *b) {
    return strcmp(((const mfd_artifact_file *)a)->name, ((const mfd_artifact_file *)b)->name);
}

static bool is_upload_temp(const char *name) {
    return strncmp(name, MFD_ARTIFACT_UPLOAD_PREFIX, strlen(MFD_ARTIFACT_UPLOAD_PREFIX)) == 0;
}

static mfd_err local_list(mfd_arena *arena, const char *root, const char *rel,
                          mfd_artifact_file **files, size_t *n_files) {
    *files = NULL;
    *n_files = 0;
    int dir = open_dir(root, rel, strlen(rel), false);
    if (dir < 0)
        return is_missing_errno(errno) ? NULL : io_error("list", rel);
    DIR *d = fdopendir(dir);
    if (!d) {
        close(dir);
        return io_error("list", rel);
    }
    size_t cap = 0, n = 0;
    mfd_artifact_file *out = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..") || is_upload_temp(name))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* removed meanwhile */
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
            continue; /* links and special files are not artifacts */
        out = mfd_arena_grow(arena, out, n, &cap, sizeof *out, 16);
        out[n].name = mfd_arena_strdup(arena, name);
        out[n].is_dir = S_ISDIR(st.st_mode);
        out[n].size = S_ISDIR(st.st_mode) ? 0 : (int64_t)st.st_size;
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(out, n, sizeof *out, compare_files);
    *files = out;
    *n_files = n;
    return NULL;
}

/* Removes directory `name` in `parent` and everything below it, links
 * included but never followed. Depth is bounded by the path depth limit of
 * path.c for trees made through the API. 0 or -1 with errno. */
static int remove_tree(int parent, const char *name) {
    for (int pass = 0; pass < 8; pass++) {
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return errno == ENOENT ? 0 : -1;
        DIR *d = fdopendir(fd);
        if (!d) {
            close(fd);
            return -1;
        }
        struct dirent *e;
        int rc = 0;
        while (rc == 0 && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            struct stat st;
            if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            if (S_ISDIR(st.st_mode))
                rc = remove_tree(fd, e->d_name);
            else if (unlinkat(fd, e->d_name, 0) != 0 && errno != ENOENT)
                rc = -1;
        }
        int saved = errno;
        closedir(d);
        if (rc != 0) {
            errno = saved;
            return -1;
        }
        if (unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
            return 0;
        if (errno != ENOTEMPTY && errno != EEXIST)
            return -1;
        /* something was added while we walked: go round again */
    }
    return -1;
}

static mfd_err local_remove(const char *root, const char *rel) {
    if (!*rel)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid path");
    size_t parent_len;
    const char *leaf = split_leaf(rel, &parent_len);
    int dir = open_dir(root, rel, parent_len, false);
    if (dir < 0)
        return is_missing_errno(errno) ? NULL : io_error("delete", rel);
    struct stat st;
    int rc = 0;
    if (fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0)
        rc = errno == ENOENT ? 0 : -1;
    else if (S_ISDIR(st.st_mode))
        rc = remove_tree(dir, leaf);
    else if (unlinkat(dir, leaf, 0) != 0 && errno != ENOENT)
        rc = -1;
    int saved = errno;
    close(dir);
    errno = saved;
    return rc == 0 ? NULL : io_error("delete", rel);
}

/* The body is written to a hidden temporary file in the root and renamed
 * into place when complete: its directories are made only then, so an
 * upload that fails or is cut off leaves nothing behind, not even an empty
 * directory in a listing (the server removes the temporary file). */
static mfd_err local_upload_begin(const char *root, const char *rel, mfd_upload *upload) {
    if (!*rel)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid path");
    size_t parent_len;
    const char *leaf = split_leaf(rel, &parent_len);
    int dir = open_dir(root, rel, parent_len, false);
    if (dir < 0 && errno != ENOENT) {
        if (errno == ENOTDIR || errno == ELOOP || errno == EEXIST)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "Cannot upload '%s': a file or link is in the way of its directory",
                               rel);
        if (errno == ENAMETOOLONG)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "Invalid path");
        return io_error("open the directory of", rel);
    }
    struct stat st;
    bool directory_there =
        dir >= 0 && fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    if (dir >= 0)
        close(dir);
    if (directory_there)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "Cannot upload '%s': a directory of that name exists", rel);
    int root_fd = open_dir(root, "", 0, true);
    if (root_fd < 0)
        return io_error("create a file for", rel);
    char hex[33];
    mfd_uuid_hex(hex);
    char temp_name[64];
    snprintf(temp_name, sizeof temp_name, "%s%s", MFD_ARTIFACT_UPLOAD_PREFIX, hex);
    int fd = openat(root_fd, temp_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    int saved = errno;
    close(root_fd);
    if (fd < 0) {
        errno = saved;
        return io_error("create a file for", rel);
    }
    size_t root_len = strlen(root), leaf_len = strlen(leaf), temp_len = strlen(temp_name);
    upload_state *state =
        malloc(sizeof *state + root_len + 1 + parent_len + 1 + temp_len + 1 + leaf_len + 1);
    state->head.ops = &mfd_artifact_local_ops;
    char *p = (char *)(state + 1);
    state->root = memcpy(p, root, root_len + 1);
    p += root_len + 1;
    memcpy(p, rel, parent_len);
    p[parent_len] = '\0';
    state->parent = p;
    p += parent_len + 1;
    state->temp_name = memcpy(p, temp_name, temp_len + 1);
    p += temp_len + 1;
    state->leaf = memcpy(p, leaf, leaf_len + 1);
    size_t path_size = root_len + temp_len + 2;
    upload->temp_path = malloc(path_size);
    snprintf(upload->temp_path, path_size, "%s/%s", root, temp_name);
    upload->fd = fd;
    upload->size = 0;
    upload->state = state;
    return NULL;
}

/* A DELETE of the file's directory may run while the upload is put in
 * place: the directory vanishes between its creation and the rename (ENOENT
 * from either). The directories are then made again, up to PLACE_ATTEMPTS
 * times; the upload counts as removed only when its own file is gone. */
enum { PLACE_ATTEMPTS = 10 };

static mfd_err local_upload_finish(mfd_upload *upload) {
    const upload_state *state = upload->state;
    const char *parent = state->parent;
    int root_fd = open_dir(state->root, "", 0, false);
    if (root_fd < 0)
        return io_error("create a directory for", state->leaf);
    int rc = -1, saved = 0;
    for (int attempt = 1; attempt <= PLACE_ATTEMPTS; attempt++) {
        int dir = open_dir(state->root, parent, strlen(parent), true);
        if (dir < 0) {
            saved = errno;
            if (saved == ENOENT && attempt < PLACE_ATTEMPTS)
                continue;
            close(root_fd);
            if (saved == ENOTDIR || saved == ELOOP || saved == EEXIST)
                return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                   "Cannot upload '%s': a file or link is in the way of its "
                                   "directory",
                                   state->leaf);
            errno = saved;
            return io_error("create a directory for", state->leaf);
        }
        rc = renameat(root_fd, state->temp_name, dir, state->leaf);
        saved = errno;
        close(dir);
        struct stat st;
        if (rc == 0 || saved != ENOENT ||
            fstatat(root_fd, state->temp_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            break;
    }
    close(root_fd);
    if (rc != 0) {
        if (saved == EISDIR || saved == ENOTEMPTY || saved == EEXIST)
            return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                               "Cannot upload '%s': a directory of that name exists", state->leaf);
        if (saved == ENOENT)
            return mfd_err_new(MFD_RESOURCE_CONFLICT,
                               "The upload of artifact '%s' was removed before it completed",
                               state->leaf);
        errno = saved;
        return io_error("store", state->leaf);
    }
    free(upload->temp_path); /* renamed: nothing left for the server to remove */
    upload->temp_path = NULL;
    return NULL;
}

const mfd_artifact_ops mfd_artifact_local_ops = {
    .name = "local",
    .open = local_open,
    .download = local_download,
    .list = local_list,
    .remove = local_remove,
    .upload_begin = local_upload_begin,
    .upload_finish = local_upload_finish,
};
