/*  wa_cli — the command line every program shares:
        -c, --config FILE   config file (default: $WACLUSTER_CONF, ./run/cluster.conf,
                            /etc/wacluster/wacluster.conf)
        -n, --check         check the configuration, print it, exit 0 or 1
        -v, --verbose       log level debug
        -h, --help          usage, the program's own text, and the config keys
        -V, --version       version
    Arguments after the options (subcommands) are left in argv[*first..]. */
#ifndef WA_CLI_H
#define WA_CLI_H

#include <stdbool.h>
#include "wa_config.h"

typedef struct {
    const char *program;        //  "wamaster"
    const char *summary;        //  one line: what it is
    const char *usage;          //  extra usage text (subcommands), may be NULL
    bool takes_args;            //  false: any argument after options is an error
} wa_cli_t;

//  Parses options and loads the configuration. Returns 0 to go on, with
//  *first the index of the first non-option; otherwise exits the process
//  (0 for --help/--version/-n ok, 1 for a check that failed, 2 for bad usage).
int wa_cli_start (const wa_cli_t *cli, int argc, char **argv, wa_config_t *config, int *first);
//  A daemon's last word, for main's return: logs "stopped (exit status rc)"
//  once every wa_actor thread has been joined; with threads still running
//  it logs how many as an error and returns 1 (a shutdown that does not
//  wait for its own threads is a bug, whatever rc was).
int wa_cli_exit (int rc);

#endif
