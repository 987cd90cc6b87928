/*  wacore — a Coreapp: starts secondary; once promoted for a shard it alone
    holds that shard's upstream session. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "wa_cli.h"
#include "wa_log.h"
#include "coreapp.h"

int
main (int argc, char **argv)
{
    static const wa_cli_t cli = {
        .program = "wacore",
        .summary = "a wacluster Coreapp: holds the upstream session of the shard it is promoted for",
        .usage = "Coreapps start secondary; the primary Master promotes one per shard.\n"
                 "With WA_MASTER_NODE=1 (the original's single image) it runs as a Master instead.",
        .takes_args = false,
    };
    wa_config_t config;
    int first;
    wa_cli_start (&cli, argc, argv, &config, &first);
    if (config.master_node) {
        //  The original ran Masters from the Coreapp image with WA_MASTER_NODE=1.
        char path[4096];
        snprintf (path, sizeof path, "%s/wamaster", dirname (strdup (argv[0])));
        argv[0] = path;
        execv (path, argv);
        fprintf (stderr, "wacore: WA_MASTER_NODE=1 but cannot run %s: %s\n", path, strerror (errno));
        return 1;
    }
    return wa_cli_exit (coreapp_run (&config));
}
