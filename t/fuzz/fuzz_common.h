/* fuzz_common.h - helpers shared by the libFuzzer targets: write the input to a private temp
 * file so parsers that read files (main.cf, master.cf, queue files, map sources) can be fed. */
#ifndef POSTHORN_FUZZ_COMMON_H
#define POSTHORN_FUZZ_COMMON_H
#include "fileio.h"
#include "log.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A per-process scratch directory, created once. */
static inline const char *fuzz_dir(void)
{
    static char dir[512];
    if (!dir[0]) {
        /* Under TMPDIR (t/fuzz/run points it at its scratch directory, removed afterwards). */
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/posthorn-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir))
            abort();
        log_init("fuzz", "/dev/null");
    }
    return dir;
}

/* Write data to DIR/name and return the path (static buffer). */
static inline const char *fuzz_file(const char *name, const uint8_t *data, size_t size)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "w"); /* no fsync: fuzzing wants speed, not durability */
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    return path;
}

#endif
