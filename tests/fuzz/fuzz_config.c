/*  fuzz_config — the config file parser (src/common/config.c). The input is
    the file: it goes to an in-memory file (memfd) that wa_config_load_file
    reads by its /proc/self/fd path, as it would read any path. A file that
    loads is checked (wa_config_check), and every key's value read back
    with wa_config_get must set again to the same value.

    The same bytes as one "key=value" pair (split at the first '=') go to
    wa_config_set directly: what the environment and `wactl settings set`
    feed it, without the file's trimming, comments and quoting. A secret's
    X_file key reads whatever file the input names (the memfd itself:
    /proc/self/fd/N), within the same checks. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>
#include "wa_config.h"
#include "wa_log.h"
#include "fuzz.h"

//  Every key of the table, so a loaded file can be read back whole.
static const char *s_keys[] = {
    "db_engine", "db_hostname", "db_port", "db_username", "db_password", "db_name",
    "db_connect_timeout", "db_statement_timeout", "master_node", "hostname", "external_hostname",
    "ports", "bind_address", "shards", "lease_ttl", "lease_renew_interval", "lease_margin",
    "shard_lease_ttl", "shard_renew_interval", "db_liveness_interval", "heartbeat_interval",
    "unhealthy_interval", "promotion_holdoff", "failover_limit", "failover_window",
    "upstream_endpoint", "upstream_control_endpoint", "account", "upstream_ping_interval",
    "upstream_idle_timeout", "upstream_login_timeout", "wagate_ledger", "wagate_status_delay",
    "wagate_fail_digits", "wagate_invalid_digits", "wagate_inbound_rate", "wagate_registered",
    "log_level", "log_syslog", "webhooks_url", "webhooks_max_concurrent_requests",
    "callback_backoff_delay_ms", "max_callback_backoff_delay_ms", "sent_status",
    "callbacks_queue_max", "media_dir", "webapp_port", "webapp_bind", "webapp_tls_cert",
    "webapp_tls_key", "webapp_max_body", "request_deadline", "request_attempt_timeout",
    "token_ttl", "login_failures_limit", "login_failures_window",
    "db_password_file", "webhooks_url_file", "webhooks_secret_file", NULL
};

static int s_fd = -1;
static char s_path[64];

//  Read back every key of config and set it again on a copy: the same text.
static void
s_round_trip (const wa_config_t *config)
{
    wa_config_t copy = *config;
    for (int i = 0; s_keys[i]; i++) {
        char value[WA_CONFIG_STR + 64], again[WA_CONFIG_STR + 64], err[512];
        FUZZ_ASSERT (wa_config_get (config, s_keys[i], value, sizeof value) == 0);
        FUZZ_ASSERT (wa_config_set (&copy, s_keys[i], value, err, sizeof err) == 0);
        FUZZ_ASSERT (wa_config_get (&copy, s_keys[i], again, sizeof again) == 0);
        FUZZ_ASSERT (strcmp (value, again) == 0);
    }
}

static void
s_file (const uint8_t *data, size_t size)
{
    if (s_fd < 0) {
        s_fd = memfd_create ("fuzz_config", 0);
        FUZZ_ASSERT (s_fd >= 0);
        snprintf (s_path, sizeof s_path, "/proc/self/fd/%d", s_fd);
    }
    FUZZ_ASSERT (ftruncate (s_fd, 0) == 0);
    FUZZ_ASSERT (size == 0 || pwrite (s_fd, data, size, 0) == (ssize_t) size);
    wa_config_t config, before;
    wa_config_defaults (&config);
    memcpy (&before, &config, sizeof before);
    char err[512] = "";
    if (wa_config_load_file (&config, s_path, err, sizeof err) == 0) {
        FUZZ_ASSERT (strcmp (wa_config_source (&config), s_path) == 0);
        (void) wa_config_check (&config, err, sizeof err);
        s_round_trip (&config);
    }
    else {
        //  Nothing half-applied.
        FUZZ_ASSERT (*err);
        FUZZ_ASSERT (memcmp (&config, &before, sizeof config) == 0);
    }
}

static void
s_pair (const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr (data, size);
    char *eq = strchr (text, '=');
    if (eq) {
        *eq = 0;
        wa_config_t config, before;
        wa_config_defaults (&config);
        memcpy (&before, &config, sizeof before);
        char err[512] = "";
        if (wa_config_set (&config, text, eq + 1, err, sizeof err) == 0) {
            FUZZ_ASSERT (wa_config_type (text) != NULL);
            (void) wa_config_is_setting (text);
            s_round_trip (&config);
        }
        else {
            FUZZ_ASSERT (*err);
            FUZZ_ASSERT (memcmp (&config, &before, sizeof config) == 0);
        }
    }
    free (text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_file (data, size);
    s_pair (data, size);
    return 0;
}
