/* log_config.h - logging set up from main.cf: maillog_file, maillog_syslog, syslog_name,
 * syslog_facility and syslog_socket (lib/util/log.h does the writing). */
#ifndef POSTHORN_LOG_CONFIG_H
#define POSTHORN_LOG_CONFIG_H
#include "config.h"

/* Log as name; file NULL means maillog_file ("" syslog only, "-" stderr). */
void log_config_init(struct config *cfg, const char *name, const char *file);

#endif
