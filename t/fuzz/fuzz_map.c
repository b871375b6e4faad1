/* fuzz_map.c - libFuzzer target: the lookup-table source parser (posthorn map build) and,
 * when the source compiles, lookups and iteration on the built table; then the same source
 * as an aliases(5) file (newaliases), where every value of a table that compiled must
 * parse again as alias targets (lib/global/alias_value.h). */
#include "fuzz_common.h"
#include "alias_value.h"
#include "map.h"

static int count(void *ctx, const char *key, const char *value)
{
    (void)key, (void)value;
    ++*(size_t *)ctx;
    return 0;
}

static int reparse(void *ctx, const char *key, const char *value)
{
    struct alias_list l = {0};
    char *err = NULL;
    (void)ctx;
    if (alias_key_check(key, strlen(key)) || alias_value_parse(value, &l, &err) < 0)
        abort(); /* newaliases accepted what the parser refuses */
    alias_list_free(&l);
    return 0;
}

static void aliases(const char *path)
{
    struct errlist errs = {0};
    struct alias_rules rules = {true, true};
    long n = map_build_aliases(path, &rules, &errs);
    errlist_free(&errs);
    if (n < 0)
        return;
    char spec[160], *err = NULL;
    snprintf(spec, sizeof spec, "lmdb:%s", path);
    struct map *m = map_open(spec, &err);
    free(err);
    if (m)
        map_iterate(m, reparse, NULL);
    map_close(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("aliases", data, size);
    aliases(path);
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
