/* fuzz_ipc.c - libFuzzer target: IPC attribute message decoding, checked by round trip. */
#include "fuzz_common.h"
#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct attrs a = {0};
    size_t used = 0;
    char *err = NULL;
    int r = ipc_decode((const char *)data, size, &a, &used, &err);
    if (r == 1) {
        struct buf b = BUF_INIT;
        ipc_encode(&b, &a);
        struct attrs again = {0};
        size_t used2;
        if (ipc_decode(b.data, b.len, &again, &used2, &err) != 1 || again.n != a.n)
            abort();
        for (size_t i = 0; i < a.n; i++)
            if (strcmp(a.v[i].value, again.v[i].value) || strcmp(a.v[i].name, again.v[i].name))
                abort();
        attrs_free(&again);
        buf_free(&b);
        attrs_free(&a);
    }
    free(err);
    return 0;
}
