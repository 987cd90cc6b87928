/*  wa_cli — see include/wa_cli.h */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wa_actor.h"
#include "wa_cli.h"
#include "wa_log.h"

#ifndef WA_VERSION
#define WA_VERSION "dev"
#endif

static void
s_usage (const wa_cli_t *cli, FILE *out)
{
    fprintf (out, "%s %s — %s\n\nUsage: %s [options]%s\n", cli->program, WA_VERSION, cli->summary,
             cli->program, cli->takes_args ? " [command ...]" : "");
    if (cli->usage)
        fprintf (out, "\n%s\n", cli->usage);
    fprintf (out, "\nOptions:\n"
             "  -c, --config FILE  config file (default: $WACLUSTER_CONF, ./run/cluster.conf,\n"
             "                     /etc/wacluster/wacluster.conf, else built-in defaults)\n"
             "  -n, --check        check the configuration, print it and exit\n"
             "  -v, --verbose      log at debug level\n"
             "  -h, --help         this text\n"
             "  -V, --version      print the version\n\n");
    wa_config_print_help (out);
}

int
wa_cli_start (const wa_cli_t *cli, int argc, char **argv, wa_config_t *config, int *first)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' },
        { "check", no_argument, NULL, 'n' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    const char *path = NULL;
    bool check = false, verbose = false;
    int opt;
    //  '+': stop at the first non-option, so subcommands keep their own flags.
    while ((opt = getopt_long (argc, argv, "+c:nvhV", options, NULL)) != -1) {
        switch (opt) {
            case 'c': path = optarg; break;
            case 'n': check = true; break;
            case 'v': verbose = true; break;
            case 'h': s_usage (cli, stdout); exit (0);
            case 'V': printf ("%s %s\n", cli->program, WA_VERSION); exit (0);
            default:
                fprintf (stderr, "%s: try '%s --help'\n", cli->program, cli->program);
                exit (2);
        }
    }
    if (!cli->takes_args && optind < argc) {
        fprintf (stderr, "%s: unexpected argument '%s'; try '%s --help'\n", cli->program, argv[optind], cli->program);
        exit (2);
    }
    char err[768];
    wa_log_set_prefix ("%s", cli->program);
    if (wa_config_load (config, path, err, sizeof err)) {
        fprintf (stderr, "%s: configuration error: %s\n", cli->program, err);
        exit (1);
    }
    wa_config_for_program (config, cli->program);
    if (verbose)
        wa_log_set_level (WA_LOG_DEBUG);
    wa_log_set_syslog (config->log_syslog, cli->program);
    if (check) {
        printf ("# %s: configuration OK (%s)\n", cli->program,
                *config->source ? config->source : "built-in defaults and environment");
        wa_config_print (config, stdout);
        exit (0);
    }
    if (!cli->takes_args && (*config->orchestration || *config->running_env_version))
        wa_info ("deployed by %s, deployment files %s", *config->orchestration ? config->orchestration : "(not said)",
                 *config->running_env_version ? config->running_env_version : "(version not said)");
    *first = optind;
    return 0;
}

int
wa_cli_exit (int rc)
{
    int live = wa_actor_live ();
    if (live) {
        wa_error ("%d of its own threads still run at exit (exit status %d)", live, rc);
        return 1;
    }
    wa_info ("stopped (exit status %d)", rc);
    return rc;
}
