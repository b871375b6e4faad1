/* dns_decode.h - the part of lib/io/dns that turns one libunbound answer into a struct
 * dns_result (status, DNSSEC flag, decoded and checked records; for MX the preference
 * order and the null MX), separate from the asynchronous machinery so the decoder can be
 * fuzzed with made-up answers (t/fuzz/fuzz_dns_answer.c). Pure: no I/O, no logging. */
#ifndef POSTHORN_DNS_DECODE_H
#define POSTHORN_DNS_DECODE_H
#include "dns.h"
#include <unbound.h>

/* Fill res (zeroed by the caller) from libunbound's answer r (err: libunbound's error code,
 * r may be NULL when err != 0). Malformed records are dropped. res->status says the
 * outcome; an MX answer with no records is DNS_NODATA (the caller then looks for an
 * implicit MX). */
void dns_decode(enum dns_type type, int err, const struct ub_result *r, struct dns_result *res);
/* Free the records of res. */
void dns_result_release(struct dns_result *res);

#endif
