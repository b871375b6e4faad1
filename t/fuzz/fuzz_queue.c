/* fuzz_queue.c - libFuzzer target: the queue file reader on arbitrary files, as a finished
 * file (queue_read) and as one being written (queue_read_draft): whatever either accepts
 * streams exactly the size it reported, prepended (version 2 H) records included. */
#include "fuzz_common.h"
#include "queue.h"
#include <fcntl.h>

static int sink(void *ctx, const char *data, size_t len)
{
    (void)data;
    *(size_t *)ctx += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("qfile", data, size);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        abort();
    struct queue_msg m;
    char *err = NULL;
    if (queue_read(fd, "0000000000000FUZZ", &m, &err) == 0) {
        size_t total = 0;
        if (queue_read_body(fd, &m, sink, &total, &err) == 0 && total != m.body_size)
            abort(); /* the reader's size must match what it streams */
        free(err);
        err = NULL;
        queue_msg_free(&m);
    }
    free(err);
    err = NULL;
    if (queue_read_draft(fd, "0000000000000FUZZ", &m, &err) == 0) {
        size_t total = 0;
        if (queue_read_body(fd, &m, sink, &total, &err) == 0 && total != m.body_size)
            abort();
        free(err);
        err = NULL;
        queue_msg_free(&m);
    }
    free(err);
    close(fd);
    return 0;
}
