/*  wamaster — a Master: competes for the master lease; the primary one
    applies the schema and promotes a Coreapp for every shard. */
#include "wa_cli.h"
#include "master.h"

int
main (int argc, char **argv)
{
    static const wa_cli_t cli = {
        .program = "wamaster",
        .summary = "a wacluster Master: holds the master lease, upgrades the schema, promotes Coreapps",
        .usage = "Start several Masters against the same database; one becomes primary,\n"
                 "the others take over when its lease lapses (see docs/ARCHITECTURE.md).",
        .takes_args = false,
    };
    wa_config_t config;
    int first;
    wa_cli_start (&cli, argc, argv, &config, &first);
    return wa_cli_exit (master_run (&config));
}
