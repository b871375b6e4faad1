/* log_config.c - logging set up from main.cf (see log_config.h). */
#include "log_config.h"
#include "log.h"
#include <syslog.h>

void log_config_init(struct config *cfg, const char *name, const char *file)
{
    static const int facilities[] = {LOG_MAIL,   LOG_DAEMON, LOG_USER,   LOG_LOCAL0,
                                     LOG_LOCAL1, LOG_LOCAL2, LOG_LOCAL3, LOG_LOCAL4,
                                     LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7}; /* the ENUM's order */
    struct log_options o = {
        .name = name,
        .file = file ? file : config_str(cfg, PARAM(maillog_file)),
        .syslog = config_bool(cfg, PARAM(maillog_syslog)),
        .syslog_name = config_str(cfg, PARAM(syslog_name)),
        .syslog_socket = config_str(cfg, PARAM(syslog_socket)),
        .facility = facilities[config_enum(cfg, PARAM(syslog_facility))],
    };
    log_setup(&o);
}
