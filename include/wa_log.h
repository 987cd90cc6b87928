/*  wa_log — one logging front end for every program.
    Lines go to stderr as "<time> <level> <prefix>: <text>", the prefix naming
    the node and its role; the level is checked before anything is formatted. */
#ifndef WA_LOG_H
#define WA_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { WA_LOG_ERROR = 0, WA_LOG_WARN, WA_LOG_INFO, WA_LOG_DEBUG } wa_log_level_t;

extern wa_log_level_t wa_log_threshold;

//  Parse "error", "warn", "info" or "debug"; -1 when the name is none of them.
int wa_log_level_parse (const char *name);
void wa_log_set_level (wa_log_level_t level);
void wa_log_set_syslog (bool on, const char *ident);
//  Prefix printed on every line, e.g. "master 7 primary". Copied.
void wa_log_set_prefix (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
//  Every line is escaped (wa_log_escape) before it is written.
void wa_log_write (wa_log_level_t level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
//  Copies in to out (size bytes, always NUL-terminated) with control
//  characters written out: newline, return and tab as \n \r \t, other
//  bytes below 0x20, DEL and the UTF-8 C1 controls as \xNN. Stops before an
//  escape that would not fit. Returns the length written.
size_t wa_log_escape (const char *in, char *out, size_t size);
//  Formats an error message into err (errlen bytes) and returns -1: for
//  functions that report why they failed that way.
int wa_errf (char *err, size_t errlen, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

#define wa_log(level, ...) \
    do { if ((level) <= wa_log_threshold) wa_log_write ((level), __VA_ARGS__); } while (0)
#define wa_error(...) wa_log (WA_LOG_ERROR, __VA_ARGS__)
#define wa_warn(...)  wa_log (WA_LOG_WARN, __VA_ARGS__)
#define wa_info(...)  wa_log (WA_LOG_INFO, __VA_ARGS__)
#define wa_debug(...) wa_log (WA_LOG_DEBUG, __VA_ARGS__)

#endif
