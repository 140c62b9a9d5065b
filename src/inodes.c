/* inodes.c - inode table with lookup counts. */
#include "inodes.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

struct inode {
	struct hnode by_key;
	struct hnode by_ino;
	struct obj_key key;
	uint64_t ino;
	uint64_t nlookup;
	bool current;            /* the one by_key finds for its key */
	bool has_content;
	struct version content;  /* files: the version this inode shows */
};

#define INODE_OF(ptr, member) ((struct inode *)((char *)(ptr) - offsetof(struct inode, member)))

struct inode_table {
	pthread_mutex_t lock;
	struct htab by_key;
	struct htab by_ino;
	uint64_t next_ino;
};

static bool match_key(const struct hnode *n, const void *key)
{
	return obj_key_equal(&INODE_OF(n, by_key)->key, key);
}

static bool match_ino(const struct hnode *n, const void *ino)
{
	return INODE_OF(n, by_ino)->ino == *(const uint64_t *)ino;
}

static struct inode *inode_add(struct inode_table *t, const struct obj_key *key, uint64_t ino,
			       const struct version *content)
{
	struct inode *node = calloc(1, sizeof(*node));
	if (!node)
		return NULL;
	node->key = *key;
	node->ino = ino;
	node->current = true;
	if (content) {
		node->has_content = true;
		node->content = *content;
	}
	htab_insert(&t->by_key, &node->by_key, obj_key_hash(key));
	htab_insert(&t->by_ino, &node->by_ino, hash_mix(ino));
	return node;
}

/* Takes a node out of by_key: its key now names a newer version. */
static void inode_retire(struct inode_table *t, struct inode *node)
{
	htab_remove(&t->by_key, &node->by_key);
	node->current = false;
}

static void inode_drop(struct inode_table *t, struct inode *node)
{
	if (node->current)
		htab_remove(&t->by_key, &node->by_key);
	htab_remove(&t->by_ino, &node->by_ino);
	free(node);
}

struct inode_table *inodes_new(void)
{
	struct inode_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (htab_init(&t->by_key) || htab_init(&t->by_ino)) {
		htab_destroy(&t->by_key);
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->next_ino = INODE_ROOT + 1;
	struct obj_key root = { NODE_ROOT, 0, 0 };
	struct inode *r = inode_add(t, &root, INODE_ROOT, NULL);
	if (!r) {
		inodes_free(t);
		return NULL;
	}
	r->nlookup = 1; /* the root is never forgotten */
	return t;
}

static void inode_free(struct hnode *n, void *arg)
{
	(void)arg;
	free(INODE_OF(n, by_ino));
}

void inodes_free(struct inode_table *t)
{
	if (!t)
		return;
	htab_foreach(&t->by_ino, inode_free, NULL); /* by_ino holds every node */
	htab_destroy(&t->by_key);
	htab_destroy(&t->by_ino);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static struct inode *find_ino(struct inode_table *t, uint64_t ino)
{
	struct hnode *n = htab_find(&t->by_ino, hash_mix(ino), match_ino, &ino);
	return n ? INODE_OF(n, by_ino) : NULL;
}

uint64_t inodes_get(struct inode_table *t, const struct obj_key *key,
		    const struct version *content, bool count_lookup)
{
	pthread_mutex_lock(&t->lock);
	struct hnode *n = htab_find(&t->by_key, obj_key_hash(key), match_key, key);
	struct inode *node = n ? INODE_OF(n, by_key) : NULL;
	if (node && content) {
		if (!node->has_content && node->nlookup == 0) {
			/* Named in a listing before its content was known. */
			node->has_content = true;
			node->content = *content;
		} else if (!node->has_content || !version_same_bytes(&node->content, content)) {
			inode_retire(t, node);
			if (node->nlookup == 0)
				inode_drop(t, node);
			node = NULL;
		}
	}
	if (!node && (node = inode_add(t, key, t->next_ino, content)))
		t->next_ino++;
	uint64_t ino = 0;
	if (node) {
		if (count_lookup)
			node->nlookup++;
		ino = node->ino;
	}
	pthread_mutex_unlock(&t->lock);
	return ino;
}

bool inodes_ref(struct inode_table *t, uint64_t ino)
{
	pthread_mutex_lock(&t->lock);
	struct inode *node = find_ino(t, ino);
	if (node)
		node->nlookup++;
	pthread_mutex_unlock(&t->lock);
	return node != NULL;
}

bool inodes_content(struct inode_table *t, uint64_t ino, struct version *out)
{
	pthread_mutex_lock(&t->lock);
	struct inode *node = find_ino(t, ino);
	bool known = node && node->has_content;
	if (known)
		*out = node->content;
	pthread_mutex_unlock(&t->lock);
	return known;
}

bool inodes_key(struct inode_table *t, uint64_t ino, struct obj_key *key)
{
	pthread_mutex_lock(&t->lock);
	struct inode *node = find_ino(t, ino);
	if (node)
		*key = node->key;
	pthread_mutex_unlock(&t->lock);
	return node != NULL;
}

void inodes_forget(struct inode_table *t, uint64_t ino, uint64_t n)
{
	if (ino == INODE_ROOT)
		return;
	pthread_mutex_lock(&t->lock);
	struct inode *node = find_ino(t, ino);
	if (node) {
		node->nlookup = node->nlookup > n ? node->nlookup - n : 0;
		if (node->nlookup == 0)
			inode_drop(t, node);
	}
	pthread_mutex_unlock(&t->lock);
}

size_t inodes_count(struct inode_table *t)
{
	pthread_mutex_lock(&t->lock);
	size_t n = t->by_ino.count;
	pthread_mutex_unlock(&t->lock);
	return n;
}

uint64_t inodes_find(struct inode_table *t, const struct obj_key *key)
{
	pthread_mutex_lock(&t->lock);
	struct hnode *n = htab_find(&t->by_key, obj_key_hash(key), match_key, key);
	uint64_t ino = n ? INODE_OF(n, by_key)->ino : 0;
	pthread_mutex_unlock(&t->lock);
	return ino;
}

struct list_build {
	struct inode_ref *refs;
	size_t count;
};

static void list_one(struct hnode *n, void *arg)
{
	struct list_build *b = arg;
	struct inode *node = INODE_OF(n, by_ino);
	b->refs[b->count++] = (struct inode_ref){ node->ino, node->key };
}

struct inode_ref *inodes_list(struct inode_table *t, size_t *count)
{
	pthread_mutex_lock(&t->lock);
	struct list_build b = { malloc((t->by_ino.count + 1) * sizeof(*b.refs)), 0 };
	if (b.refs)
		htab_foreach(&t->by_ino, list_one, &b);
	pthread_mutex_unlock(&t->lock);
	*count = b.count;
	return b.refs;
}
