/* fuzz_config.c - libFuzzer target: main.cf parsing, validation and $expansion. */
#include "config.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_file("main.cf", data, size);
    struct errlist errs = {0};
    struct config *cfg = config_load(fuzz_dir(), &errs);
    if (cfg) {
        config_validate(cfg, &errs);
        size_t n;
        config_list(cfg, "virtual_mailbox_domains", &n);
        config_str(cfg, "smtpd_banner");
        config_free(cfg);
    }
    errlist_free(&errs);
    return 0;
}
