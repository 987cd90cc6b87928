/*  The migrations in conf/migrations, embedded at build time. */
#ifndef WA_MIGRATIONS_H
#define WA_MIGRATIONS_H

#include <stddef.h>

typedef struct {
    int version;
    const char *name;
    const char **statements;    //  NULL-terminated
} wa_migration_t;

extern const wa_migration_t wa_migrations[];    //  ends with version 0
extern const int wa_schema_version;             //  the version this build needs

#endif
