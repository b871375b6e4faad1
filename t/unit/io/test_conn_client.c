/* test_conn_client.c - the client side of lib/io/conn and lib/io/tls on loopback only:
 * connecting to a listening socket on 127.0.0.1 and ::1 (then line reading and output
 * through the same struct conn), a chosen source address, a refused port, a timeout against
 * a listener whose backlog is full, cancelling a pending connect, bad addresses, and the
 * client-role STARTTLS against a server conn on the same loop with a self-signed
 * certificate made at test time: trusted with the right name, handshake refused with a
 * wrong name in verify-name mode, reported untrusted (wrong name, unknown issuer) in none
 * mode, and pipelined plaintext after the 220 discarded; DANE: a DANE-EE record matching the
 * key whatever the names, a mismatching one refused, only-unusable records refused up
 * front (DANE-TA needs a chain: t/integration/test_smtp_client_dane.py). */
#include "unit_test.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "event.h"
#include "tls.h"

/* --- a loopback listener --- */

/* A TCP socket bound to addr on a free port; listening with backlog unless backlog < 0.
 * Returns -1 when the address family is not available here. */
static int loopback_socket(int family, int backlog, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *sin;
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        len = sizeof *s6;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || (backlog >= 0 && listen(fd, backlog) < 0)) {
        close(fd);
        return -1;
    }
    len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

/* --- the client under test --- */

struct client {
    struct event_loop *loop;
    struct conn *c;
    bool done_called, tls_ready, failed;
    char why[256];
    struct buf lines; /* "text|" per line read */
    long long started;
};

/* Read one line per input event (as a client waiting for one reply does), leaving the rest
 * buffered. */
static bool one_line_mode;

static void on_input(struct conn *c, void *ctx)
{
    struct client *cl = ctx;
    struct buf line = BUF_INIT;
    bool bare;
    while (conn_read_line(c, 512, &line, &bare) == CONN_LINE_OK) {
        buf_printf(&cl->lines, "%s|", buf_cstr(&line));
        if (one_line_mode)
            break;
    }
    buf_free(&line);
    event_stop(cl->loop);
}

static void on_error(struct conn *c, void *ctx, const char *why)
{
    struct client *cl = ctx;
    cl->failed = true;
    snprintf(cl->why, sizeof cl->why, "%s", why);
    event_stop(cl->loop);
}

static void on_tls(struct conn *c, void *ctx)
{
    struct client *cl = ctx;
    cl->tls_ready = true;
    event_stop(cl->loop);
}

static const struct conn_ops client_ops = {on_input, on_error, on_tls, NULL};

static void on_connected(struct conn *c, void *ctx, const char *why)
{
    struct client *cl = ctx;
    cl->done_called = true;
    cl->c = c;
    if (why)
        snprintf(cl->why, sizeof cl->why, "%s", why);
    event_stop(cl->loop);
}

static void stop(struct event_loop *loop, void *ctx) { event_stop(loop); }

static void run_for(struct event_loop *loop, long ms)
{
    unsigned long t = event_timer(loop, ms, stop, NULL);
    event_run(loop);
    event_timer_cancel(loop, t);
}

static struct conn_connect *start(struct client *cl, const char *addr, int port,
                                  const char *source, long timeout_ms)
{
    memset(cl, 0, sizeof *cl);
    cl->loop = event_loop_new();
    cl->started = event_now_ms();
    struct conn_connect_params p = {addr, port, source, timeout_ms, 4096};
    char *err = NULL;
    struct conn_connect *pc = conn_connect(cl->loop, &p, &client_ops, cl, on_connected, &err);
    if (!pc)
        fail_msg("conn_connect %s port %d: %s", addr, port, err);
    return pc;
}

static void finish(struct client *cl)
{
    if (cl->c)
        conn_free(cl->c);
    event_loop_free(cl->loop);
    buf_free(&cl->lines);
}

static int accept_peer(int lfd, char *addr, size_t addrsize)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept(lfd, (struct sockaddr *)&ss, &len);
    assert_true(fd >= 0);
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, (socklen_t)addrsize);
    else
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, (socklen_t)addrsize);
    return fd;
}

/* Connect, then exchange a line each way through the conn. */
static void connect_and_talk(int family, const char *addr, const char *source,
                             const char *expect_peer)
{
    int port;
    int lfd = loopback_socket(family, 8, &port);
    if (lfd < 0) {
        skip(); /* no IPv6 loopback in this environment */
        return;
    }
    struct client cl;
    start(&cl, addr, port, source, 5000);
    run_for(cl.loop, 5000);
    assert_true(cl.done_called);
    if (!cl.c)
        fail_msg("no connection: %s", cl.why);
    assert_int_equal(conn_peer_port(cl.c), port);
    char peer[INET6_ADDRSTRLEN];
    int sfd = accept_peer(lfd, peer, sizeof peer);
    assert_string_equal(peer, expect_peer);

    assert_int_equal(write(sfd, "220 hello\r\n", 11), 11);
    run_for(cl.loop, 5000);
    assert_string_equal(buf_cstr(&cl.lines), "220 hello|");

    conn_puts(cl.c, "EHLO client.test\r\n");
    conn_flush(cl.c);
    char got[64] = "";
    assert_int_equal(read(sfd, got, sizeof got - 1), 18);
    assert_string_equal(got, "EHLO client.test\r\n");
    close(sfd);
    close(lfd);
    finish(&cl);
}

static void test_connect_ipv4(void **state) { connect_and_talk(AF_INET, "127.0.0.1", NULL, "127.0.0.1"); }

static void test_connect_ipv6(void **state) { connect_and_talk(AF_INET6, "::1", NULL, "::1"); }

static void test_connect_ipv6_brackets(void **state)
{
    connect_and_talk(AF_INET6, "[::1]", NULL, "::1");
}

static void test_connect_from_source(void **state)
{
    /* All of 127/8 is local on Linux: the server must see the chosen source. */
    connect_and_talk(AF_INET, "127.0.0.1", "127.0.0.2", "127.0.0.2");
}

static void test_refused(void **state)
{
    int port;
    int fd = loopback_socket(AF_INET, -1, &port); /* bound, not listening: refuses */
    assert_true(fd >= 0);
    struct client cl;
    start(&cl, "127.0.0.1", port, NULL, 5000);
    assert_false(cl.done_called); /* never called from inside conn_connect */
    run_for(cl.loop, 5000);
    assert_true(cl.done_called);
    assert_null(cl.c);
    assert_non_null(strstr(cl.why, "Connection refused"));
    assert_non_null(strstr(cl.why, "127.0.0.1 port"));
    close(fd);
    finish(&cl);
}

/* A listener with backlog 0 that never accepts: once its queue holds one connection, the
 * kernel drops further SYNs, so a connect to it neither succeeds nor fails. */
static int full_listener(int *port, int fillers[2])
{
    int lfd = loopback_socket(AF_INET, 0, port);
    assert_true(lfd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < 2; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        (void)connect(fillers[i], (struct sockaddr *)&sin, sizeof sin);
    }
    usleep(100 * 1000); /* let the first filler's handshake complete */
    return lfd;
}

static void test_timeout(void **state)
{
    int port, fillers[2];
    int lfd = full_listener(&port, fillers);
    struct client cl;
    start(&cl, "127.0.0.1", port, NULL, 300);
    run_for(cl.loop, 5000);
    long long took = event_now_ms() - cl.started;
    assert_true(cl.done_called);
    if (cl.c)
        fail_msg("connected to a full listener (did the kernel accept it?)");
    assert_non_null(strstr(cl.why, "timed out after 300 ms"));
    assert_true(took >= 290 && took < 3000);
    close(fillers[0]);
    close(fillers[1]);
    close(lfd);
    finish(&cl);
}

static void test_cancel(void **state)
{
    int port, fillers[2];
    int lfd = full_listener(&port, fillers);
    struct client cl;
    struct conn_connect *pc = start(&cl, "127.0.0.1", port, NULL, 100);
    conn_connect_cancel(pc);
    run_for(cl.loop, 300); /* the timeout would have fired by now */
    assert_false(cl.done_called);
    close(fillers[0]);
    close(fillers[1]);
    close(lfd);
    finish(&cl);
}

static void test_bad_addresses(void **state)
{
    struct event_loop *loop = event_loop_new();
    static const struct {
        const char *addr, *source;
        int port;
        const char *err;
    } t[] = {
        {"mx.example.test", NULL, 25, "not a numeric address"},
        {"127.0.0.1", NULL, 0, "not a numeric address"},
        {"127.0.0.1", NULL, 70000, "not a numeric address"},
        {"::1", "127.0.0.1", 25, "source address 127.0.0.1"},
        {"127.0.0.1", "192.0.2.55", 25, "source address 192.0.2.55"}, /* not ours */
        {"[127.0.0.1", NULL, 25, "not a numeric address"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct conn_connect_params p = {t[i].addr, t[i].port, t[i].source, 1000, 4096};
        char *err = NULL;
        struct conn_connect *pc = conn_connect(loop, &p, &client_ops, NULL, on_connected, &err);
        if (pc || !err || !strstr(err, t[i].err))
            fail_msg("case %zu: %s", i, err ? err : "(no error)");
        free(err);
    }
    event_loop_free(loop);
}

/* --- TLS --- */

struct tls_files {
    char dir[64], cert[96], key[96];
};

/* A self-signed P-256 certificate for DNS:mx.test, written as PEM. */
static void make_cert(struct tls_files *f)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/posthorn-tls-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->cert, sizeof f->cert, "%s/cert.pem", f->dir);
    snprintf(f->key, sizeof f->key, "%s/key.pem", f->dir);
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(pkey);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mx.test", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:mx.test");
    X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    assert_non_null(san);
    assert_non_null(bc);
    X509_add_ext(x, san, -1);
    X509_add_ext(x, bc, -1);
    X509_EXTENSION_free(san);
    X509_EXTENSION_free(bc);
    assert_true(X509_sign(x, pkey, EVP_sha256()) > 0);
    FILE *out = fopen(f->cert, "w");
    assert_non_null(out);
    PEM_write_X509(out, x);
    fclose(out);
    out = fopen(f->key, "w");
    assert_non_null(out);
    PEM_write_PrivateKey(out, pkey, NULL, NULL, 0, NULL, NULL);
    fclose(out);
    X509_free(x);
    EVP_PKEY_free(pkey);
}

/* One certificate for all tests, removed at the end even when a test failed. */
static struct tls_files cert_files;

static int make_cert_files(void **state)
{
    make_cert(&cert_files);
    return 0;
}

static int remove_cert_files(void **state)
{
    unlink(cert_files.cert);
    unlink(cert_files.key);
    rmdir(cert_files.dir);
    return 0;
}

/* The server half on the same loop: a conn that answers STARTTLS and records lines. */
struct server {
    struct event_loop *loop;
    int lfd;
    struct conn *c;
    SSL_CTX *ctx;
    const char *greeting; /* written before the TLS handshake starts */
    bool tls_ready, failed;
    struct buf lines;
};

static void srv_input(struct conn *c, void *ctx)
{
    struct server *s = ctx;
    struct buf line = BUF_INIT;
    bool bare;
    while (conn_read_line(c, 512, &line, &bare) == CONN_LINE_OK)
        buf_printf(&s->lines, "%s|", buf_cstr(&line));
    buf_free(&line);
    event_stop(s->loop);
}

static void srv_error(struct conn *c, void *ctx, const char *why)
{
    struct server *s = ctx;
    s->failed = true;
}

static void srv_tls(struct conn *c, void *ctx)
{
    struct server *s = ctx;
    s->tls_ready = true;
}

static const struct conn_ops server_ops = {srv_input, srv_error, srv_tls, NULL};

static void srv_accept(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct server *s = ctx;
    int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0)
        return;
    event_del(loop, fd);
    s->c = conn_new(loop, cfd, 4096, &server_ops, s);
    conn_puts(s->c, s->greeting);
    char *err = NULL;
    if (conn_starttls(s->c, s->ctx, &err) < 0)
        fail_msg("server starttls: %s", err);
}

/* Run a STARTTLS exchange; returns whether the client's handshake finished. */
static bool client_starttls(struct server *s, struct client *cl, struct tls_files *f,
                            const char *ca_file, const struct tls_client_params *p,
                            long *discarded)
{
    char *err = NULL;
    int port;
    s->lfd = loopback_socket(AF_INET, 8, &port);
    assert_true(s->lfd >= 0);
    start(cl, "127.0.0.1", port, NULL, 5000);
    s->loop = cl->loop;
    s->ctx = tls_server_context(f->cert, f->key, "TLSv1.2", &err);
    if (!s->ctx)
        fail_msg("server context: %s", err);
    event_add(cl->loop, s->lfd, EPOLLIN, srv_accept, s);
    run_for(cl->loop, 5000);
    assert_non_null(cl->c);
    /* read the greeting, the "220 go ahead" and whatever the server sent with it */
    while (!strstr(buf_cstr(&cl->lines), "220 go ahead|") && !cl->failed)
        run_for(cl->loop, 5000);
    SSL_CTX *cctx = tls_client_context(ca_file, NULL, "TLSv1.2", &err);
    if (!cctx)
        fail_msg("client context: %s", err);
    *discarded = conn_starttls_client(cl->c, cctx, p, &err);
    if (*discarded < 0)
        fail_msg("client starttls: %s", err);
    for (int i = 0; i < 10 && !cl->tls_ready && !cl->failed; i++)
        run_for(cl->loop, 500);
    tls_context_free(cctx);
    return cl->tls_ready;
}

static void tls_finish(struct server *s, struct client *cl)
{
    if (s->c)
        conn_free(s->c);
    tls_context_free(s->ctx);
    close(s->lfd);
    buf_free(&s->lines);
    finish(cl);
}

static void test_tls_verified(void **state)
{
    struct tls_files f = cert_files;
    struct server s = {.greeting = "220 go ahead\r\n"};
    struct client cl;
    struct tls_client_params p = {.sni = "mx.test", .verify_name = "mx.test", .mode = TLS_VERIFY_NAME};
    long discarded;
    if (!client_starttls(&s, &cl, &f, f.cert, &p, &discarded))
        fail_msg("handshake failed: %s", cl.why);
    assert_int_equal(discarded, 0);
    assert_true(conn_tls_active(cl.c));
    struct tls_peer_check chk;
    tls_peer_check(conn_ssl(cl.c), &chk);
    assert_true(chk.trusted);
    assert_true(chk.name_checked);
    assert_string_equal(chk.reason, "trusted");
    /* SNI reached the server */
    for (int i = 0; i < 10 && !s.tls_ready; i++)
        run_for(cl.loop, 100);
    assert_true(s.tls_ready);
    assert_string_equal(SSL_get_servername(conn_ssl(s.c), TLSEXT_NAMETYPE_host_name), "mx.test");
    /* and lines go through TLS */
    conn_puts(cl.c, "EHLO client.test\r\n");
    conn_flush(cl.c);
    while (!strstr(buf_cstr(&s.lines), "EHLO") && !s.failed)
        run_for(cl.loop, 2000);
    assert_string_equal(buf_cstr(&s.lines), "EHLO client.test|");
    tls_finish(&s, &cl);
}

static void test_tls_wrong_name_refused(void **state)
{
    struct tls_files f = cert_files;
    struct server s = {.greeting = "220 go ahead\r\n"};
    struct client cl;
    struct tls_client_params p = {.sni = "other.test", .verify_name = "other.test", .mode = TLS_VERIFY_NAME};
    long discarded;
    assert_false(client_starttls(&s, &cl, &f, f.cert, &p, &discarded));
    assert_true(cl.failed);
    if (!strstr(cl.why, "hostname mismatch"))
        fail_msg("unexpected failure: %s", cl.why);
    tls_finish(&s, &cl);
}

static void test_tls_wrong_name_reported(void **state)
{
    struct tls_files f = cert_files;
    struct server s = {.greeting = "220 go ahead\r\n"};
    struct client cl;
    struct tls_client_params p = {.sni = "other.test", .verify_name = "other.test", .mode = TLS_VERIFY_NONE};
    long discarded;
    if (!client_starttls(&s, &cl, &f, f.cert, &p, &discarded))
        fail_msg("handshake failed: %s", cl.why);
    struct tls_peer_check chk;
    tls_peer_check(conn_ssl(cl.c), &chk);
    assert_false(chk.trusted);
    assert_true(chk.name_checked);
    assert_int_equal(chk.code, X509_V_ERR_HOSTNAME_MISMATCH);
    assert_non_null(strstr(chk.reason, "hostname mismatch"));
    tls_finish(&s, &cl);
}

static void test_tls_untrusted_issuer_reported(void **state)
{
    /* The system store does not know the test certificate; the name is right. */
    struct tls_files f = cert_files;
    struct server s = {.greeting = "220 go ahead\r\n"};
    struct client cl;
    struct tls_client_params p = {.sni = "mx.test", .verify_name = NULL, .mode = TLS_VERIFY_NONE};
    long discarded;
    if (!client_starttls(&s, &cl, &f, NULL, &p, &discarded))
        fail_msg("handshake failed: %s", cl.why);
    struct tls_peer_check chk;
    tls_peer_check(conn_ssl(cl.c), &chk);
    assert_false(chk.trusted);
    assert_false(chk.name_checked);
    assert_non_null(strstr(chk.reason, "self-signed"));
    tls_finish(&s, &cl);
}

/* SHA-256 of the test certificate's public key (TLSA selector 1, matching type 1) or of
 * the whole certificate (selector 0). */
static void cert_digest(const char *file, int selector, unsigned char out[32])
{
    FILE *in = fopen(file, "r");
    assert_non_null(in);
    X509 *x = PEM_read_X509(in, NULL, NULL, NULL);
    fclose(in);
    assert_non_null(x);
    unsigned char *der = NULL;
    int len = selector == 1 ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der) : i2d_X509(x, &der);
    assert_true(len > 0);
    unsigned int n = 32;
    assert_true(EVP_Digest(der, (size_t)len, out, &n, EVP_sha256(), NULL) == 1);
    OPENSSL_free(der);
    X509_free(x);
}

/* DANE (RFC 7672): the chain checked against TLSA records instead of the trust store. */
static void dane_case(unsigned char usage, unsigned char selector, bool corrupt, bool want)
{
    struct tls_files f = cert_files;
    struct server s = {.greeting = "220 go ahead\r\n"};
    struct client cl;
    unsigned char digest[32];
    cert_digest(f.cert, selector, digest);
    if (corrupt)
        digest[0] ^= 1;
    struct tls_tlsa rr[2] = {{.usage = 1, .selector = 1, .mtype = 1, .data = digest, .len = 32},
                             {.usage = usage, .selector = selector, .mtype = 1, .data = digest,
                              .len = 32}};
    /* the base name does not match the certificate: DANE-EE needs none */
    struct tls_client_params p = {.sni = "mx.test", .verify_name = "mx.test",
                                  .mode = TLS_VERIFY_NONE, .tlsa = rr, .ntlsa = 2,
                                  .dane_base = "other.test", .dane_nexthop = "example.test"};
    long discarded;
    if (!client_starttls(&s, &cl, &f, NULL, &p, &discarded))
        fail_msg("handshake failed: %s", cl.why);
    struct tls_peer_check chk;
    tls_peer_check(conn_ssl(cl.c), &chk);
    assert_int_equal(chk.trusted, want);
    assert_int_equal(chk.dane_usage, want ? usage : -1);
    tls_finish(&s, &cl);
}

static void test_dane_ee_matches_without_names(void **state) { dane_case(3, 1, false, true); }
static void test_dane_ee_mismatch(void **state) { dane_case(3, 1, true, false); }

static void test_dane_only_unusable_records(void **state)
{
    struct tls_tlsa pkix = {.usage = 1, .selector = 1, .mtype = 1, .data = (const unsigned char *)"x",
                            .len = 1};
    assert_false(tls_tlsa_usable(&pkix));
    pkix.usage = 3;
    assert_true(tls_tlsa_usable(&pkix));
    pkix.mtype = 3;
    assert_false(tls_tlsa_usable(&pkix));
    struct tls_client_params p = {.sni = "mx.test", .mode = TLS_VERIFY_NONE, .tlsa = &pkix,
                                  .ntlsa = 1, .dane_base = "mx.test"};
    char *err = NULL;
    SSL_CTX *ctx = tls_client_context(NULL, NULL, "TLSv1.2", &err);
    assert_non_null(ctx);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_null(tls_client_session_new(ctx, sv[0], &p, &err));
    assert_non_null(strstr(err, "no usable TLSA record"));
    free(err);
    close(sv[0]);
    close(sv[1]);
    tls_context_free(ctx);
}

static void test_tls_injection_discarded(void **state)
{
    /* A reply sent in plaintext right behind the 220 must not be read as a TLS reply. */
    struct tls_files f = cert_files;
    struct server s = {.greeting = "220 go ahead\r\n250 injected\r\n"};
    struct client cl;
    struct tls_client_params p = {.sni = "mx.test", .verify_name = "mx.test", .mode = TLS_VERIFY_NAME};
    long discarded;
    one_line_mode = true;
    bool ok = client_starttls(&s, &cl, &f, f.cert, &p, &discarded);
    one_line_mode = false;
    if (!ok)
        fail_msg("handshake failed: %s", cl.why);
    assert_int_equal(discarded, 14); /* "250 injected\r\n", sent in the same segment */
    conn_puts(s.c, "250 through tls\r\n");
    conn_flush(s.c);
    buf_reset(&cl.lines);
    while (!cl.lines.len && !cl.failed)
        run_for(cl.loop, 2000);
    assert_string_equal(buf_cstr(&cl.lines), "250 through tls|");
    tls_finish(&s, &cl);
}

static void test_verify_name_needs_a_name(void **state)
{
    char *err = NULL;
    SSL_CTX *ctx = tls_client_context(NULL, NULL, "TLSv1.2", &err);
    assert_non_null(ctx);
    struct tls_client_params p = {.sni = NULL, .verify_name = NULL, .mode = TLS_VERIFY_NAME};
    assert_null(tls_client_session_new(ctx, 0, &p, &err));
    assert_non_null(strstr(err, "without a name"));
    free(err);
    err = NULL;
    assert_null(tls_client_context("/nonexistent/ca.pem", NULL, "TLSv1.2", &err));
    assert_non_null(err);
    free(err);
    tls_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_ipv4),
        cmocka_unit_test(test_connect_ipv6),
        cmocka_unit_test(test_connect_ipv6_brackets),
        cmocka_unit_test(test_connect_from_source),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_tls_verified),
        cmocka_unit_test(test_tls_wrong_name_refused),
        cmocka_unit_test(test_tls_wrong_name_reported),
        cmocka_unit_test(test_tls_untrusted_issuer_reported),
        cmocka_unit_test(test_tls_injection_discarded),
        cmocka_unit_test(test_dane_ee_matches_without_names),
        cmocka_unit_test(test_dane_ee_mismatch),
        cmocka_unit_test(test_dane_only_unusable_records),
        cmocka_unit_test(test_verify_name_needs_a_name),
    };
    return cmocka_run_group_tests(tests, make_cert_files, remove_cert_files);
}
