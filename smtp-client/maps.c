/* maps.c - smtp-client's lookup tables (transport_maps, smtp_sasl_password_maps,
 * smtp_tls_policy_maps): a list parameter of lib/global/map.h tables searched in order,
 * the first table with the key wins. A table whose file does not exist yet counts as empty
 * (it is picked up once built: map.h reopens replaced files); any other open error is
 * fatal at start, as a missing table would silently change where mail goes. */
#include "smtpc.h"
#include "config.h"
#include "log.h"
#include "map.h"
#include "mem.h"
#include <errno.h>
#include <stdlib.h>

struct maplist {
    char **specs;
    struct map **maps; /* NULL where the table did not exist at start: tried again later */
    size_t n;
};

struct maplist *maplist_open(struct config *cfg, const char *param)
{
    size_t n = 0;
    char **specs = config_list(cfg, param, &n);
    struct maplist *ml = xcalloc(1, sizeof *ml);
    ml->specs = specs;
    ml->n = n;
    ml->maps = xcalloc(n ? n : 1, sizeof *ml->maps);
    for (size_t i = 0; i < n; i++) {
        char *err = NULL;
        ml->maps[i] = map_open(specs[i], &err);
        if (!ml->maps[i] && errno != ENOENT)
            log_fatal("%s: %s", param, err);
        free(err);
    }
    return ml;
}

int maplist_lookup(struct maplist *ml, const char *key, char **value, char **err)
{
    *value = NULL;
    for (size_t i = 0; ml && i < ml->n; i++) {
        if (!ml->maps[i]) {
            char *e = NULL;
            ml->maps[i] = map_open(ml->specs[i], &e);
            free(e);
            if (!ml->maps[i])
                continue;
        }
        int r = map_lookup(ml->maps[i], key, value, err);
        if (r != 0)
            return r;
    }
    return 0;
}

void maplist_close(struct maplist *ml)
{
    if (!ml)
        return;
    for (size_t i = 0; i < ml->n; i++)
        if (ml->maps[i])
            map_close(ml->maps[i]);
    free(ml->maps);
    free(ml);
}
