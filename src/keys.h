/* keys.h - what names an object: a kind and up to two ids.
 *
 * Cached API objects and inodes are both named by such a triple, e.g.
 * (OBJ_SUB_LIST, account 19, 0) or (NODE_SUB_FILE, account 19, sub 25). */
#ifndef SEPAYFS_KEYS_H
#define SEPAYFS_KEYS_H

#include "htab.h"

#include <stdbool.h>
#include <stdint.h>

struct obj_key {
	int kind;
	int64_t a;
	int64_t b;
};

static inline uint64_t obj_key_hash(const struct obj_key *k)
{
	return hash_mix((uint64_t)k->kind * 0x9e3779b97f4a7c15ULL ^
			hash_mix((uint64_t)k->a) ^ hash_mix((uint64_t)k->b + 1) * 3);
}

static inline bool obj_key_equal(const struct obj_key *x, const struct obj_key *y)
{
	return x->kind == y->kind && x->a == y->a && x->b == y->b;
}

#endif
