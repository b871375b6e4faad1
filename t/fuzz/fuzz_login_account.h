/* fuzz_login_account.h - what the targets that log a user in (fuzz_pop3_login,
 * fuzz_imap_login, fuzz_submission) share: the one account, alice@example.test with the
 * password "secret" under a cheap Argon2id hash (the fuzzer is not slowed down by it; unknown
 * names still cost the dummy hash), the check that the client sent that password before a
 * login succeeded, and the shape of a session id. */
#ifndef POSTHORN_FUZZ_LOGIN_ACCOUNT_H
#define POSTHORN_FUZZ_LOGIN_ACCOUNT_H
#include "accounts.h"
#include "base64.h"
#include "buf.h"
#include "fuzz_daemon.h"
#include <argon2.h>
#include <stdint.h>
#include <string.h>

static inline void fuzz_add_alice(struct config *cfg)
{
    static const uint8_t salt[16] = "posthorn-fuzzing";
    char enc[200] = "{ARGON2ID}";
    must(argon2id_hash_encoded(1, 8, 1, "secret", 6, salt, sizeof salt, 32, enc + 10,
                               sizeof enc - 10) == ARGON2_OK);
    char *err = NULL;
    struct accounts *a = accounts_open(cfg, true, &err);
    struct account_user u = {"alice@example.test", enc, -1};
    must(a && accounts_domain_add(a, "example.test", &err) == 0 &&
         accounts_user_put(a, &u, &err) == 0);
    accounts_close(a);
}

static inline bool fuzz_session_id_ok(const char *id)
{
    return id && *id && strlen(id) < 24 &&
           strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == strlen(id);
}

static inline bool fuzz_b64_char(uint8_t ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '+' || ch == '/' || ch == '=';
}

/* The client sent the password: "secret" itself (USER/PASS, IMAP LOGIN: no escape can make
 * those bytes) or a base64 token that decodes to it (LOGIN) or ends in NUL "secret" (PLAIN).
 * A login decodes a whole argument or continuation line, so its token is a maximal run of
 * base64 characters in the input. */
static inline bool fuzz_password_sent(const uint8_t *input, size_t input_len)
{
    if (memmem(input, input_len, "secret", 6))
        return true;
    for (size_t i = 0; i < input_len;) {
        size_t n = 0;
        while (i + n < input_len && fuzz_b64_char(input[i + n]))
            n++;
        struct buf b = BUF_INIT;
        bool hit = n && base64_decode((const char *)input + i, n, &b) &&
                   ((b.len == 6 && !memcmp(b.data, "secret", 6)) ||
                    (b.len >= 7 && !memcmp(b.data + b.len - 7, "\0secret", 7)));
        buf_free(&b);
        if (hit)
            return true;
        i += n + 1;
    }
    return false;
}

#endif
