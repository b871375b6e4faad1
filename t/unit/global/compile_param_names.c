/* compile_param_names.c - compiled, never run, by two ctest entries (t/CMakeLists.txt): a
 * parameter named with PARAM() compiles (unit/global/param_names_compile), and with -DTYPO a
 * mistyped name must be a compile error (unit/global/param_typo_does_not_compile). */
#include "config.h"

const char *known_name(void);
const char *known_name(void) { return PARAM(smtpd_banner); }

#ifdef TYPO
const char *mistyped_name(void);
const char *mistyped_name(void) { return PARAM(smtpd_baner); }
#endif
