/* migrate_mynetworks.c - Postfix's mynetworks carried over (doc/migration.md, "What is read,
 * and how"): the servers that relayed through Postfix without logging in keep doing so.
 * Addresses and CIDR networks are copied; what Posthorn's list cannot hold (tables, files,
 * host names) is left out with a warning - that only trusts less. An exception ("!item")
 * cannot be left out without trusting more than Postfix did: then nothing is copied and
 * the run reports an error. Postfix's default (no mynetworks: the host's own networks by
 * mynetworks_style) is not copied: Posthorn trusts no one by default, local programs use
 * sendmail; the run says so. */
#include "migrate.h"
#include "buf.h"
#include "mem.h"
#include "netlist.h"
#include <stdlib.h>
#include <string.h>

/* The items of Postfix's list that Posthorn can hold, ", "-separated, or NULL (error). */
static char *convert(struct migration *m, const char *where, const char *value)
{
    char *copy = xstrdup(value), *save = NULL;
    struct buf out = BUF_INIT;
    bool ok = true;
    for (char *item = strtok_r(copy, ", \t\r\n", &save); item && ok;
         item = strtok_r(NULL, ", \t\r\n", &save)) {
        char *err = NULL;
        struct netlist *l = item[0] == '!' ? NULL : netlist_parse(&item, 1, &err);
        if (item[0] == '!') {
            mig_error(m, "%s: mynetworks: \"%s\": an exception Posthorn's mynetworks cannot "
                         "express; nothing carried over: set mynetworks by hand", where, item);
            ok = false;
        } else if (!l) {
            mig_warn(m, "%s: mynetworks: \"%s\" not carried over (%s): add its networks by "
                        "hand", where, item, err);
        } else {
            buf_printf(&out, "%s%s", out.len ? ", " : "", item);
        }
        free(err);
        netlist_free(l);
    }
    free(copy);
    if (!ok) {
        buf_free(&out);
        return NULL;
    }
    return xstrdup(buf_cstr(&out)); /* "" when nothing was usable */
}

void mig_apply_mynetworks(struct migration *m)
{
    if (!m->postfix_dir)
        return;
    char *where = xasprintf("%s/main.cf", m->postfix_dir);
    if (!m->pf_mynetworks) {
        mig_say(m, "%s sets no mynetworks: Postfix trusted this host's own networks "
                   "(mynetworks_style); Posthorn trusts no client by default (local programs "
                   "use sendmail): set mynetworks for servers that relay through this host",
                where);
        free(where);
        return;
    }
    char *want = convert(m, where, m->pf_mynetworks);
    const char *now = config_str(cli_config(m->c), PARAM(mynetworks));
    char *path = xasprintf("%s/main.cf", m->c->confdir);
    if (!want || !*want || strcmp(now, want) == 0) {
        /* nothing usable, or already there */
    } else if (*now) {
        mig_warn(m, "%s: mynetworks is \"%s\" here and \"%s\" in Postfix: left as it is",
                 path, now, want);
    } else {
        char *err = m->dry_run ? NULL : config_edit_file(path, PARAM(mynetworks), want);
        if (err)
            mig_error(m, "%s: %s", path, err);
        else
            mig_say(m, "%s mynetworks = %s in %s (from %s; posthorn reload)",
                    m->dry_run ? "would set" : "set", want, path, where);
        free(err);
    }
    free(want);
    free(path);
    free(where);
}
