/*  wa_u64hash — a zhashx keyed by a uint64_t (a sequence number, a node
    id) held in the key pointer itself: no key is allocated or copied. */
#ifndef WA_U64HASH_H
#define WA_U64HASH_H

#include <stdint.h>
#include <czmq.h>

#define WA_U64_KEY(n) ((void *) (uintptr_t) (n))

//  A new hash whose keys are WA_U64_KEY (n); set its item destructor as usual.
zhashx_t *wa_u64hash_new (void);

#endif
