/* test_dkim_client.c - lib/global/dkim_client against a scripted signer on SPOOL/private/dkim
 * (a thread): the request it receives (request=sign, the queue ID, a read-only descriptor
 * of the file being written, whose content is complete), and what the client makes of each
 * answer, blocking and asynchronous: signed (the fields are prepended and the file becomes
 * version 2), unsigned (committed as is), error, silence past the timeout, a malformed
 * answer and no signer at all (each a failure that dkim_failure_policy turns into "do not
 * commit" or "commit unsigned"), no key directory (the signer is not even asked), the
 * asynchronous callback never running inside the call, and cancellation. */
#include "unit_test.h"
#include "spool_fixture.h"

#include "buf.h"
#include "dkim_client.h"
#include "event.h"
#include "fdpass.h"
#include "ipc.h"
#include "mem.h"
#include "queue.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SIG "DKIM-Signature: v=1; a=rsa-sha256; d=example.test;\n\tb=abc\n"
#define BODY "From: a@example.test\nSubject: s\n\nbody\n"

enum script { SIGNED, UNSIGNED, ERROR, SILENT, GARBAGE };

struct fake {
    char *spool, *keydir, *path;
    int listener;
    pthread_t thread;
    enum script script;
    /* what the signer saw */
    char queue_id[64];
    bool got_fd, fd_readonly;
    struct buf content;
};

static int collect(void *ctx, const char *data, size_t len)
{
    buf_append(ctx, data, len);
    return 0;
}

/* Serve one connection: announce, read the request, answer as scripted. */
static void *serve(void *arg)
{
    struct fake *f = arg;
    int fd = accept(f->listener, NULL, NULL);
    if (fd < 0)
        return NULL;
    struct ipc_conn c;
    ipc_conn_init(&c, fd, 5000);
    ipc_announce(&c, "dkim");
    struct attrs req = {0}, rep = {0};
    char *err = NULL;
    if (ipc_recv(&c, &req, &err) == 1) {
        snprintf(f->queue_id, sizeof f->queue_id, "%s", attrs_get(&req, "queue_id"));
        f->got_fd = c.passed_fd >= 0;
        if (f->got_fd) {
            f->fd_readonly = (fcntl(c.passed_fd, F_GETFL) & O_ACCMODE) == O_RDONLY;
            struct queue_msg m;
            if (queue_read_draft(c.passed_fd, f->queue_id, &m, &err) == 0) {
                queue_read_body(c.passed_fd, &m, collect, &f->content, &err);
                queue_msg_free(&m);
            }
        }
        switch (f->script) {
        case SIGNED:
            attrs_add(&rep, "status", "signed");
            attrs_add(&rep, "nsig", "1");
            attrs_add(&rep, "sig_0", SIG);
            break;
        case UNSIGNED:
            attrs_add(&rep, "status", "unsigned");
            attrs_add(&rep, "reason", "no DKIM key for example.test");
            break;
        case ERROR:
            attrs_add(&rep, "status", "error");
            attrs_add(&rep, "reason", "key unreadable");
            break;
        case GARBAGE:
            attrs_add(&rep, "status", "signed");
            attrs_add(&rep, "nsig", "2"); /* but one field */
            attrs_add(&rep, "sig_0", SIG);
            break;
        case SILENT: {
            char b;
            while (read(fd, &b, 1) > 0) /* until the client gives up */
                ;
            break;
        }
        }
        if (f->script != SILENT)
            ipc_send(&c, &rep, -1);
    }
    free(err);
    attrs_free(&req);
    attrs_free(&rep);
    ipc_conn_close(&c);
    return NULL;
}

static struct fake *fake_new(enum script script, bool listen_too)
{
    struct fake *f = xcalloc(1, sizeof *f);
    f->spool = make_spool();
    f->keydir = xasprintf("%s/keys", f->spool);
    assert_int_equal(mkdir(f->keydir, 0700), 0);
    char *priv = xasprintf("%s/private", f->spool);
    assert_int_equal(mkdir(priv, 0700), 0);
    free(priv);
    f->path = xasprintf("%s/%s", f->spool, DKIM_SOCKET);
    f->script = script;
    f->listener = -1;
    if (!listen_too)
        return f;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", f->path);
    f->listener = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(f->listener, (struct sockaddr *)&sun, sizeof sun), 0);
    assert_int_equal(listen(f->listener, 4), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
    return f;
}

static void fake_free(struct fake *f)
{
    if (f->listener >= 0) {
        shutdown(f->listener, SHUT_RDWR);
        pthread_join(f->thread, NULL);
        close(f->listener);
    }
    char *cmd = xasprintf("rm -rf '%s'", f->spool);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    buf_free(&f->content);
    free(f->spool), free(f->keydir), free(f->path);
    free(f);
}

static void client(struct fake *f, bool tempfail, struct dkim_client *dc)
{
    struct config *cfg = config_defaults("/nonexistent");
    struct errlist errs = {0};
    char *kd = xasprintf("dkim_key_directory=%s", f->keydir);
    assert_true(config_override(cfg, kd, "test", &errs));
    assert_true(config_override(cfg, "dkim_signer_timeout=1s", "test", &errs));
    assert_true(config_override(cfg, tempfail ? "dkim_failure_policy=tempfail"
                                              : "dkim_failure_policy=unsigned", "test", &errs));
    dkim_client_init(dc, cfg, f->spool);
    free(kd);
    errlist_free(&errs);
    config_free(cfg);
}

static struct queue_writer *writer(struct fake *f)
{
    char *err = NULL;
    struct queue_writer *w = queue_create(f->spool, &err);
    assert_non_null(w);
    queue_put_str(w, REC_SENDER, "a@example.test");
    queue_put_rcpt(w, "b@example.test", "", "");
    queue_begin_message(w);
    queue_write_body(w, BODY, strlen(BODY));
    return w;
}

/* Commit w and return the delivered content (what every reader sees). */
static char *commit_and_read(struct fake *f, struct queue_writer *w)
{
    char id[QUEUE_ID_SIZE], *err = NULL;
    snprintf(id, sizeof id, "%s", queue_writer_id(w));
    assert_int_equal(queue_commit(w, true, &err), 0);
    char *path = queue_path(f->spool, QUEUE_INCOMING, id);
    int fd = open(path, O_RDONLY);
    free(path);
    struct queue_msg m;
    struct buf b = BUF_INIT;
    assert_int_equal(queue_read(fd, id, &m, &err), 0);
    assert_int_equal(queue_read_body(fd, &m, collect, &b, &err), 0);
    queue_msg_free(&m);
    close(fd);
    return buf_steal(&b);
}

static void test_blocking_signed(void **state)
{
    struct fake *f = fake_new(SIGNED, true);
    struct dkim_client dc;
    client(f, true, &dc);
    struct queue_writer *w = writer(f);
    char id[QUEUE_ID_SIZE], *err = NULL;
    snprintf(id, sizeof id, "%s", queue_writer_id(w));
    assert_int_equal(dkim_sign_writer(&dc, w, &err), 0);
    char *content = commit_and_read(f, w);
    assert_string_equal(content, SIG BODY);
    assert_string_equal(f->queue_id, id);
    assert_true(f->got_fd && f->fd_readonly);
    assert_string_equal(buf_cstr(&f->content), BODY); /* the signer saw the whole content */
    free(content);
    fake_free(f);
}

/* What dkim_sign_writer() decides for a script, and what ends up queued. */
static void blocking_case(enum script script, bool listen, bool tempfail, int want_rc)
{
    struct fake *f = fake_new(script, listen);
    struct dkim_client dc;
    client(f, tempfail, &dc);
    struct queue_writer *w = writer(f);
    char *err = NULL;
    int rc = dkim_sign_writer(&dc, w, &err);
    if (rc != want_rc)
        fail_msg("script %d listen %d tempfail %d: rc %d (%s)", script, listen, tempfail, rc, err);
    if (rc == 0) {
        char *content = commit_and_read(f, w);
        assert_string_equal(content, BODY); /* unsigned */
        free(content);
    } else {
        assert_non_null(strstr(err, "DKIM signing failed"));
        queue_abort(w);
    }
    free(err);
    fake_free(f);
}

static void test_blocking_outcomes(void **state)
{
    blocking_case(UNSIGNED, true, true, 0);
    blocking_case(ERROR, true, true, -1);
    blocking_case(ERROR, true, false, 0);
    blocking_case(GARBAGE, true, true, -1);
    blocking_case(SILENT, true, true, -1);  /* after dkim_signer_timeout (1 s) */
    blocking_case(SILENT, true, false, 0);
    blocking_case(SIGNED, false, true, -1); /* no signer listening */
    blocking_case(SIGNED, false, false, 0);
}

static void test_no_key_directory_asks_nobody(void **state)
{
    struct fake *f = fake_new(SIGNED, false);
    struct dkim_client dc;
    client(f, true, &dc);
    assert_int_equal(rmdir(f->keydir), 0);
    struct queue_writer *w = writer(f);
    char *err = NULL;
    assert_int_equal(dkim_sign_writer(&dc, w, &err), 0); /* tempfail, yet nothing failed */
    char *content = commit_and_read(f, w);
    assert_string_equal(content, BODY);
    free(content);
    fake_free(f);
}

/* --- asynchronous --- */

struct outcome {
    struct event_loop *loop;
    bool called, inside_start;
    int rc;
    char err[256];
};

static void on_done(void *ctx, int rc, const char *err)
{
    struct outcome *o = ctx;
    o->called = true;
    o->rc = rc;
    snprintf(o->err, sizeof o->err, "%s", err ? err : "");
    event_stop(o->loop);
}

static void async_case(enum script script, bool listen, bool tempfail, int want_rc,
                       const char *want_content)
{
    struct fake *f = fake_new(script, listen);
    struct dkim_client dc;
    client(f, tempfail, &dc);
    struct queue_writer *w = writer(f);
    struct outcome o = {.loop = event_loop_new()};
    struct dkim_sign_req *r = dkim_sign_writer_start(&dc, o.loop, w, on_done, &o);
    assert_non_null(r);
    assert_false(o.called); /* never from inside the call */
    event_run(o.loop);
    assert_true(o.called);
    if (o.rc != want_rc)
        fail_msg("script %d: rc %d (%s)", script, o.rc, o.err);
    if (o.rc == 0) {
        char *content = commit_and_read(f, w);
        assert_string_equal(content, want_content);
        free(content);
    } else {
        assert_non_null(strstr(o.err, "DKIM signing failed"));
        queue_abort(w);
    }
    event_loop_free(o.loop);
    fake_free(f);
}

static void test_async_outcomes(void **state)
{
    async_case(SIGNED, true, true, 0, SIG BODY);
    async_case(UNSIGNED, true, true, 0, BODY);
    async_case(ERROR, true, true, -1, NULL);
    async_case(ERROR, true, false, 0, BODY);
    async_case(GARBAGE, true, true, -1, NULL);
    async_case(SILENT, true, true, -1, NULL);
    async_case(SIGNED, false, true, -1, NULL);
    async_case(SIGNED, false, false, 0, BODY);
}

static void stop_loop(struct event_loop *loop, void *ctx) { event_stop(loop); }

static void test_async_cancel(void **state)
{
    struct fake *f = fake_new(SILENT, true);
    struct dkim_client dc;
    client(f, true, &dc);
    struct queue_writer *w = writer(f);
    struct outcome o = {.loop = event_loop_new()};
    struct dkim_sign_req *r = dkim_sign_writer_start(&dc, o.loop, w, on_done, &o);
    event_timer(o.loop, 100, stop_loop, NULL);
    event_run(o.loop);
    dkim_sign_cancel(r); /* closes the connection: the fake signer's read ends */
    event_timer(o.loop, 1500, stop_loop, NULL); /* past the timeout: nothing may fire */
    event_run(o.loop);
    assert_false(o.called);
    queue_abort(w);
    event_loop_free(o.loop);
    fake_free(f);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_blocking_signed),
               cmocka_unit_test(test_blocking_outcomes),
               cmocka_unit_test(test_no_key_directory_asks_nobody),
               cmocka_unit_test(test_async_outcomes),
               cmocka_unit_test(test_async_cancel))
