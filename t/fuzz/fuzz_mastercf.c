/* fuzz_mastercf.c - libFuzzer target: master.cf parsing. */
#include "fuzz_common.h"
#include "mastercf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("master.cf", data, size);
    struct errlist errs = {0};
    struct mastercf m;
    if (mastercf_load(path, &m, &errs) == 0 || m.n)
        for (size_t i = 0; i < m.n; i++) {
            char *host, *port;
            if (mastercf_inet_split(m.v[i].service, &host, &port) == 0)
                free(host), free(port);
        }
    mastercf_free(&m);
    errlist_free(&errs);
    return 0;
}
