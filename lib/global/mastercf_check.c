/* mastercf_check.c - the "-o name=value" overrides of master.cf's services checked against
 * the parameter table, as main.cf's values are (see mastercf.h). Both `posthorn check` and
 * master's start and reload run it, so a bad override is refused with its file and line
 * before any daemon of the service starts with it (doc/master.md). */
#include "config.h"
#include "mastercf.h"
#include <string.h>

void mastercf_check_overrides(const char *confdir, const struct mastercf *m, struct errlist *errs)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct mastercf_entry *e = &m->v[i];
        struct errlist local = {0};
        struct config *cfg = config_load(confdir, &local);
        bool any = false;
        for (size_t j = 0; cfg && j + 1 < e->nargs; j++)
            if (strcmp(e->args[j], "-o") == 0) {
                config_override(cfg, e->args[++j], e->where, errs);
                any = true;
            }
        if (cfg && any) { /* only the service's own values: main.cf's are checked once */
            struct errlist bad = {0};
            config_validate(cfg, &bad);
            for (size_t k = 0; k < bad.n; k++)
                if (strstr(bad.msgs[k], "master.cf -o") || strstr(bad.msgs[k], e->where))
                    errlist_add(errs, "%s", bad.msgs[k]);
            errlist_free(&bad);
        }
        config_free(cfg);
        errlist_free(&local);
    }
}
