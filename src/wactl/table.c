/*  wactl_table — columns as wide as their widest cell, two spaces apart. */
#define _GNU_SOURCE         //  vasprintf
#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "wactl.h"

#define TABLE_MAX_COLUMNS 16

struct wactl_table_t {
    int columns;
    char **cells;               //  headings first, then row by row
    size_t count;
    size_t allocated;
    size_t width[TABLE_MAX_COLUMNS];
};

static void
s_append (wactl_table_t *self, char *text)
{
    if (self->count == self->allocated) {
        self->allocated = self->allocated ? self->allocated * 2 : 64;
        self->cells = realloc (self->cells, self->allocated * sizeof *self->cells);
        assert (self->cells);
    }
    size_t column = self->count % (size_t) self->columns;
    size_t length = strlen (text);
    if (length > self->width[column])
        self->width[column] = length;
    self->cells[self->count++] = text;
}

wactl_table_t *
wactl_table_new (int columns, ...)
{
    assert (columns > 0 && columns <= TABLE_MAX_COLUMNS);
    wactl_table_t *self = calloc (1, sizeof *self);
    assert (self);
    self->columns = columns;
    va_list args;
    va_start (args, columns);
    for (int i = 0; i < columns; i++) {
        char *heading = strdup (va_arg (args, const char *));
        assert (heading);
        s_append (self, heading);
    }
    va_end (args);
    return self;
}

void
wactl_table_destroy (wactl_table_t **self_p)
{
    wactl_table_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        free (self->cells[i]);
    free (self->cells);
    free (self);
    *self_p = NULL;
}

void
wactl_table_cell (wactl_table_t *self, const char *fmt, ...)
{
    char *text;
    va_list args;
    va_start (args, fmt);
    int rc = vasprintf (&text, fmt, args);
    va_end (args);
    assert (rc >= 0);
    s_append (self, text);
}

void
wactl_table_print (wactl_table_t *self, FILE *out)
{
    for (size_t i = 0; i < self->count; i++) {
        size_t column = i % (size_t) self->columns;
        bool last = column == (size_t) self->columns - 1 || i == self->count - 1;
        if (last)
            fprintf (out, "%s\n", self->cells[i]);
        else
            fprintf (out, "%-*s  ", (int) self->width[column], self->cells[i]);
    }
}
