/*  coreapp — the Coreapp's reactor: registration, liveness, the shard lease
    (I2) and the upstream session that only the lease holder may open. */
#ifndef COREAPP_H
#define COREAPP_H

#include "wa_config.h"

int coreapp_run (const wa_config_t *config);

#endif
