/* db_wal_index.c — see db_wal_index.h. */
#include "db_wal_index.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* walformat.html §2.1: the header is two copies of a 48-byte record, the
 * first written last; iVersion (offset 0) is 3007000, isInit (offset 12)
 * is 1 once the index is built. */
enum { HEADER_BYTES = 48, MAPPED_BYTES = 136, WAL_INDEX_VERSION = 3007000 };

struct mfd_wal_index {
    const unsigned char *map;
    size_t length;
};

mfd_wal_index *mfd_wal_index_open(const char *path) {
    char shm[4096];
    if (snprintf(shm, sizeof shm, "%s-shm", path) >= (int)sizeof shm)
        return NULL;
    int fd = open(shm, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    void *map = MAP_FAILED;
    if (fstat(fd, &st) == 0 && st.st_size >= MAPPED_BYTES)
        map = mmap(NULL, MAPPED_BYTES, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return NULL;
    uint32_t version;
    memcpy(&version, map, sizeof version);
    mfd_wal_index *index = calloc(1, sizeof *index);
    if (version != WAL_INDEX_VERSION || ((const unsigned char *)map)[12] != 1 || !index) {
        munmap(map, MAPPED_BYTES);
        free(index);
        return NULL;
    }
    index->map = map;
    index->length = MAPPED_BYTES;
    return index;
}

void mfd_wal_index_close(mfd_wal_index *index) {
    if (!index)
        return;
    munmap((void *)index->map, index->length);
    free(index);
}

/* The first copy of the header, folded to 64 bits. A copy caught half
 * written folds to yet another number: a change, which is the safe answer. */
uint64_t mfd_wal_index_version(const mfd_wal_index *index) {
    const uint64_t *words = (const uint64_t *)(const void *)index->map;
    uint64_t h = 0;
    for (int i = 0; i < HEADER_BYTES / 8; i++) {
        uint64_t w = __atomic_load_n(&words[i], __ATOMIC_ACQUIRE);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 31;
    }
    return h;
}
