/*  waweb — a Webapp: the HTTP API of the cluster (users and tokens, health;
    routing to the Coreapps comes next). */
#include <sys/resource.h>
#include "wa_cli.h"
#include "wa_log.h"
#include "media.h"
#include "web.h"

int
main (int argc, char **argv)
{
    static const wa_cli_t cli = {
        .program = "waweb",
        .summary = "a wacluster Webapp: the HTTP API (port webapp_port, WEBAPP_EXTERNAL_PORTS)",
        .usage = "Start as many Webapps as you like against the cluster's database; any of them\n"
                 "accepts a token another issued. The first start creates the user admin/secret,\n"
                 "whose first login must set a new password.",
        .takes_args = false,
    };
    wa_config_t config;
    int first;
    wa_cli_start (&cli, argc, argv, &config, &first);
    //  Each connection is a descriptor: take what the system allows.
    struct rlimit files;
    if (getrlimit (RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit (RLIMIT_NOFILE, &files);
    }
    char err[600];
    if (media_dir_prepare (&config, err, sizeof err)) {
        wa_error ("%s", err);
        return 1;
    }
    return wa_cli_exit (web_run (&config));
}
