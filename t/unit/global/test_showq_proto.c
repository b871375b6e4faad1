/* test_showq_proto.c - the showq protocol of lib/global/showq_proto.c: what the server
 * encodes the client reads back unchanged, the request is checked strictly, and the client
 * fails closed on a missing end, an error end, or a malformed record. The server's side is
 * bytes written into one end of a socketpair before the client reads the other. */
#include "unit_test.h"
#include "buf.h"
#include "fileio.h"
#include "mem.h"
#include "showq_proto.h"
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ID "6614BAD38FB4CEBAFB"

/* A client reading "server" (announcement included) after the request it sent; *peer is
 * the server's end (the request can be read from it). */
static struct showq_client *client_for(const char *server, size_t len, const char *only, int *peer,
                                       char **err)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(write_full(sv[1], server, len), 0);
    *peer = sv[1];
    return showq_client_on(sv[0], only, 2000, err);
}

static void announce(struct buf *b)
{
    struct attrs a = {0};
    attrs_add(&a, "protocol", SHOWQ_PROTOCOL);
    attrs_add(&a, "version", IPC_VERSION);
    ipc_encode(b, &a);
    attrs_free(&a);
}

static struct qlist_msg sample(void)
{
    struct qlist_msg m = {0};
    m.queue = xstrdup("deferred");
    m.id = xstrdup(ID);
    m.arrival_time = 1700000000;
    m.size = 4242;
    m.sender = xstrdup("");
    qlist_msg_add_rcpt(&m, "a@x.test", "mailbox full\nsecond line");
    qlist_msg_add_rcpt(&m, "b@x.test", "");
    return m;
}

static void test_round_trip(void **state)
{
    struct buf b = BUF_INIT;
    announce(&b);
    struct qlist_msg m = sample();
    showq_encode_msg(&b, &m);
    showq_encode_msg(&b, &m);
    showq_encode_end(&b, NULL);
    qlist_msg_clear(&m);
    int peer;
    char *err = NULL;
    struct showq_client *c = client_for(b.data, b.len, "hold", &peer, &err);
    assert_non_null(c);
    for (int i = 0; i < 2; i++) {
        const struct qlist_msg *got = NULL;
        assert_int_equal(showq_next(c, &got, &err), QLIST_MSG);
        assert_string_equal(got->queue, "deferred");
        assert_string_equal(got->id, ID);
        assert_int_equal(got->arrival_time, 1700000000);
        assert_int_equal(got->size, 4242);
        assert_string_equal(got->sender, "");
        assert_int_equal(got->nrcpts, 2);
        assert_string_equal(got->rcpts[0].reason, "mailbox full\nsecond line");
        assert_string_equal(got->rcpts[1].address, "b@x.test");
        assert_string_equal(got->rcpts[1].reason, "");
    }
    const struct qlist_msg *got;
    assert_int_equal(showq_next(c, &got, &err), QLIST_END);
    assert_int_equal(showq_next(c, &got, &err), QLIST_END);
    /* The request the client sent, checked as showq checks it. */
    char req[256];
    ssize_t n = read(peer, req, sizeof req);
    assert_true(n > 0);
    struct attrs a = {0};
    size_t used;
    assert_int_equal(ipc_decode(req, (size_t)n, &a, &used, &err), 1);
    const char *const *queues;
    assert_int_equal(showq_parse_request(&a, &queues, &err), 0);
    assert_string_equal(queues[0], "hold");
    assert_null(queues[1]);
    attrs_free(&a);
    showq_close(c);
    close(peer);
    buf_free(&b);
}

static void test_requests(void **state)
{
    const char *const *queues;
    char *err = NULL;
    struct attrs a = {0};
    attrs_add(&a, "request", "list");
    assert_int_equal(showq_parse_request(&a, &queues, &err), 0);
    assert_string_equal(queues[0], "active"); /* mailq's queues, Postfix's order */
    attrs_add(&a, "queue", "deferred");
    assert_int_equal(showq_parse_request(&a, &queues, &err), -1); /* only hold */
    free(err);
    attrs_free(&a);
    attrs_add(&a, "request", "list");
    attrs_add(&a, "content", "yes");
    assert_int_equal(showq_parse_request(&a, &queues, &err), -1); /* nothing unknown */
    free(err);
    attrs_free(&a);
    attrs_add(&a, "request", "show");
    assert_int_equal(showq_parse_request(&a, &queues, &err), -1);
    free(err);
    attrs_free(&a);
}

/* The client's verdict on a server that sends body (after the announcement). */
static enum qlist_result verdict(const char *body, char **err)
{
    struct buf b = BUF_INIT;
    announce(&b);
    buf_puts(&b, body);
    int peer;
    struct showq_client *c = client_for(b.data, b.len, NULL, &peer, err);
    assert_non_null(c);
    char req[256];
    assert_true(read(peer, req, sizeof req) > 0); /* the request, so that closing is clean */
    close(peer); /* nothing more comes */
    const struct qlist_msg *m;
    enum qlist_result r;
    while ((r = showq_next(c, &m, err)) == QLIST_MSG) {
    }
    showq_close(c);
    buf_free(&b);
    return r;
}

#define HDR "queue=deferred\nqueue_id=" ID "\narrival_time=1\nmessage_size=2\nforced_expire=0\nsender=s\n"

static void test_fails_closed(void **state)
{
    static const struct { const char *body, *why; } cases[] = {
        {"", "closed the connection"},                               /* no end record */
        {HDR "nrcpt=1\n\n", "closed the connection"},               /* a recipient short */
        {"end=error\nreason=cannot read hold\n\n", "showq: cannot read hold"},
        {"end=maybe\n\n", "end record"},
        {"end=ok\nextra=1\n\n", "end record"},
        {HDR "nrcpt=0\nextra=1\n\n", "message record"},
        {"queue=corrupt\nqueue_id=" ID "\narrival_time=1\nmessage_size=2\nforced_expire=0\n"
         "sender=s\nnrcpt=0\n\n", "message record"},                /* not a listed queue */
        {"queue=hold\nqueue_id=../x\narrival_time=1\nmessage_size=2\nforced_expire=0\n"
         "sender=s\nnrcpt=0\n\n", "message record"},                /* not a queue ID */
        {HDR "nrcpt=-1\n\n", "message record"},
        {HDR "nrcpt=1\n\nreason=x\n\n", "recipient record"},        /* no address */
        {HDR "nrcpt=1\n\naddress=a\nreason=\n\n", "recipient record"}, /* empty reason */
        {HDR "nrcpt=1\n\naddress=a\nbody=secret\n\n", "recipient record"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *err = NULL;
        assert_int_equal(verdict(cases[i].body, &err), QLIST_FAILED);
        assert_non_null(err);
        if (!strstr(err, cases[i].why))
            fail_msg("case %zu: %s", i, err);
        free(err);
    }
    char *err = NULL;
    assert_int_equal(verdict(HDR "nrcpt=1\n\naddress=a\n\nend=ok\n\n", &err), QLIST_END);
}

static void test_wrong_protocol(void **state)
{
    const char *server = "protocol=qmgr\nversion=1\n\n";
    int peer;
    char *err = NULL;
    assert_null(client_for(server, strlen(server), NULL, &peer, &err));
    assert_non_null(strstr(err, "expected showq"));
    free(err);
    close(peer);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_round_trip), cmocka_unit_test(test_requests),
               cmocka_unit_test(test_fails_closed), cmocka_unit_test(test_wrong_protocol))
