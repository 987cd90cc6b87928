/*  wa_log — see include/wa_log.h */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <sys/time.h>
#include "wa_log.h"

wa_log_level_t wa_log_threshold = WA_LOG_INFO;
static bool s_syslog;
//  The prefix is rewritten by the reactor (a role changes) while worker
//  threads log: each write copies it under the lock.
static char s_prefix[128];
static pthread_mutex_t s_prefix_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *s_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

int
wa_log_level_parse (const char *name)
{
    if (strcasecmp (name, "error") == 0) return WA_LOG_ERROR;
    if (strcasecmp (name, "warn") == 0) return WA_LOG_WARN;
    if (strcasecmp (name, "info") == 0) return WA_LOG_INFO;
    if (strcasecmp (name, "debug") == 0) return WA_LOG_DEBUG;
    return -1;
}

void
wa_log_set_level (wa_log_level_t level)
{
    wa_log_threshold = level;
}

void
wa_log_set_syslog (bool on, const char *ident)
{
    if (on && !s_syslog)
        openlog (ident, LOG_PID, LOG_DAEMON);
    s_syslog = on;
}

void
wa_log_set_prefix (const char *fmt, ...)
{
    char prefix[sizeof s_prefix];
    va_list args;
    va_start (args, fmt);
    vsnprintf (prefix, sizeof prefix, fmt, args);
    va_end (args);
    pthread_mutex_lock (&s_prefix_lock);
    memcpy (s_prefix, prefix, sizeof s_prefix);
    pthread_mutex_unlock (&s_prefix_lock);
}

size_t
wa_log_escape (const char *in, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    if (size == 0)
        return 0;
    size_t used = 0;
    for (const unsigned char *c = (const unsigned char *) in; *c; c++) {
        char esc[8];
        size_t n = 0;
        //  The C1 controls are two bytes in UTF-8: C2 80 to C2 9F.
        size_t width = c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f ? 2 : 1;
        if (*c == '\n' || *c == '\r' || *c == '\t') {
            esc[n++] = '\\';
            esc[n++] = *c == '\n' ? 'n' : *c == '\r' ? 'r' : 't';
        }
        else
        if (*c < 0x20 || *c == 0x7f || width == 2)
            for (size_t i = 0; i < width; i++) {
                esc[n++] = '\\';
                esc[n++] = 'x';
                esc[n++] = hex[c[i] >> 4];
                esc[n++] = hex[c[i] & 15];
            }
        else
            esc[n++] = (char) *c;
        if (used + n >= size)
            break;
        memcpy (out + used, esc, n);
        used += n;
        c += width - 1;
    }
    out[used] = 0;
    return used;
}

void
wa_log_write (wa_log_level_t level, const char *fmt, ...)
{
    char raw[1024], text[1024];
    va_list args;
    va_start (args, fmt);
    vsnprintf (raw, sizeof raw, fmt, args);
    va_end (args);
    //  One line per event whatever the text holds: a user name or a path
    //  from a request cannot start a line of its own (or move the cursor).
    wa_log_escape (raw, text, sizeof text);
    char prefix[sizeof s_prefix];
    pthread_mutex_lock (&s_prefix_lock);
    memcpy (prefix, s_prefix, sizeof prefix);
    pthread_mutex_unlock (&s_prefix_lock);
    if (s_syslog) {
        static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
        syslog (prio[level], "%s: %s", prefix, text);
        return;
    }
    struct timeval tv;
    gettimeofday (&tv, NULL);
    struct tm tm;
    gmtime_r (&tv.tv_sec, &tm);
    char stamp[32];
    strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    //  One fprintf per line so that lines of concurrent threads do not mix.
    fprintf (stderr, "%s.%03dZ %-5s %s: %s\n", stamp, (int) (tv.tv_usec / 1000),
             s_names[level], prefix, text);
}

int
wa_errf (char *err, size_t errlen, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (err, errlen, fmt, args);
    va_end (args);
    return -1;
}
