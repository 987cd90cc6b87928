/*  master — the Master's reactor: bootstrap, registration, the master lease
    (I1) and, while primary, migrations and Coreapp promotion (I2). */
#ifndef MASTER_H
#define MASTER_H

#include "wa_config.h"

//  Runs until SIGINT/SIGTERM. Returns the exit code.
int master_run (const wa_config_t *config);

#endif
