/* htab.c - intrusive chained hash table. */
#include "htab.h"

#include <errno.h>
#include <stdlib.h>

/* Small enough to cost nothing for a mount that lists a dozen accounts. */
#define HTAB_INITIAL_BUCKETS 64

int htab_init(struct htab *t)
{
	t->buckets = calloc(HTAB_INITIAL_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return ENOMEM;
	t->nbuckets = HTAB_INITIAL_BUCKETS;
	t->count = 0;
	return 0;
}

void htab_destroy(struct htab *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = t->count = 0;
}

static void htab_grow(struct htab *t)
{
	size_t n = t->nbuckets * 2;
	struct hnode **b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct hnode *node = t->buckets[i];
		while (node) {
			struct hnode *next = node->next;
			size_t j = node->hash & (n - 1);
			node->next = b[j];
			b[j] = node;
			node = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

void htab_insert(struct htab *t, struct hnode *node, uint64_t hash)
{
	if (t->count >= t->nbuckets)
		htab_grow(t);
	node->hash = hash;
	size_t i = hash & (t->nbuckets - 1);
	node->next = t->buckets[i];
	t->buckets[i] = node;
	t->count++;
}

struct hnode *htab_find(const struct htab *t, uint64_t hash, htab_match_fn match,
			const void *arg)
{
	for (struct hnode *n = t->buckets[hash & (t->nbuckets - 1)]; n; n = n->next)
		if (n->hash == hash && match(n, arg))
			return n;
	return NULL;
}

struct hnode *htab_find_next(const struct htab *t, const struct hnode *after, htab_match_fn match,
			     const void *arg)
{
	(void)t;
	for (struct hnode *n = after->next; n; n = n->next)
		if (n->hash == after->hash && match(n, arg))
			return n;
	return NULL;
}

void htab_remove(struct htab *t, struct hnode *node)
{
	struct hnode **pp = &t->buckets[node->hash & (t->nbuckets - 1)];
	for (; *pp; pp = &(*pp)->next) {
		if (*pp == node) {
			*pp = node->next;
			t->count--;
			return;
		}
	}
}

void htab_foreach(struct htab *t, void (*fn)(struct hnode *node, void *arg), void *arg)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct hnode *n = t->buckets[i];
		while (n) {
			struct hnode *next = n->next;
			fn(n, arg);
			n = next;
		}
	}
}
