/*  fuzz — what the libFuzzer harnesses share: a NUL-terminated copy of the
    input, and a check that aborts (so libFuzzer keeps the input) when a
    property of the code under test does not hold. */
#ifndef WA_FUZZ_H
#define WA_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  The input as a C string (it may hold NULs: C string code sees the part
//  before the first). Caller frees.
static inline char *
fuzz_cstr (const uint8_t *data, size_t size)
{
    char *text = malloc (size + 1);
    if (!text)
        abort ();
    if (size)
        memcpy (text, data, size);
    text[size] = 0;
    return text;
}

//  A property that must hold whatever the input.
#define FUZZ_ASSERT(cond) do { \
    if (!(cond)) { \
        fprintf (stderr, "fuzz: property failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        abort (); \
    } \
} while (0)

#endif
