/* imap_parse.h - IMAP command syntax shared by imapd's login and mailbox parts (RFC 3501
 * sec 9, RFC 9051 sec 9): assembling a command from its lines and literals, tokenising it
 * into a tree of arguments, and sequence sets. Nothing here does I/O or logs; every input
 * is untrusted (t/fuzz/fuzz_imap_parse.c).
 *
 * A command arrives as a line that may end in a literal announcement, "{N}" (synchronising:
 * the server answers "+ " before the client sends the N bytes), "{N+}" (LITERAL+, RFC 7888)
 * or "~{N}" (a literal8, RFC 3516), then N raw bytes, then more of the line, and so on. The
 * daemon keeps the whole command in one buffer exactly as received (line ends included);
 * imap_literal_announced() tells it, after each line, whether a literal follows and how big.
 * imap_tokenize() then splits the complete command: it trusts the literal sizes in the
 * buffer only as far as the buffer goes (a short buffer is a syntax error, never an
 * overread). */
#ifndef POSTHORN_IMAP_PARSE_H
#define POSTHORN_IMAP_PARSE_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_TAG_MAX 64
#define IMAP_LIST_DEPTH_MAX 32     /* nested parenthesised lists */
#define IMAP_ARGS_MAX 100000       /* arguments in one command, lists' members included */

/* The literal announced at the end of a command line (without its line end). */
struct imap_literal {
    uint64_t size;
    bool nonsync;  /* {N+} */
    bool binary;   /* ~{N} */
};
/* 1 with *lit when line ends in a literal announcement, 0 when it does not, -1 when it
 * ends in something that looks like one but is malformed (too many digits, "{}"). */
int imap_literal_announced(const char *line, size_t len, struct imap_literal *lit);

enum imap_arg_type {
    IMAP_ARG_ATOM,    /* also numbers, sequence sets, flags (\Seen), fetch atts (BODY[1]<0.5>) */
    IMAP_ARG_QUOTED,
    IMAP_ARG_LITERAL,
    IMAP_ARG_NIL,     /* the atom NIL, any case */
    IMAP_ARG_LIST,
};

struct imap_arg {
    enum imap_arg_type type;
    bool literal8;         /* a ~{N} literal */
    const char *str;       /* ATOM, QUOTED (unescaped), LITERAL: bytes, NUL-terminated */
    size_t len;            /* may hold NUL bytes only for LITERAL */
    struct imap_arg *list; /* LIST: its members */
    size_t n;
};

struct imap_command {
    char tag[IMAP_TAG_MAX + 1];
    char name[32];         /* upper-cased; "UID FETCH" style for UID commands */
    struct imap_arg *args; /* after the name (after "UID NAME" for UID commands) */
    size_t nargs;
    /* private: storage */
    char *strings;
};

enum imap_parse_result {
    IMAP_PARSE_OK,
    IMAP_PARSE_NO_TAG,  /* no usable tag: answer untagged "* BAD" */
    IMAP_PARSE_BAD      /* tagged BAD with *err */
};

/* Tokenise one complete command (len bytes, the final line end excluded or included).
 * On IMAP_PARSE_BAD the tag is set when one was read. Free with imap_command_free (also
 * after an error). */
enum imap_parse_result imap_tokenize(const char *data, size_t len, struct imap_command *cmd,
                                     const char **err);
void imap_command_free(struct imap_command *cmd);

/* --- argument helpers --- */
/* An astring (atom, quoted or literal) or a string: false otherwise. */
bool imap_arg_is_astring(const struct imap_arg *a);
bool imap_arg_is_string(const struct imap_arg *a);
/* An atom equal to word, ASCII case-insensitive. */
bool imap_arg_atom_is(const struct imap_arg *a, const char *word);
/* A number (RFC 3501 "number": up to 2^32-1; nz: not zero). */
bool imap_arg_number(const struct imap_arg *a, uint32_t *out, bool nz);
/* A 63-bit number (RFC 7162 mod-sequence-value). */
bool imap_arg_number64(const struct imap_arg *a, uint64_t *out);

/* --- sequence sets (RFC 9051 sec 9 "sequence-set") --- */
#define IMAP_SEQ_STAR 0 /* no sequence number or UID is 0 */
struct imap_range {
    uint32_t lo, hi; /* as parsed lo <= hi unless one is IMAP_SEQ_STAR ("*"); resolved: lo <= hi */
};
struct imap_seqset {
    struct imap_range *r;
    size_t n;
    bool last_result; /* "$": the saved SEARCHRES result (RFC 5182) */
};
/* Parse an atom as a sequence set; false on syntax error. Ranges are as written (a:b with
 * a > b is turned round, "*" kept as IMAP_SEQ_STAR); max_ranges bounds the work. */
bool imap_seqset_parse(const char *s, size_t max_ranges, struct imap_seqset *set);
void imap_seqset_free(struct imap_seqset *set);
/* Resolve "*" to star (the largest number or UID in use; 0 for an empty mailbox), sort,
 * merge overlapping ranges. */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t star);
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t v);
/* Append n ascending numbers as a sequence set, runs joined ("1:3,7"): ESEARCH ALL, COPYUID. */
void imap_seqset_write(struct buf *out, const uint32_t *v, size_t n);

/* --- resolved sets as values (lib/proto/imap_seqset.c; CONDSTORE/QRESYNC, RFC 7162) ---
 * A resolved set: sorted, disjoint, non-adjacent ranges without "*". */
/* Add lo..hi (lo <= hi) after the set's last range, merging with it when they touch or
 * overlap; ranges must be added in ascending order. */
void imap_seqset_add(struct imap_seqset *set, uint32_t lo, uint32_t hi);
/* *out (empty on entry) = a and b; a minus b. */
void imap_seqset_intersect(const struct imap_seqset *a, const struct imap_seqset *b,
                           struct imap_seqset *out);
void imap_seqset_subtract(const struct imap_seqset *a, const struct imap_seqset *b,
                          struct imap_seqset *out);
/* How many numbers a resolved set holds. */
uint64_t imap_seqset_count(const struct imap_seqset *set);
/* Write a resolved set ("1:3,7"); nothing for an empty one. */
void imap_seqset_write_set(struct buf *out, const struct imap_seqset *set);

/* --- quoting for replies --- */
/* True when s (len bytes) can go out as a quoted string (no CR, LF, NUL; 8-bit only when
 * utf8 is allowed, RFC 9051 / RFC 6855). */
bool imap_quotable(const char *s, size_t len, bool utf8);

#endif
