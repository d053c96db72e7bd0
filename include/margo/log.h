/* One line per event on stderr: `<RFC 3339 time> <level> <message> key=value ...`.
 * Never pass a secret to these functions. Thread-safe (one write(2) per line). */
#ifndef MARGO_LOG_H
#define MARGO_LOG_H

enum margo_log_level {
	MARGO_LOG_ERROR = 0,
	MARGO_LOG_WARN = 1,
	MARGO_LOG_INFO = 2,
	MARGO_LOG_DEBUG = 3,
};

/* Lines above this level are dropped. Default MARGO_LOG_INFO. */
void margo_log_set_level(enum margo_log_level level);
enum margo_log_level margo_log_get_level(void);

/* Parses "error", "warn", "info", "debug". Returns 0 or MARGO_EINVAL. */
int margo_log_level_parse(const char *s, enum margo_log_level *out);

/* "error", "warn", "info" or "debug" (static string). */
const char *margo_log_level_name(enum margo_log_level level);

/* Logs msg followed by the printf-formatted key=value pairs in kv_fmt (may be NULL).
 * Values that may contain spaces should be quoted by the caller. */
void margo_log(enum margo_log_level level, const char *msg, const char *kv_fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define margo_log_error(msg, ...) margo_log(MARGO_LOG_ERROR, msg, __VA_ARGS__)
#define margo_log_warn(msg, ...) margo_log(MARGO_LOG_WARN, msg, __VA_ARGS__)
#define margo_log_info(msg, ...) margo_log(MARGO_LOG_INFO, msg, __VA_ARGS__)
#define margo_log_debug(msg, ...) margo_log(MARGO_LOG_DEBUG, msg, __VA_ARGS__)

#endif
