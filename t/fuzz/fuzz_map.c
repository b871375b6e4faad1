/* fuzz_map.c - libFuzzer target: the lookup-table source parser (posthorn map build) and,
 * when the source compiles, lookups and iteration on the built table. */
#include "fuzz_common.h"
#include "map.h"

static int count(void *ctx, const char *key, const char *value)
{
    (void)key, (void)value;
    ++*(size_t *)ctx;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("aliases", data, size);
    struct errlist errs = {0};
    long n = map_build(path, &errs);
    errlist_free(&errs);
    if (n < 0)
        return 0;
    char spec[160];
    snprintf(spec, sizeof spec, "lmdb:%s", path);
    char *err = NULL;
    struct map *m = map_open(spec, &err);
    if (!m) {
        free(err);
        return 0;
    }
    size_t seen = 0;
    map_iterate(m, count, &seen);
    if ((long)seen != n)
        abort(); /* every entry the build reported must be there */
    char *value = NULL;
    if (map_lookup(m, "postmaster@example.test", &value, &err) == 1)
        free(value);
    free(err);
    map_close(m);
    return 0;
}
