/*  wactl ping — one HEALTH_REQ to a node's health port (+3), with this
    program's certificate (bus_cert) as the node's own: the check a
    container's HEALTHCHECK runs beside the node, with its environment.

        wactl ping --role master|coreapp [--host HOST] [--port N] [--timeout S]

    The server's key is the certificate's own public key (a node answers
    with the key it has), so only the node that holds bus_cert passes. The
    port defaults to the health port the node binds (bind_ports, else
    ports). Exit 0 when the node answered, printing its role ("primary
    coreapp" ...), 1 when it did not in time. No database is involved: a
    node whose database is away still answers, as it should (it keeps
    serving while its lease holds). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "wa_trust.h"
#include "wactl.h"

int
wactl_ping (wactl_t *self, int argc, char **argv)
{
    static const struct option options[] = {
        { "role", required_argument, NULL, 'r' },
        { "host", required_argument, NULL, 'H' },
        { "port", required_argument, NULL, 'p' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *host = "127.0.0.1";
    wa_role_t role = WA_ROLE_NONE;
    int port = wa_config_bind_ports (self->config)[3];
    double timeout = 2;
    int opt;
    char *end;
    wactl_options_start ();
    while ((opt = wactl_option (self, argc, argv, ":r:H:p:t:h", options)) != -1) {
        switch (opt) {
            case 'r':
                role = wa_role_from_name (optarg);
                if (role != WA_ROLE_MASTER && role != WA_ROLE_COREAPP)
                    return wactl_usage_error (self, "--role '%s': master or coreapp", optarg);
                break;
            case 'H':
                if (!*optarg || strlen (optarg) > 253 || strpbrk (optarg, " /:\t"))
                    return wactl_usage_error (self, "--host '%s': a host name or IPv4 address", optarg);
                host = optarg;
                break;
            case 'p': {
                long value = strtol (optarg, &end, 10);
                if (end == optarg || *end || value < 1 || value > 65535)
                    return wactl_usage_error (self, "--port '%s': a TCP port, 1 to 65535", optarg);
                port = (int) value;
                break;
            }
            case 't':
                timeout = strtod (optarg, &end);
                if (end == optarg || *end || !isfinite (timeout) || timeout < 0.05 || timeout > 60)
                    return wactl_usage_error (self, "--timeout '%s': seconds, 0.05 to 60", optarg);
                break;
            case 'h':
                printf ("usage: wactl ping --role master|coreapp [--host HOST] [--port N] [--timeout S]\n");
                return 0;
            default: return 2;
        }
    }
    if (wactl_no_more_args (self, argc, argv))
        return 2;
    if (role == WA_ROLE_NONE)
        return wactl_usage_error (self, "--role is required: the role of the node (and of bus_cert)");
    if (port == 0)
        return wactl_usage_error (self, "the node binds any free port (ports = 0): give --port");
    char err[512];
    wa_trust_t *trust = wa_trust_new (self->config, role, err, sizeof err);
    if (!trust)
        return wactl_fail (self, "%s", err);
    zsock_t *req = zsock_new (ZMQ_REQ);
    assert (req);
    zsock_set_linger (req, 0);
    int rc = 1;
    wa_msg_t msg;
    wa_msg_init (&msg, WA_MSG_HEALTH_REQ);
    zpoller_t *poller = NULL;
    int why = 0;
    if (wa_trust_secure (trust)
    &&  wa_trust_client (trust, req, wa_trust_public_key (trust), (unsigned) role, err, sizeof err))
        fprintf (stderr, "wactl ping: %s\n", err);
    else
    if (zsock_connect (req, "tcp://%s:%d", host, port) != 0)
        fprintf (stderr, "wactl ping: cannot connect to tcp://%s:%d\n", host, port);
    else
    if (wa_codec_send (req, NULL, &msg))
        fprintf (stderr, "wactl ping: cannot send to tcp://%s:%d\n", host, port);
    else
    if (!(poller = zpoller_new (req, NULL)) || !zpoller_wait (poller, (int) (timeout * 1000)))
        fprintf (stderr, "wactl ping: tcp://%s:%d did not answer within %g s\n", host, port, timeout);
    else
    if (wa_codec_recv (req, NULL, &msg, &why))
        fprintf (stderr, "wactl ping: tcp://%s:%d sent a bad answer: %s\n", host, port, wa_codec_strerror (why));
    else
    if (msg.type != WA_MSG_HEALTH)
        fprintf (stderr, "wactl ping: tcp://%s:%d answered %s\n", host, port, wa_codec_type_name (msg.type));
    else {
        printf ("%s node %" PRIu64 "\n", msg.text, msg.node);
        rc = 0;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&req);
    wa_trust_destroy (&trust);
    return rc;
}
