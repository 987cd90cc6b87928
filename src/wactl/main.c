/*  wactl — the operator's CLI. See wactl.h. */
#include <stdlib.h>
#include <string.h>
#include "wa_cli.h"
#include "wactl.h"

static const struct {
    const char *name;
    int (*run) (wactl_t *self, int argc, char **argv);
} s_commands[] = {
    { "status", wactl_status },
    { "events", wactl_events },
    { "wait", wactl_wait },
    { "schema", wactl_schema },
    { "settings", wactl_settings },
    { "users", wactl_users },
    { "keys", wactl_keys },
    { "switchover", wactl_switchover },
    { "pause", wactl_pause },
    { "resume", wactl_resume },
    { "ping", wactl_ping },
};

static const wa_cli_t s_cli = {
    .program = "wactl",
    .summary = "the operator's CLI: cluster status, settings, users, keys, switchover, pause, audit log, "
               "health, schema",
    .usage =
        "Commands:\n"
        "  status [--json] [--all]     the master lease, the nodes with their roles and\n"
        "                              each Coreapp's heartbeat liveness as the primary\n"
        "                              Master sees it (healthy, late, unhealthy, or unknown\n"
        "                              when it has said nothing lately), and the shard map;\n"
        "                              --all includes nodes stopped or down for more than\n"
        "                              10 minutes\n"
        "  events [--json] [-n N] [--follow]\n"
        "                              the audit log, oldest first: the last N events\n"
        "                              (default 50); --follow prints new ones until Ctrl-C\n"
        "                              (with --json, one JSON object per line)\n"
        "  wait [--timeout SECONDS]    exit 0 once the cluster is healthy (a primary Master,\n"
        "                              every shard on an up Coreapp connected upstream);\n"
        "                              else after SECONDS (default 60) say what is missing\n"
        "                              and exit 1\n"
        "  schema [--json]             the database's schema version and the one this\n"
        "                              build needs\n"
        "  settings [--json]           every cluster setting: its value in the database (or\n"
        "                              this wactl's config value, marked not stored), when\n"
        "                              and by whom it was set; a stored value that does not\n"
        "                              pass validation is marked invalid\n"
        "  settings set KEY VALUE      check KEY = VALUE against every other setting, store\n"
        "                              it, and have the primary Master broadcast it: every\n"
        "                              node applies it without a restart ('wactl settings'\n"
        "                              lists the keys; the config file only seeds them);\n"
        "                              VALUE '-' reads it from stdin (for webhooks_secret)\n"
        "  users [--json]              the Webapp's users: role, whether the password is\n"
        "                              still the default, failed logins and blocks\n"
        "  users set-password NAME [--role ADMIN|USER] [--password-file FILE]\n"
        "                              set NAME's password (created as an ADMIN, or\n"
        "                              --role, when new), read from FILE's first line or\n"
        "                              stdin (asked twice on a terminal); revokes its\n"
        "                              tokens and clears its failed logins. The first\n"
        "                              ADMIN password of a cluster is set so, on a host\n"
        "                              with the database: until one is set the API\n"
        "                              serves only its own host (loopback)\n"
        "  users unlock NAME           clear NAME's failed logins (a block ends with it)\n"
        "  keys new NAME --role ROLE [--out DIR] [--trust]\n"
        "                              make a certificate for the node bus: DIR/NAME.key\n"
        "                              (public) and DIR/NAME.key_secret (mode 0600, the\n"
        "                              program's bus_cert); ROLE is master, coreapp,\n"
        "                              webapp, wactl or tap; DIR defaults to the folder\n"
        "                              above bus_keys_dir; --trust adds it to the list\n"
        "  keys trust FILE...          add public certificates to the allow-list\n"
        "                              (bus_keys_dir, or --keys-dir DIR); every program\n"
        "                              accepts them within a second\n"
        "  keys revoke NAME|KEY        remove a key from the allow-list; its connections\n"
        "                              are refused within a second\n"
        "  keys list [--json]          the trusted keys: name, role, key, file\n"
        "  pause [--reason TEXT]       maintenance mode: no Master moves a primary Coreapp\n"
        "                              on its own, to replace it or to rebalance (the\n"
        "                              primary logs and records failover_paused once per\n"
        "                              shard, rebalance_paused once, instead); planned\n"
        "                              switchovers still run. Shown by 'wactl status' and\n"
        "                              the metrics, recorded in the audit log with who and\n"
        "                              why (TEXT: up to 255 characters). Already paused:\n"
        "                              says so, changes nothing\n"
        "  resume                      end maintenance mode: the primary Master fails over\n"
        "                              and rebalances again from its next check; not\n"
        "                              paused: says so\n"
        "  switchover --shard N [--to NODE] [--timeout SECONDS] [--json]\n"
        "                              move shard N's primary to Coreapp NODE (default:\n"
        "                              the healthy secondary heard last), planned: the old\n"
        "                              primary finishes what it has, logs out upstream and\n"
        "                              hands over; the new one logs in at once. Clients see\n"
        "                              a pause, not errors. Waits up to SECONDS (default 30)\n"
        "                              for the new primary's session; runs while paused too\n"
        "  ping --role master|coreapp [--host HOST] [--port N] [--timeout S]\n"
        "                              one health request to a node's health port (default:\n"
        "                              127.0.0.1, the port it binds), signed with bus_cert as\n"
        "                              the node's own key: a container's health check. Exit\n"
        "                              0 when it answered (its role is printed), 1 if not\n\n"
        "Exit status: 0 done, 1 failed (database unreachable, no schema, not healthy,\n"
        "a setting or password refused), 2 bad usage. From the repository root, wactl\n"
        "finds the cluster 'make start' started through ./run/cluster.conf.",
    .takes_args = true,
};

int
main (int argc, char **argv)
{
    wa_config_t config;
    int first;
    wa_cli_start (&s_cli, argc, argv, &config, &first);
    if (first >= argc) {
        fprintf (stderr, "wactl: no command given (status, events, wait, schema, settings, users, keys, "
                 "switchover, pause, resume, ping); try 'wactl --help'\n");
        return 2;
    }
    const char *name = argv[first];
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++) {
        if (strcmp (name, s_commands[i].name) != 0)
            continue;
        wactl_t self = { .config = &config, .command = name };
        int status = s_commands[i].run (&self, argc - first, argv + first);
        wa_db_destroy (&self.db);
        return status;
    }
    fprintf (stderr, "wactl: unknown command '%s'; try 'wactl --help'\n", name);
    return 2;
}
