/*  wagate — the upstream messaging network, emulated locally, and the
    referee of the one hard rule: it records every time two sessions of one
    account and shard are open at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wa_cli.h"
#include "gate.h"
#include "registration.h"
#include "templates.h"

static const wa_cli_t s_cli = {
    .program = "wagate",
    .summary = "local emulator of the upstream messaging network and referee of the one hard rule",
    .usage =
        "wagate plays \"the WhatsApp server\" for the cluster: Coreapps log in to it per\n"
        "(account, shard, shard count of the layout) with their shard-lease epoch, ping,\n"
        "send messages and log out. It refuses an epoch lower than one the same shard of\n"
        "the same layout has seen, and a count that is not 1, 2, 4, 8, 16 or 32 (or a\n"
        "shard not below it); it expires sessions idle longer than upstream_idle_timeout,\n"
        "and counts an OVERLAP whenever a login arrives while a session of the account\n"
        "serving some of the same recipients is open: the same shard, or of another\n"
        "layout (s, N) and (s', N'), N <= N', when s' mod N == s (the real network would\n"
        "ban the account). It records every message id it receives, counts a DUPLICATE\n"
        "when an id arrives again (from any session of any node), counts as MISROUTED a\n"
        "message whose recipient's CRC32 mod the session's count is not its shard, and\n"
        "answers whether an id arrived. Every test asserts that overlaps, duplicates\n"
        "and misrouted are 0.\n"
        "\n"
        "It also plays the network's side of a conversation: for every new message it\n"
        "reports the statuses sent, delivered and read (wagate_status_delay apart), or\n"
        "failed for a recipient ending in one of wagate_fail_digits, or for a template\n"
        "message its catalogue cannot fill (`wagate templates`), and it sends inbound\n"
        "messages from customers (injected, or wagate_inbound_rate per second), each as\n"
        "an event on the open session of its shard. Every event is kept, and sent again\n"
        "on the next session, until the Coreapp acknowledges it; the ledger records\n"
        "each event (emitted) and each acknowledgement (event_ack).\n"
        "\n"
        "Commands:\n"
        "  (none)          run: sessions on upstream_endpoint, stats on\n"
        "                  upstream_control_endpoint, events appended to wagate_ledger\n"
        "                  (JSON lines) when set; SIGINT/SIGTERM stop it\n"
        "  stats [--json]  ask the running wagate (upstream_control_endpoint) for its\n"
        "                  counters, overlaps and duplicates (misrouted with them);\n"
        "                  --json prints its JSON\n"
        "                  as is.\n"
        "                  From the repository root it asks the wagate `make start` started\n"
        "  inject --from NUMBER --text TEXT [--name NAME]\n"
        "                  an inbound message from the customer NUMBER (1 to 20 digits;\n"
        "                  TEXT up to 4096 bytes, NAME the profile name, default\n"
        "                  \"Customer\" and the number's last four digits), through the\n"
        "                  running wagate's control endpoint; prints {\"event_id\": ...}\n"
        "                  (the message's id)\n"
        "  inbound-rate N  have the running wagate generate N inbound messages per second\n"
        "                  from now on (0 to 100000, fractions allowed; 0 stops), from a pool\n"
        "                  of 100 customers; wagate_inbound_rate is the rate at start\n"
        "  code            print the registration code the running wagate \"sent\" for\n"
        "                  POST /v1/account (exit 1 when none is pending); with\n"
        "                  wagate_registered = 0 the account is not registered until\n"
        "                  POST /v1/account/verify gives it that code\n"
        "  rotate-identity WA_ID\n"
        "                  give the contact WA_ID a new identity key (as if the customer\n"
        "                  reinstalled): GET /v1/contacts/WA_ID/identity shows a new hash,\n"
        "                  not acknowledged; prints the new identity\n"
        "  templates       print the built-in template catalogue (JSON): the templates the\n"
        "                  network knows; a template message to any other fails (2001), and\n"
        "                  one whose parameters do not match fails (2000, 2012)",
    .takes_args = true,
};

static int
s_run (const wa_config_t *config)
{
    gate_t *gate = gate_new (config);
    if (!gate)
        return 1;
    int rc = gate_run (gate);
    gate_destroy (&gate);
    return rc == 0? 0: 1;
}

static int
s_stats (const wa_config_t *config, int argc, char **argv)
{
    bool json = false;
    for (int index = 0; index < argc; index++) {
        if (strcmp (argv [index], "--json") == 0)
            json = true;
        else {
            fprintf (stderr, "wagate stats: unexpected argument '%s'; try 'wagate --help'\n", argv [index]);
            return 2;
        }
    }
    return gate_stats_command (config, json);
}

static int
s_inject (const wa_config_t *config, int argc, char **argv)
{
    const char *from = NULL, *text = NULL, *name = NULL;
    for (int index = 0; index < argc; index++) {
        const char **value = strcmp (argv [index], "--from") == 0? &from:
                             strcmp (argv [index], "--text") == 0? &text:
                             strcmp (argv [index], "--name") == 0? &name: NULL;
        if (!value || index + 1 == argc) {
            fprintf (stderr, "wagate inject: %s '%s'; try 'wagate --help'\n",
                     value? "missing the value of": "unexpected argument", argv [index]);
            return 2;
        }
        *value = argv [++index];
    }
    if (!from || !text) {
        fprintf (stderr, "wagate inject: --from NUMBER and --text TEXT are required\n");
        return 2;
    }
    return gate_inject_command (config, from, text, name);
}

static int
s_rate (const wa_config_t *config, int argc, char **argv)
{
    char *end = NULL;
    double rate = argc == 1? strtod (argv [0], &end): -1;
    if (argc != 1 || end == argv [0] || *end || !(rate >= 0 && rate <= 100000)) {
        fprintf (stderr, "wagate inbound-rate: one number from 0 to 100000 is needed; try 'wagate --help'\n");
        return 2;
    }
    return gate_rate_command (config, rate);
}

int
main (int argc, char **argv)
{
    wa_config_t config;
    int first = 0;
    wa_cli_start (&s_cli, argc, argv, &config, &first);
    if (first == argc)
        return s_run (&config);
    if (strcmp (argv [first], "stats") == 0)
        return s_stats (&config, argc - first - 1, argv + first + 1);
    if (strcmp (argv [first], "code") == 0 && argc == first + 1)
        return account_code_command (&config);
    if (strcmp (argv [first], "inject") == 0)
        return s_inject (&config, argc - first - 1, argv + first + 1);
    if (strcmp (argv [first], "templates") == 0 && argc == first + 1) {
        json_t *catalogue = templates_catalogue ();
        char *text = json_dumps (catalogue, JSON_INDENT (2));
        printf ("%s\n", text ? text : "[]");
        free (text);
        json_decref (catalogue);
        return 0;
    }
    if (strcmp (argv [first], "rotate-identity") == 0 && argc == first + 2)
        return gate_rotate_identity_command (&config, argv [first + 1]);
    if (strcmp (argv [first], "inbound-rate") == 0)
        return s_rate (&config, argc - first - 1, argv + first + 1);
    fprintf (stderr, "wagate: unknown command '%s'; try 'wagate --help'\n", argv [first]);
    return 2;
}
