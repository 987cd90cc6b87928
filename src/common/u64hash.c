/*  wa_u64hash — see wa_u64hash.h */
#include "wa_u64hash.h"

static size_t
s_hash (const void *key)
{
    uint64_t n = (uint64_t) (uintptr_t) key;
    //  Sequence numbers are dense: mix the bits so they spread over buckets.
    n ^= n >> 33;
    n *= 0xff51afd7ed558ccdULL;
    n ^= n >> 33;
    return (size_t) n;
}

static int
s_compare (const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) a, y = (uintptr_t) b;
    return x < y ? -1 : x > y;
}

zhashx_t *
wa_u64hash_new (void)
{
    zhashx_t *hash = zhashx_new ();
    zhashx_set_key_hasher (hash, s_hash);
    zhashx_set_key_comparator (hash, s_compare);
    zhashx_set_key_duplicator (hash, NULL);
    zhashx_set_key_destructor (hash, NULL);
    return hash;
}
