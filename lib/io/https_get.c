/* https_get.c - HTTPS GETs with libcurl's multi interface on the event loop (see
 * https_get.h). libcurl tells through two callbacks what to watch: the socket callback
 * (descriptors and the directions wanted) becomes event_add/event_del on the loop, the
 * timer callback one loop timer; when either fires, curl_multi_socket_action() does the
 * work without blocking and finished transfers are collected with curl_multi_info_read(). */
#include "https_get.h"
#include "buf.h"
#include "list.h"
#include "mem.h"
#include <curl/curl.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct https {
    struct event_loop *loop;
    CURLM *multi;
    unsigned long timer;
    DLIST_HEAD(struct https_get) gets; /* pending */
};

struct https_get {
    struct https *h;
    struct https_get *prev, *next;
    CURL *easy;
    struct curl_slist *resolve;
    X509_STORE *trust;
    struct buf body;
    size_t max_size;
    bool too_big, delivering, linked;
    char *media_type;
    https_fn cb;
    void *ctx;
    char errbuf[CURL_ERROR_SIZE];
};

int https_global_init(char **err)
{
    CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (c != CURLE_OK) {
        *err = xasprintf("libcurl: %s", curl_easy_strerror(c));
        return -1;
    }
    return 0;
}

/* --- the loop side --- */

static void collect(struct https *h);

static void on_socket(struct event_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct https *h = ctx;
    int flags = 0, running;
    if (events & EPOLLIN)
        flags |= CURL_CSELECT_IN;
    if (events & EPOLLOUT)
        flags |= CURL_CSELECT_OUT;
    if (events & (EPOLLERR | EPOLLHUP))
        flags |= CURL_CSELECT_ERR;
    (void)curl_multi_socket_action(h->multi, fd, flags, &running);
    collect(h);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct https *h = userp;
    event_del(h->loop, s); /* then register anew with the directions now wanted */
    if (what == CURL_POLL_REMOVE)
        return 0;
    uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    return event_add(h->loop, s, ev, on_socket, h) == 0 ? 0 : -1;
}

static void on_timer(struct event_loop *loop, void *ctx)
{
    struct https *h = ctx;
    int running;
    h->timer = 0;
    (void)curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect(h);
}

/* libcurl's one timer; it must not be acted on from inside this callback: a timer of 0 ms
 * fires from the loop. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct https *h = userp;
    if (h->timer)
        event_timer_cancel(h->loop, h->timer);
    h->timer = timeout_ms >= 0 ? event_timer(h->loop, timeout_ms, on_timer, h) : 0;
    return 0;
}

struct https *https_new(struct event_loop *loop, char **err)
{
    struct https *h = xcalloc(1, sizeof *h);
    h->loop = loop;
    h->multi = curl_multi_init();
    if (!h->multi) {
        *err = xstrdup("libcurl: cannot create a multi handle");
        free(h);
        return NULL;
    }
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return h;
}

struct event_loop *https_loop(const struct https *h) { return h->loop; }

/* --- one fetch --- */

static void get_free(struct https_get *g)
{
    struct https *h = g->h;
    if (g->linked)
        DLIST_REMOVE(&h->gets, g);
    if (g->easy) {
        curl_multi_remove_handle(h->multi, g->easy);
        curl_easy_cleanup(g->easy);
    }
    curl_slist_free_all(g->resolve);
    if (g->trust)
        X509_STORE_free(g->trust);
    buf_free(&g->body);
    free(g->media_type);
    free(g);
}

void https_cancel(struct https_get *g)
{
    if (g && !g->delivering)
        get_free(g);
}

void https_free(struct https *h)
{
    if (!h)
        return;
    while (!DLIST_EMPTY(&h->gets))
        get_free(DLIST_FIRST(&h->gets));
    if (h->timer)
        event_timer_cancel(h->loop, h->timer);
    curl_multi_cleanup(h->multi);
    free(h);
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    struct https_get *g = userp;
    size_t len = size * n;
    if (g->body.len + len > g->max_size) {
        g->too_big = true;
        return 0; /* libcurl aborts the transfer */
    }
    buf_append(&g->body, data, len);
    return len;
}

/* The trust anchors are the caller's store, not libcurl's default bundle. */
static CURLcode on_ssl_ctx(CURL *easy, void *sslctx, void *userp)
{
    struct https_get *g = userp;
    SSL_CTX_set1_cert_store(sslctx, g->trust);
    return CURLE_OK;
}

static bool media_type_is(const char *ct, const char *want)
{
    if (!ct)
        return false;
    size_t n = strcspn(ct, "; \t");
    return strlen(want) == n && strncasecmp(ct, want, n) == 0;
}

/* The outcome of a finished transfer into r. */
static void judge(struct https_get *g, CURLcode code, struct https_result *r)
{
    char *ct = NULL, *location = NULL;
    curl_easy_getinfo(g->easy, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(g->easy, CURLINFO_CONTENT_TYPE, &ct);
    curl_easy_getinfo(g->easy, CURLINFO_REDIRECT_URL, &location);
    r->body = buf_cstr(&g->body);
    r->len = g->body.len;
    if (g->too_big || code == CURLE_FILESIZE_EXCEEDED)
        snprintf(r->error, sizeof r->error, "response larger than %zu bytes", g->max_size);
    else if (code != CURLE_OK)
        snprintf(r->error, sizeof r->error, "%s", g->errbuf[0] ? g->errbuf : curl_easy_strerror(code));
    else if (r->status >= 300 && r->status < 400)
        snprintf(r->error, sizeof r->error, "HTTP status %ld: redirect%s%.200s refused", r->status,
                 location ? " to " : "", location ? location : "");
    else if (r->status != 200)
        snprintf(r->error, sizeof r->error, "HTTP status %ld", r->status);
    else if (g->media_type && !media_type_is(ct, g->media_type))
        snprintf(r->error, sizeof r->error, "Content-Type \"%.100s\" is not %s", ct ? ct : "",
                 g->media_type);
    else
        r->ok = true;
}

static void collect(struct https *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct https_get *g = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&g);
        if (!g)
            continue;
        struct https_result r = {0};
        judge(g, m->data.result, &r);
        g->delivering = true;
        g->cb(&r, g->ctx);
        get_free(g);
    }
}

/* "host:443:addr1,[v6addr],..." so libcurl connects where we say and resolves nothing. */
static struct curl_slist *pinned(const struct https_get_params *p)
{
    struct buf b = BUF_INIT;
    buf_printf(&b, "%s:443:", p->host);
    for (size_t i = 0; i < p->naddrs; i++)
        buf_printf(&b, strchr(p->addrs[i], ':') ? "%s[%s]" : "%s%s", i ? "," : "", p->addrs[i]);
    struct curl_slist *l = curl_slist_append(NULL, buf_cstr(&b));
    buf_free(&b);
    return l;
}

static bool configure(struct https_get *g, const struct https_get_params *p, const char *url)
{
    CURL *e = g->easy;
    bool ok = true;
#define SET(opt, val) ok = ok && curl_easy_setopt(e, opt, val) == CURLE_OK
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PRIVATE, g);
    SET(CURLOPT_ERRORBUFFER, g->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);         /* RFC 8461 sec 3.3: no redirects */
    SET(CURLOPT_PROXY, "");                  /* never a proxy from the environment */
    SET(CURLOPT_RESOLVE, g->resolve);
    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_TIMEOUT_MS, p->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, p->timeout_ms);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)p->max_size);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, g);
    SET(CURLOPT_FORBID_REUSE, 1L);
    SET(CURLOPT_FRESH_CONNECT, 1L);
    SET(CURLOPT_USERAGENT, "Posthorn/" POSTHORN_VERSION);
    if (g->trust) {
        SET(CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
        SET(CURLOPT_SSL_CTX_DATA, g);
    }
#undef SET
    return ok;
}

struct https_get *https_get(struct https *h, const struct https_get_params *p, https_fn cb,
                            void *ctx, char **err)
{
    if (p->naddrs == 0 || strpbrk(p->host, ":/@[] \t\r\n") || p->path[0] != '/') {
        *err = xasprintf("https fetch: unusable host \"%.255s\", path or no address", p->host);
        return NULL;
    }
    struct https_get *g = xcalloc(1, sizeof *g);
    g->h = h;
    g->cb = cb;
    g->ctx = ctx;
    g->max_size = p->max_size;
    g->media_type = p->media_type ? xstrdup(p->media_type) : NULL;
    if (p->trust && X509_STORE_up_ref(p->trust))
        g->trust = p->trust;
    g->resolve = pinned(p);
    g->easy = curl_easy_init();
    char *url = xasprintf("https://%s%s", p->host, p->path);
    bool ok = g->easy && configure(g, p, url) && curl_multi_add_handle(h->multi, g->easy) == CURLM_OK;
    free(url);
    if (!ok) {
        *err = xstrdup("https fetch: libcurl refused the request");
        if (g->easy)
            curl_easy_cleanup(g->easy);
        g->easy = NULL;
        get_free(g);
        return NULL;
    }
    DLIST_INSERT_HEAD(&h->gets, g);
    g->linked = true;
    return g;
}
