/* fetch.c - FETCH and UID FETCH (RFC 9051 sec 6.4.5): the macros ALL, FAST and FULL, UID,
 * FLAGS, INTERNALDATE, RFC822.SIZE, RFC822, RFC822.HEADER, RFC822.TEXT and BODY[section]<partial>
 * (with .PEEK) for the sections "", HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT and TEXT of the
 * message. Messages are stored with LF line ends and served with CRLF, so every size and
 * offset here counts CRLF (RFC822.SIZE is the index's CRLF size). A body fetch without .PEEK
 * sets \Seen (RFC 9051 sec 6.4.5) in a read-write mailbox. */
#include "imap_mailbox.h"
#include "log.h"
#include "mem.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum item_kind { I_UID, I_FLAGS, I_INTERNALDATE, I_SIZE, I_BODY };
enum section_kind { S_ALL, S_HEADER, S_FIELDS, S_FIELDS_NOT, S_TEXT };

struct item {
    enum item_kind kind;
    enum section_kind section;
    bool peek;
    bool partial;
    uint64_t start, len;
    char *fields;        /* S_FIELDS*: the field names, upper-cased, each followed by NUL */
    size_t nfields;
    const char *label;   /* how the response names it, e.g. "RFC822" or "BODY[HEADER]" */
    char *own_label;
};

struct fetch {
    struct item *items;
    size_t n;
    bool body;          /* some item needs the message */
    bool sets_seen;
};

static void add(struct fetch *f, struct item it)
{
    f->items = xreallocarray(f->items, f->n + 1, sizeof *f->items);
    f->items[f->n++] = it;
}

static void fetch_free(struct fetch *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->items[i].fields);
        free(f->items[i].own_label);
    }
    free(f->items);
}

/* "HEADER.FIELDS (A B)" and friends, between the brackets. */
static bool parse_section(const char *sec, size_t len, struct item *it)
{
    if (len == 0) {
        it->section = S_ALL;
        return true;
    }
    if (len == 6 && strncasecmp(sec, "HEADER", 6) == 0) {
        it->section = S_HEADER;
        return true;
    }
    if (len == 4 && strncasecmp(sec, "TEXT", 4) == 0) {
        it->section = S_TEXT;
        return true;
    }
    size_t kw;
    if (len > 18 && strncasecmp(sec, "HEADER.FIELDS.NOT ", 18) == 0)
        it->section = S_FIELDS_NOT, kw = 18;
    else if (len > 14 && strncasecmp(sec, "HEADER.FIELDS ", 14) == 0)
        it->section = S_FIELDS, kw = 14;
    else
        return false;
    if (sec[kw] != '(' || sec[len - 1] != ')')
        return false;
    it->fields = xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = kw + 1; i < len - 1;) {
        while (i < len - 1 && sec[i] == ' ')
            i++;
        size_t st = i;
        while (i < len - 1 && sec[i] != ' ' && sec[i] != '"')
            it->fields[o++] = (char)toupper((unsigned char)sec[i++]);
        if (i < len - 1 && sec[i] == '"')
            return false; /* quoted field names are not supported */
        if (i > st)
            it->fields[o++] = 0, it->nfields++;
    }
    return it->nfields > 0;
}

/* BODY[...]<a.b> or BODY.PEEK[...]<a.b>. */
static bool parse_body(const char *w, struct item *it)
{
    const char *open = strchr(w, '['), *close = strrchr(w, ']');
    if (!open || !close || close < open)
        return false;
    size_t head = (size_t)(open - w);
    if (head == 9 && strncasecmp(w, "BODY.PEEK", 9) == 0)
        it->peek = true;
    else if (!(head == 4 && strncasecmp(w, "BODY", 4) == 0))
        return false;
    if (!parse_section(open + 1, (size_t)(close - open - 1), it))
        return false;
    const char *p = close + 1;
    if (*p == '<') {
        char *end;
        errno = 0;
        it->start = strtoull(p + 1, &end, 10);
        if (*end != '.' || errno)
            return false;
        it->len = strtoull(end + 1, &end, 10);
        if (*end != '>' || end[1] || errno || it->len == 0)
            return false;
        it->partial = true;
    } else if (*p) {
        return false;
    }
    /* The response names it without .PEEK and with only the start of a partial. */
    it->own_label = xasprintf("BODY[%.*s]", (int)(close - open - 1), open + 1);
    it->label = it->own_label;
    return true;
}

static bool parse_att(struct fetch *f, const struct imap_arg *a)
{
    if (a->type != IMAP_ARG_ATOM)
        return false;
    const char *w = a->str;
    struct item it = {0};
    if (strcasecmp(w, "UID") == 0)
        it.kind = I_UID;
    else if (strcasecmp(w, "FLAGS") == 0)
        it.kind = I_FLAGS;
    else if (strcasecmp(w, "INTERNALDATE") == 0)
        it.kind = I_INTERNALDATE;
    else if (strcasecmp(w, "RFC822.SIZE") == 0)
        it.kind = I_SIZE;
    else if (strcasecmp(w, "RFC822") == 0)
        it = (struct item){.kind = I_BODY, .section = S_ALL, .label = "RFC822"};
    else if (strcasecmp(w, "RFC822.HEADER") == 0)
        it = (struct item){.kind = I_BODY, .section = S_HEADER, .peek = true, .label = "RFC822.HEADER"};
    else if (strcasecmp(w, "RFC822.TEXT") == 0)
        it = (struct item){.kind = I_BODY, .section = S_TEXT, .label = "RFC822.TEXT"};
    else if (strncasecmp(w, "BODY", 4) == 0 && strchr(w, '[')) {
        it.kind = I_BODY;
        if (!parse_body(w, &it)) {
            free(it.fields);
            free(it.own_label);
            return false;
        }
    } else
        return false;
    if (it.kind == I_BODY) {
        f->body = true;
        f->sets_seen |= !it.peek;
    }
    add(f, it);
    return true;
}

static bool parse_atts(struct fetch *f, const struct imap_arg *a)
{
    static const char *const fast[] = {"FLAGS", "INTERNALDATE", "RFC822.SIZE", NULL};
    if (imap_arg_atom_is(a, "ALL") || imap_arg_atom_is(a, "FAST") || imap_arg_atom_is(a, "FULL")) {
        for (const char *const *p = fast; *p; p++)
            parse_att(f, &(struct imap_arg){.type = IMAP_ARG_ATOM, .str = *p, .len = strlen(*p)});
        return true; /* ENVELOPE and BODY of ALL and FULL: not yet */
    }
    if (a->type != IMAP_ARG_LIST)
        return parse_att(f, a);
    for (size_t i = 0; i < a->n; i++)
        if (!parse_att(f, &a->list[i]))
            return false;
    return a->n > 0;
}

/* --- the message --- */

/* The message with CRLF line ends, and where its body starts. */
struct msg {
    struct buf crlf;
    size_t body;
};

static int load(struct imap_session *s, uint32_t uid, struct msg *m, char **err)
{
    struct mailbox_msg mm;
    int r = mailbox_lookup(s->mu, s->view->name, uid, &mm, err);
    if (r <= 0)
        return r < 0 ? -1 : 0;
    int fd = mailbox_open_message(s->mu, s->view->name, &mm, err);
    mailbox_msg_free(&mm);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    char tmp[65536];
    ssize_t n;
    char prev = 0;
    m->body = SIZE_MAX;
    while ((n = read(fd, tmp, sizeof tmp)) > 0)
        for (ssize_t i = 0; i < n; i++) {
            if (tmp[i] == '\n' && prev != '\r')
                buf_putc(&m->crlf, '\r');
            buf_putc(&m->crlf, tmp[i]);
            prev = tmp[i];
            if (m->body == SIZE_MAX && m->crlf.len >= 4 &&
                memcmp(m->crlf.data + m->crlf.len - 4, "\r\n\r\n", 4) == 0)
                m->body = m->crlf.len;
        }
    close(fd);
    if (n < 0) {
        *err = xasprintf("read: %s", strerror(errno));
        return -1;
    }
    if (m->body == SIZE_MAX)
        m->body = m->crlf.len;
    return 1;
}

static bool field_wanted(const struct item *it, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    if (!colon)
        return it->section == S_FIELDS_NOT;
    size_t nlen = (size_t)(colon - line);
    while (nlen > 0 && (line[nlen - 1] == ' ' || line[nlen - 1] == '\t'))
        nlen--;
    bool listed = false;
    const char *f = it->fields;
    for (size_t k = 0; k < it->nfields && !listed; k++, f += strlen(f) + 1)
        listed = strlen(f) == nlen && strncasecmp(f, line, nlen) == 0;
    return it->section == S_FIELDS ? listed : !listed;
}

/* The header fields named (or not named) by it, each with its continuation lines, then the
 * empty line (RFC 9051 sec 6.4.5: HEADER.FIELDS includes the blank line). */
static void header_fields(const struct msg *m, const struct item *it, struct buf *out)
{
    const char *h = m->crlf.data ? m->crlf.data : "";
    size_t end = m->body >= 2 ? m->body - 2 : 0, i = 0;
    bool keep = false;
    while (i < end) {
        const char *nl = memchr(h + i, '\n', end - i);
        size_t next = nl ? (size_t)(nl - h) + 1 : end;
        if (h[i] != ' ' && h[i] != '\t')
            keep = field_wanted(it, h + i, next - i);
        if (keep)
            buf_append(out, h + i, next - i);
        i = next;
    }
    buf_puts(out, "\r\n");
}

static void section(const struct msg *m, const struct item *it, struct buf *out)
{
    const char *d = m->crlf.data ? m->crlf.data : "";
    switch (it->section) {
    case S_ALL: buf_append(out, d, m->crlf.len); break;
    case S_HEADER: buf_append(out, d, m->body); break;
    case S_TEXT: buf_append(out, d + m->body, m->crlf.len - m->body); break;
    case S_FIELDS:
    case S_FIELDS_NOT: header_fields(m, it, out); break;
    }
}

static void internaldate(struct buf *out, time_t t)
{
    char date[64];
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(date, sizeof date, "%d-%b-%Y %H:%M:%S %z", &tm);
    buf_printf(out, "\"%s\"", date);
}

static void write_item(struct imap_session *s, const struct item *it, const struct view_msg *vm,
                       const struct msg *m, struct buf *out)
{
    if (it->kind == I_UID)
        buf_printf(out, "UID %u", vm->uid);
    else if (it->kind == I_FLAGS) {
        buf_puts(out, "FLAGS ");
        view_write_flags(s->view, out, vm);
    } else if (it->kind == I_INTERNALDATE) {
        buf_puts(out, "INTERNALDATE ");
        internaldate(out, (time_t)vm->internaldate);
    } else if (it->kind == I_SIZE) {
        buf_printf(out, "RFC822.SIZE %llu", (unsigned long long)vm->vsize);
    } else {
        struct buf data = BUF_INIT;
        section(m, it, &data);
        size_t from = it->partial ? (it->start < data.len ? (size_t)it->start : data.len) : 0;
        size_t len = data.len - from;
        if (it->partial && it->len < len)
            len = (size_t)it->len;
        if (it->partial)
            buf_printf(out, "%s<%llu> {%zu}\r\n", it->label, (unsigned long long)it->start, len);
        else
            buf_printf(out, "%s {%zu}\r\n", it->label, len);
        buf_append(out, data.data ? data.data + from : "", len);
        s->fetched_bytes += len;
        buf_free(&data);
    }
}

/* One message's FETCH response. */
static int fetch_one(struct imap_session *s, const struct fetch *f, size_t i, bool uid)
{
    struct view_msg *vm = &s->view->msgs[i];
    struct msg m = {0};
    char *err = NULL;
    /* Flags, UID, size and date come from the view: a message another session expunged
     * meanwhile still answers them (RFC 9051 sec 7.5.1); only body items read the file. */
    int r = f->body ? load(s, vm->uid, &m, &err) : 1;
    if (r <= 0) {
        if (r < 0)
            log_warn("%s: %s: FETCH UID %u: %s, session=<%s>", s->user, s->view->name, vm->uid,
                     err ? err : "?", s->id);
        free(err);
        buf_free(&m.crlf);
        return r;
    }
    bool seen_now = f->sets_seen && !s->view->readonly && !(vm->flags & MS_FLAG_SEEN);
    if (seen_now) {
        uint64_t modseq;
        uint32_t flags;
        uint64_t keywords;
        if (mailbox_store(s->mu, s->view->name, vm->uid, MS_STORE_ADD, MS_FLAG_SEEN, 0, 0, &modseq,
                          &flags, &keywords, &err) == MS_STORE_CHANGED)
            vm->flags = flags, vm->keywords = keywords, vm->modseq = modseq;
        free(err);
    }
    struct buf out = BUF_INIT;
    buf_printf(&out, "* %zu FETCH (", i + 1);
    bool first = true, has_uid = false, has_flags = false;
    for (size_t k = 0; k < f->n; k++) {
        if (!first)
            buf_putc(&out, ' ');
        first = false;
        write_item(s, &f->items[k], vm, &m, &out);
        has_uid |= f->items[k].kind == I_UID;
        has_flags |= f->items[k].kind == I_FLAGS;
    }
    if (uid && !has_uid) /* RFC 9051 sec 6.4.9: UID FETCH responses include the UID */
        buf_printf(&out, " UID %u", vm->uid);
    if (seen_now && !has_flags) {
        buf_puts(&out, " FLAGS ");
        view_write_flags(s->view, &out, vm);
    }
    buf_puts(&out, ")\r\n");
    conn_write(s->conn, out.data, out.len);
    buf_free(&out);
    buf_free(&m.crlf);
    s->fetches++;
    return 1;
}

struct fetch_job {
    struct fetch f;
    bool uid;
    size_t *pos, n, next;
    unsigned failed, gone;
    char tag[IMAP_TAG_MAX + 1];
    char name[32];
};

static void job_free(struct fetch_job *j)
{
    fetch_free(&j->f);
    free(j->pos);
    free(j);
}

bool fetch_more(struct imap_session *s)
{
    struct fetch_job *j = s->fetching;
    if (!j)
        return true;
    while (j->next < j->n) {
        /* Enough waiting: send it; what the socket does not take now is sent when it can,
         * and the drained callback brings us back here. */
        if (conn_out_pending(s->conn) >= FETCH_OUT_HIGH && !conn_flush(s->conn))
            return false;
        int r = fetch_one(s, &j->f, j->pos[j->next++], j->uid);
        j->failed += r < 0;
        j->gone += r == 0;
    }
    s->fetching = NULL;
    snprintf(s->tag, sizeof s->tag, "%s", j->tag);
    if (j->failed)
        imap_no(s, "[SERVERBUG] %u messages could not be read.", j->failed);
    else if (j->gone) /* RFC 9051 sec 6.4.5: expunged by another session meanwhile */
        imap_no(s, "[EXPUNGEISSUED] Some messages were expunged meanwhile.");
    else
        imap_ok(s, "%s completed.", j->name);
    job_free(j);
    return true;
}

void fetch_abort(struct imap_session *s)
{
    if (s->fetching) {
        job_free(s->fetching);
        s->fetching = NULL;
    }
}

void cmd_fetch(struct imap_session *s, struct imap_command *cmd, bool uid)
{
    struct fetch_job *j = xcalloc(1, sizeof *j);
    struct imap_seqset set;
    if (cmd->nargs != 2 || cmd->args[0].type != IMAP_ARG_ATOM || !parse_atts(&j->f, &cmd->args[1]) ||
        !imap_seqset_parse(cmd->args[0].str, 100000, &set)) {
        job_free(j);
        imap_bad(s, "Syntax: FETCH sequence-set (items) (or an item not supported yet).");
        return;
    }
    view_sync(s, uid);
    j->uid = uid;
    j->pos = view_resolve(s, &set, uid, &j->n);
    imap_seqset_free(&set);
    snprintf(j->tag, sizeof j->tag, "%s", s->tag);
    snprintf(j->name, sizeof j->name, "%s", cmd->name);
    s->fetching = j;
    fetch_more(s);
}
