/* main.c - dkim-signer: the one process that reads the DKIM private keys (doc/dkim.md).
 *
 * Protocol (doc/ipc.md, "dkim"): on SPOOL/private/dkim it announces protocol=dkim
 * version=1; a client (sendmail, submission) sends request=sign and queue_id=ID with the
 * descriptor of the queue file it is writing (read-only) attached, and gets status=signed
 * with the DKIM-Signature fields to prepend (nsig, sig_0 ...), status=unsigned with a
 * reason (no key for the From domain, no single From domain), or status=error with a
 * reason. A malformed request closes the connection. Connections are served start to end
 * in blocking style (lib/global/ipc_server.h); master.cf maxproc processes share the
 * listener.
 *
 * SECURITY: runs as dkim_owner, a user no network-facing process runs as, so the keys
 * (0600 dkim_owner in dkim_key_directory) are out of their reach. It trusts only peers that
 * are root, mail_owner or its own user (SO_PEERCRED), reads the message only through the
 * descriptor it is given (a regular file, parsed strictly as a queue file being written),
 * opens files only under dkim_key_directory with names checked as domain names and
 * selectors, and writes nothing: its only output is the answer. It signs what a trusted
 * peer hands it for the domain of the message's From; the sender policy (who may use which
 * From) is the submitting service's. */
#include "signer.h"
#include "ipc_server.h"
#include "log.h"
#include "mem.h"
#include "queue.h"
#include "server.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* request=sign, queue_id and nothing else, with a regular file attached. */
static int on_request(void *ctx, const struct attrs *req, int qfd, struct attrs *reply, char **err)
{
    const char *r = attrs_get(req, "request"), *id = attrs_get(req, "queue_id");
    struct stat st;
    if (!r || strcmp(r, "sign") != 0 || !id || !queue_id_valid(id) || req->n != 2) {
        *err = xstrdup("request=sign and a valid queue_id expected, nothing else");
        return -1;
    }
    if (qfd < 0 || fstat(qfd, &st) < 0 || !S_ISREG(st.st_mode)) {
        *err = xstrdup("request without a queue file descriptor");
        return -1;
    }
    sign_message(ctx, id, qfd, reply);
    return 0;
}

static void on_accept(struct server *srv, int fd)
{
    struct signer *sg = srv->app;
    if (!ipc_peers_ok(&sg->peers, fd, "signing")) {
        close(fd);
        return;
    }
    ipc_server_serve(fd, "dkim", (int)(config_int(srv->cfg, PARAM(dkim_signer_timeout)) * 1000),
                     "signing request", on_request, sg);
}

static void pre_init(struct server *srv)
{
    struct signer *sg = xcalloc(1, sizeof *sg);
    sg->cfg = srv->cfg;
    ipc_peers_init(&sg->peers, srv->cfg);
    srv->app = sg;
}

static void post_init(struct server *srv)
{
    struct signer *sg = srv->app;
    /* From is signed whatever the list says (RFC 6376 sec 5.4); a repeat counts once. */
    size_t n;
    char **names = config_list(srv->cfg, PARAM(dkim_sign_headers), &n);
    sg->sign_headers = xreallocarray(NULL, n + 1, sizeof *sg->sign_headers);
    sg->sign_headers[0] = "From";
    memcpy(sg->sign_headers + 1, names, n * sizeof *names);
    sg->nsign = n + 1;
    sg->oversign = config_list(srv->cfg, PARAM(dkim_oversign_headers), &sg->nover);
    sg->header_limit = (size_t)config_int(srv->cfg, PARAM(dkim_header_size_limit));
    sg->max_signatures = (size_t)config_int(srv->cfg, PARAM(dkim_max_signatures));
    sg->keys = keycache_new(config_str(srv->cfg, PARAM(dkim_key_directory)),
                            (size_t)config_int(srv->cfg, PARAM(dkim_key_cache_size)),
                            sg->max_signatures);
}

SERVER_MAIN(.program = "dkim-signer", .run_as = PARAM(dkim_owner), .pre_init = pre_init,
            .post_init = post_init, .accept = on_accept)
