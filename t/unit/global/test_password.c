/* test_password.c - lib/password: new {ARGON2ID} hashes verify and are salted, wrong
 * passwords fail, known vectors from outside (the Argon2 reference test suite and
 * `openssl passwd -6`) verify, and malformed or unknown hashes give -1. */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>

#include "password.h"

/* From the Argon2 reference implementation's test suite (argon2id, t=2, m=64 MiB, p=1). */
static const char argon2_vector[] =
    "{ARGON2ID}$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
/* openssl passwd -6 -salt saltsalt 'correct horse' */
static const char sha512_vector[] =
    "{SHA512-CRYPT}$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0";

static void test_hash_and_verify(void **state)
{
    char *err = NULL;
    char *h1 = password_hash("s3cret pässword", &err);
    assert_non_null(h1);
    assert_true(strncmp(h1, "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$", 41) == 0);
    assert_int_equal(password_verify("s3cret pässword", h1), 1);
    assert_int_equal(password_verify("s3cret password", h1), 0);
    assert_int_equal(password_verify("", h1), 0);
    char *h2 = password_hash("s3cret pässword", &err);
    assert_string_not_equal(h1, h2); /* random salt */
    assert_int_equal(password_verify("s3cret pässword", h2), 1);
    char *empty = password_hash("", &err);
    assert_int_equal(password_verify("", empty), 1);
    assert_int_equal(password_verify("x", empty), 0);
    free(h1);
    free(h2);
    free(empty);
}

static void test_known_vectors(void **state)
{
    assert_int_equal(password_verify("password", argon2_vector), 1);
    assert_int_equal(password_verify("Password", argon2_vector), 0);
    assert_int_equal(password_verify("correct horse", sha512_vector), 1);
    assert_int_equal(password_verify("correct horse ", sha512_vector), 0);
    assert_int_equal(password_verify("wrong", sha512_vector), 0);
    /* the scheme name is case-insensitive, as in Dovecot */
    assert_int_equal(password_verify("correct horse", "{sha512-crypt}$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0"), 1);
}

static void test_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "plain",
        "{PLAIN}secret",
        "{MD5-CRYPT}$1$abc$def",
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "{ARGON2ID}",
        "{ARGON2ID}$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "{ARGON2ID}$argon2id$v=16$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "{ARGON2ID}$argon2id$v=19$m=99999999,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "{ARGON2ID}$argon2id$v=19$m=65536,t=0,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "{ARGON2ID}$argon2id$v=19$m=65536,t=2,p=1$c29t!XNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "{ARGON2ID}$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ",
        "{ARGON2ID}$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$C",
        "{SHA512-CRYPT}",
        "{SHA512-CRYPT}$5$saltsalt$abc",
        "{SHA512-CRYPT}$6$",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = password_verify("password", bad[i]);
        if (r != -1)
            fail_msg("\"%s\": %d, expected -1", bad[i], r);
    }
    assert_int_equal(password_verify(NULL, argon2_vector), -1);
    assert_int_equal(password_verify("x", NULL), -1);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_hash_and_verify),
               cmocka_unit_test(test_known_vectors),
               cmocka_unit_test(test_malformed))
