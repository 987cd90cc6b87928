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

void
wa_log_write (wa_log_level_t level, const char *fmt, ...)
{
    char text[1024];
    va_list args;
    va_start (args, fmt);
    vsnprintf (text, sizeof text, fmt, args);
    va_end (args);
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
