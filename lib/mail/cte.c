/* cte.c - streaming Content-Transfer-Encoding decoders (see cte.h). Quoted-printable is a
 * small state machine over single bytes; base64 an accumulator of 6-bit groups. */
#include "cte.h"
#include <string.h>
#include <strings.h>

enum qp_state {
    QP_TEXT,   /* ordinary text (white space may be held back) */
    QP_CR,     /* a CR that may start a line end */
    QP_EQ,     /* '=' */
    QP_EQ_HEX, /* '=' and one hex digit */
    QP_EQ_WS,  /* '=' and white space: a soft line break if a line end follows */
    QP_EQ_CR,  /* '=', maybe white space, and CR */
};

enum cte cte_from_name(const char *name)
{
    if (!name || strcasecmp(name, "7bit") == 0 || strcasecmp(name, "8bit") == 0 ||
        strcasecmp(name, "binary") == 0)
        return CTE_IDENTITY;
    if (strcasecmp(name, "base64") == 0)
        return CTE_BASE64;
    if (strcasecmp(name, "quoted-printable") == 0)
        return CTE_QP;
    return CTE_UNKNOWN;
}

void cte_decoder_init(struct cte_decoder *d, enum cte kind)
{
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->state = QP_TEXT;
}

/* ---- base64 ---- */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return c == '=' ? -2 : -1;
}

static void b64_decode(struct cte_decoder *d, const char *in, size_t len, struct buf *out)
{
    buf_reserve(out, len);
    char *o = out->data + out->len;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v == -2) {
            d->bits = 0;
            d->nbits = 0;
            continue;
        }
        if (v < 0)
            continue;
        d->bits = (d->bits << 6) | (uint32_t)v;
        d->nbits += 6;
        if (d->nbits >= 8) {
            d->nbits -= 8;
            *o++ = (char)(d->bits >> d->nbits);
            d->bits &= (1u << d->nbits) - 1;
        }
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
}

/* ---- quoted-printable ---- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void flush_ws(struct cte_decoder *d, struct buf *out)
{
    buf_append(out, d->ws, d->nws);
    d->nws = 0;
}

static void hold_ws(struct cte_decoder *d, char c, struct buf *out)
{
    if (d->nws == CTE_QP_WS_MAX)
        flush_ws(d, out);
    d->ws[d->nws++] = c;
}

static void qp_byte(struct cte_decoder *d, char c, struct buf *out);

/* A '=' that started no valid sequence: it and what it held back are text; then the
 * byte c is read again as text. */
static void qp_invalid(struct cte_decoder *d, char c, struct buf *out)
{
    int state = d->state;
    buf_putc(out, '=');
    if (state == QP_EQ_HEX)
        buf_putc(out, d->hex);
    flush_ws(d, out);
    d->state = QP_TEXT;
    if (state == QP_EQ_CR)
        qp_byte(d, '\r', out);
    qp_byte(d, c, out);
}

static void qp_text(struct cte_decoder *d, char c, struct buf *out)
{
    if (c == ' ' || c == '\t') {
        hold_ws(d, c, out);
    } else if (c == '\r') {
        d->state = QP_CR;
    } else if (c == '\n') {
        d->nws = 0; /* trailing white space */
        buf_putc(out, '\n');
    } else {
        flush_ws(d, out);
        if (c == '=')
            d->state = QP_EQ;
        else
            buf_putc(out, c);
    }
}

static void qp_byte(struct cte_decoder *d, char c, struct buf *out)
{
    switch (d->state) {
    case QP_TEXT:
        qp_text(d, c, out);
        break;
    case QP_CR:
        d->state = QP_TEXT;
        if (c == '\n') {
            d->nws = 0;
            buf_append(out, "\r\n", 2);
        } else {
            flush_ws(d, out);
            buf_putc(out, '\r');
            qp_text(d, c, out);
        }
        break;
    case QP_EQ:
    case QP_EQ_WS:
        if (c == ' ' || c == '\t') {
            if (d->nws == CTE_QP_WS_MAX)
                qp_invalid(d, c, out);
            else
                d->ws[d->nws++] = c, d->state = QP_EQ_WS;
        } else if (c == '\r') {
            d->state = QP_EQ_CR;
        } else if (c == '\n') {
            d->nws = 0, d->state = QP_TEXT; /* soft line break */
        } else if (d->state == QP_EQ && hex_value(c) >= 0) {
            d->hex = c, d->state = QP_EQ_HEX;
        } else {
            qp_invalid(d, c, out);
        }
        break;
    case QP_EQ_HEX:
        if (hex_value(c) >= 0) {
            buf_putc(out, (char)(hex_value(d->hex) * 16 + hex_value(c)));
            d->state = QP_TEXT;
        } else {
            qp_invalid(d, c, out);
        }
        break;
    case QP_EQ_CR:
        if (c == '\n')
            d->nws = 0, d->state = QP_TEXT;
        else
            qp_invalid(d, c, out);
        break;
    }
}

static void qp_finish(struct cte_decoder *d, struct buf *out)
{
    switch (d->state) {
    case QP_CR:
        flush_ws(d, out);
        buf_putc(out, '\r');
        break;
    case QP_EQ_HEX:
        buf_putc(out, '=');
        buf_putc(out, d->hex);
        break;
    default: /* trailing white space, or a soft break at the very end */
        break;
    }
}

/* ---- API ---- */

void cte_decode(struct cte_decoder *d, const char *in, size_t len, struct buf *out)
{
    if (d->kind == CTE_BASE64) {
        b64_decode(d, in, len, out);
    } else if (d->kind == CTE_QP) {
        buf_reserve(out, len);
        for (size_t i = 0; i < len; i++)
            qp_byte(d, in[i], out);
    } else {
        buf_append(out, in, len);
    }
}

void cte_decode_finish(struct cte_decoder *d, struct buf *out)
{
    if (d->kind == CTE_QP)
        qp_finish(d, out);
    buf_cstr(out);
    cte_decoder_init(d, d->kind);
}
