/* test_fdpass.c - lib/io/fdpass and lib/io/peercred on socketpairs: a passed descriptor
 * arrives and is the same open file (device and inode agree); a message with no
 * descriptor or with two is refused and the extra ones are closed (the number of open
 * descriptors does not grow); a descriptor sent with a second message while one is held
 * counts as extra; the peer credentials of a socketpair are our own pid and uid; the trust
 * rule accepts root, ourselves and the allowed uids only. */
#include "unit_test.h"
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdpass.h"
#include "peercred.h"

static void pair(int sv[2]) { assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0); }

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Send "msg" with two descriptors in one SCM_RIGHTS record, as a hostile peer would. */
static void send_two(int sock, int a, int b)
{
    struct iovec iov = {(void *)"msg", 3};
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } cm;
    memset(&cm, 0, sizeof cm);
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
                        .msg_controllen = sizeof cm.buf};
    struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(2 * sizeof(int));
    int fds[2] = {a, b};
    memcpy(CMSG_DATA(h), fds, sizeof fds);
    assert_int_equal(sendmsg(sock, &mh, 0), 3);
}

static void test_descriptor_arrives_as_the_same_file(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    int file = open("/proc/self/exe", O_RDONLY);
    assert_true(file >= 0);
    assert_int_equal(fdpass_send(sv[0], "hello", 5, file, 0), 5);
    char buf[16];
    int got = -1;
    bool extra = false;
    assert_int_equal(fdpass_recv(sv[1], buf, sizeof buf, 0, &got, &extra), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_null(fdpass_check_one(got, extra));
    assert_true(got >= 0 && got != file);
    struct stat s1, s2;
    assert_int_equal(fstat(file, &s1), 0);
    assert_int_equal(fstat(got, &s2), 0);
    assert_true(s1.st_dev == s2.st_dev && s1.st_ino == s2.st_ino);
    assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
    close(got);
    close(file);
    close(sv[0]);
    close(sv[1]);
}

static void test_no_descriptor_is_refused(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    assert_int_equal(fdpass_send(sv[0], "plain", 5, -1, 0), 5);
    char buf[16];
    int got = -1;
    bool extra = false;
    assert_int_equal(fdpass_recv(sv[1], buf, sizeof buf, 0, &got, &extra), 5);
    assert_int_equal(got, -1);
    assert_false(extra);
    assert_non_null(fdpass_check_one(got, extra));
    close(sv[0]);
    close(sv[1]);
}

static void test_two_descriptors_are_refused_and_closed(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    int a = open("/dev/null", O_RDONLY), b = open("/proc/self/exe", O_RDONLY);
    int before = open_fds();
    send_two(sv[0], a, b);
    char buf[16];
    int got = -1;
    bool extra = false;
    assert_int_equal(fdpass_recv(sv[1], buf, sizeof buf, 0, &got, &extra), 3);
    assert_true(extra);
    assert_int_equal(got, -1);
    assert_non_null(fdpass_check_one(got, extra));
    assert_int_equal(open_fds(), before); /* both received copies were closed */
    close(a);
    close(b);
    close(sv[0]);
    close(sv[1]);
}

static void test_second_descriptor_of_a_message_is_extra(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    int file = open("/dev/null", O_RDONLY);
    assert_int_equal(fdpass_send(sv[0], "a", 1, file, 0), 1);
    char buf[16];
    int got = -1;
    bool extra = false;
    assert_int_equal(fdpass_recv(sv[1], buf, sizeof buf, 0, &got, &extra), 1);
    int held = got;
    int before = open_fds();
    assert_int_equal(fdpass_send(sv[0], "b", 1, file, 0), 1);
    assert_int_equal(fdpass_recv(sv[1], buf, sizeof buf, 0, &got, &extra), 1);
    assert_int_equal(got, held); /* the first stays, the second was closed */
    assert_true(extra);
    assert_int_equal(open_fds(), before);
    assert_non_null(fdpass_check_one(got, extra));
    close(held);
    close(file);
    close(sv[0]);
    close(sv[1]);
}

static void test_peer_credentials_are_ours(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    struct peercred c;
    assert_int_equal(peercred_get(sv[1], &c), 0);
    assert_int_equal(c.pid, getpid());
    assert_int_equal(c.uid, getuid());
    assert_int_equal(c.gid, getgid());
    int fd = open("/dev/null", O_RDONLY);
    assert_int_equal(peercred_get(fd, &c), -1); /* not a socket */
    close(fd);
    close(sv[0]);
    close(sv[1]);
}

static void test_uid_trust_rule(void **state)
{
    (void)state;
    uid_t me = getuid();
    uid_t stranger = me == 4242 ? 4243 : 4242;
    uid_t allowed[] = {stranger};
    assert_true(peercred_uid_trusted(0, NULL, 0));
    assert_true(peercred_uid_trusted(me, NULL, 0));
    assert_false(peercred_uid_trusted(stranger, NULL, 0));
    assert_true(peercred_uid_trusted(stranger, allowed, 1));
    uid_t other = stranger + 1 == me ? stranger + 2 : stranger + 1;
    assert_false(peercred_uid_trusted(other, allowed, 1));
}

UNIT_TEST_MAIN(cmocka_unit_test(test_descriptor_arrives_as_the_same_file),
               cmocka_unit_test(test_no_descriptor_is_refused),
               cmocka_unit_test(test_two_descriptors_are_refused_and_closed),
               cmocka_unit_test(test_second_descriptor_of_a_message_is_extra),
               cmocka_unit_test(test_peer_credentials_are_ours),
               cmocka_unit_test(test_uid_trust_rule))
