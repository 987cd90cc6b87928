/*  wactl switchover — a planned move of a shard's primary Coreapp, run by
    the primary Master (wamaster/switchover.h, wacore/handover.h). */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <czmq.h>
#include "wactl.h"

//  Schema version 10 has shard_map.prev_closed, which a handover writes.
#define SCHEMA_OPERATOR 10
#define WAIT_DEFAULT 30.0
#define WAIT_MAX 3600.0

static int
s_parse_id (const char *text, uint64_t max, uint64_t *value)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull (text, &end, 10);
    if (errno || end == text || *end || *text == '-' || *text == '+' || v > max)
        return -1;
    *value = v;
    return 0;
}

static void
s_print (const wa_msg_t *answer)
{
    json_error_t error;
    json_t *doc = json_loads (answer->text, JSON_REJECT_DUPLICATES, &error);
    json_t *handover = json_object_get (doc, "handover");
    printf ("shard %" PRIu32 ": coreapp %" JSON_INTEGER_FORMAT " -> coreapp %" PRIu64 " (epoch %" PRIu64 ") in %.1f ms\n",
            answer->shard, json_integer_value (json_object_get (doc, "from")), answer->node, answer->epoch,
            json_real_value (json_object_get (doc, "total_ms")));
    if (json_is_object (handover))
        printf ("  the old primary drained in %.1f ms and logged out in %.1f ms (%s);\n",
                json_real_value (json_object_get (handover, "drain_ms")),
                json_real_value (json_object_get (handover, "logout_ms")),
                json_is_true (json_object_get (handover, "closed"))
                    ? "confirmed by the gateway: the new primary logged in at once"
                    : "not confirmed: the new primary waited out the old session");
    printf ("  the new primary's upstream session was open %.1f ms after the handover\n",
            json_real_value (json_object_get (doc, "session_ms")));
    json_decref (doc);
}

int
wactl_switchover (wactl_t *self, int argc, char **argv)
{
    static const struct option options[] = {
        { "shard", required_argument, NULL, 's' },
        { "to", required_argument, NULL, 't' },
        { "timeout", required_argument, NULL, 'w' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    uint64_t shard = 0, to = 0;
    bool have_shard = false;
    double wait = WAIT_DEFAULT;
    int opt;
    wactl_options_start ();
    while ((opt = wactl_option (self, argc, argv, ":s:t:w:jh", options)) != -1) {
        switch (opt) {
            case 's':
                if (s_parse_id (optarg, WA_SHARDS_MAX - 1, &shard))
                    return wactl_usage_error (self, "--shard '%s': a shard number from 0 to %d", optarg,
                                              WA_SHARDS_MAX - 1);
                have_shard = true;
                break;
            case 't':
                if (s_parse_id (optarg, INT64_MAX, &to) || to == 0)
                    return wactl_usage_error (self, "--to '%s': a Coreapp's node id (wactl status lists them)",
                                              optarg);
                break;
            case 'w': {
                char *end;
                wait = strtod (optarg, &end);
                if (end == optarg || *end || !(wait >= 0.1 && wait <= WAIT_MAX))
                    return wactl_usage_error (self, "--timeout '%s': seconds, from 0.1 to %.0f", optarg, WAIT_MAX);
                break;
            }
            case 'j': self->json = true; break;
            case 'h': printf ("usage: wactl switchover --shard N [--to NODE] [--timeout SECONDS] [--json]\n"); return 0;
            default: return 2;
        }
    }
    if (wactl_no_more_args (self, argc, argv))
        return 2;
    if (!have_shard)
        return wactl_usage_error (self, "which shard? --shard N");
    if (wactl_connect (self))
        return 1;
    int version = wactl_require_schema (self);
    if (version < 0)
        return 1;
    if (version < SCHEMA_OPERATOR)
        return wactl_fail (self, "the cluster's database '%s' has schema version %d: a switchover needs %d "
                           "(the primary Master upgrades it)", self->config->db_name, version, SCHEMA_OPERATOR);
    wa_msg_t *msg = (wa_msg_t *) zmalloc (sizeof (wa_msg_t));
    assert (msg);
    wa_msg_init (msg, WA_MSG_SWITCHOVER);
    msg->shard = (uint32_t) shard;
    msg->node = to;
    msg->code = (uint32_t) (wait * 1000);
    long long master = 0;
    char why[600];
    int status = 0;
    //  The Master answers by the wait it was given; ours is a little longer.
    if (wactl_ask_master (self, version, msg, (int) (wait * 1000) + 2000, &master, why, sizeof why))
        status = wactl_fail (self, "%s", why);
    else
    if (msg->type == WA_MSG_ERROR)
        status = wactl_fail (self, "switchover of shard %" PRIu64 ": %s (%" PRIu32 ", primary Master %lld)",
                             shard, msg->text, msg->code, master);
    else
    if (msg->type != WA_MSG_SWITCHOVER_OK)
        status = wactl_fail (self, "primary Master %lld answered %s", master, wa_codec_type_name (msg->type));
    else
    if (self->json) {
        json_error_t error;
        json_t *doc = json_loads (msg->text, JSON_REJECT_DUPLICATES, &error);
        wactl_print_json (doc ? doc : json_object (), false);
        json_decref (doc);
    }
    else
        s_print (msg);
    free (msg);
    return status;
}
