/* inodes.c - inode table with lookup counts. */
#include "inodes.h"

#include "log.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

struct inode {
	struct hnode by_key;     /* a directory's one number; a file's versions */
	struct hnode by_ino;
	struct obj_key key;
	uint64_t ino;
	uint64_t nlookup;
	bool has_content;
	struct version content;  /* files: the version this inode shows */
	struct blob *kept;       /* its bytes, kept once a refresh replaced them */
};

#define INODE_OF(ptr, member) ((struct inode *)((char *)(ptr) - offsetof(struct inode, member)))

struct inode_table {
	pthread_mutex_t lock;
	struct htab by_key;
	struct htab by_ino;
	uint64_t collisions;
	inodes_number_fn number;
	size_t keep_budget;      /* bytes inodes may keep past a refresh */
	size_t kept_bytes;
};

static bool match_key(const struct hnode *n, const void *key)
{
	return obj_key_equal(&INODE_OF(n, by_key)->key, key);
}

static bool match_dir_key(const struct hnode *n, const void *key)
{
	return !INODE_OF(n, by_key)->has_content && match_key(n, key);
}

static bool match_ino(const struct hnode *n, const void *ino)
{
	return INODE_OF(n, by_ino)->ino == *(const uint64_t *)ino;
}

uint64_t inodes_number(const struct obj_key *key, const struct version *content)
{
	/* hash_mix is fixed (htab.h): the same content must get the same
	 * number in every version of sepayfs that reads the same cache. */
	uint64_t h = hash_mix(hash_mix(hash_mix((uint64_t)key->kind) ^ (uint64_t)key->a) ^
			      (uint64_t)key->b);
	if (content)
		h = hash_mix(hash_mix(h ^ content->hash) ^ (uint64_t)content->len);
	/* 0 is no inode, 1 the root; FUSE_UNKNOWN_INO (0xffffffff) means
	 * "unknown" in a directory entry. */
	if (h <= INODE_ROOT || h == 0xffffffffULL)
		h += 2;
	return h;
}

uint32_t inodes_generation(const struct obj_key *key, const struct version *content)
{
	/* Hashed otherwise than the number: two nodes whose numbers collide
	 * (one of them then numbered elsewhere) still differ here, so a
	 * handle of one never opens the other. */
	uint64_t h = hash_mix((uint64_t)key->kind ^ 0x5bd1e9955bd1e995ULL);
	h = hash_mix(h + (uint64_t)key->a * 0x9e3779b97f4a7c15ULL);
	h = hash_mix(h ^ ((uint64_t)key->b + 0x632be59bd9b4e019ULL));
	if (content)
		h = hash_mix(h + content->hash * 0xff51afd7ed558ccdULL) ^ (uint64_t)content->len;
	uint32_t g = (uint32_t)(h ^ (h >> 32));
	return g ? g : 1;
}

/* Whether node is what (key, content) names. */
static bool same_node(const struct inode *node, const struct obj_key *key,
		      const struct version *content)
{
	if (!obj_key_equal(&node->key, key) || node->has_content != (content != NULL))
		return false;
	return !content || version_same_bytes(&node->content, content);
}

static struct inode *find_ino(struct inode_table *t, uint64_t ino)
{
	struct hnode *n = htab_find(&t->by_ino, hash_mix(ino), match_ino, &ino);
	return n ? INODE_OF(n, by_ino) : NULL;
}

/* The number (key, content) has in this table: its own, unless another
 * node holds it (a collision, which 64 bits make absurdly rare), then the
 * next free one.  Sets *found to the node already there, if any. */
static uint64_t place(struct inode_table *t, const struct obj_key *key,
		      const struct version *content, struct inode **found)
{
	uint64_t ino = t->number(key, content);
	*found = NULL;
	for (;;) {
		struct inode *node = find_ino(t, ino);
		if (!node)
			return ino;
		if (same_node(node, key, content)) {
			*found = node;
			return ino;
		}
		if (t->collisions++ == 0)
			log_error("inode %llu names two objects (kinds %d and %d): the second gets "
				  "another number, stable only for this mount",
				  (unsigned long long)ino, node->key.kind, key->kind);
		do
			ino++;
		while (ino <= INODE_ROOT || ino == 0xffffffffULL);
	}
}

static struct inode *inode_add(struct inode_table *t, const struct obj_key *key, uint64_t ino,
			       const struct version *content)
{
	struct inode *node = calloc(1, sizeof(*node));
	if (!node)
		return NULL;
	node->key = *key;
	node->ino = ino;
	if (content) {
		node->has_content = true;
		node->content = *content;
	}
	htab_insert(&t->by_key, &node->by_key, obj_key_hash(key));
	htab_insert(&t->by_ino, &node->by_ino, hash_mix(ino));
	return node;
}

static void inode_release_kept(struct inode_table *t, struct inode *node)
{
	if (node->kept) {
		t->kept_bytes -= node->kept->v.len;
		blob_unref(node->kept);
		node->kept = NULL;
	}
}

static void inode_drop(struct inode_table *t, struct inode *node)
{
	inode_release_kept(t, node);
	htab_remove(&t->by_key, &node->by_key);
	htab_remove(&t->by_ino, &node->by_ino);
	free(node);
}

struct inode_table *inodes_new(void)
{
	return inodes_new_numbered(inodes_number);
}

struct inode_table *inodes_new_numbered(inodes_number_fn number)
{
	struct inode_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->number = number;
	if (htab_init(&t->by_key) || htab_init(&t->by_ino)) {
		htab_destroy(&t->by_key);
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
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
	struct inode *node = INODE_OF(n, by_ino);
	blob_unref(node->kept);
	free(node);
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

/* The number of key with content; a lookup (counted) also enters it in the
 * table and counts it, a peek leaves the table as it is. */
static uint64_t number_of(struct inode_table *t, const struct obj_key *key,
			  const struct version *content, bool counted)
{
	if (key->kind == NODE_ROOT)
		return INODE_ROOT;
	pthread_mutex_lock(&t->lock);
	struct inode *node;
	uint64_t ino = place(t, key, content, &node);
	if (counted) {
		if (!node && !(node = inode_add(t, key, ino, content)))
			ino = 0;
		if (node)
			node->nlookup++;
	}
	pthread_mutex_unlock(&t->lock);
	return ino;
}

uint64_t inodes_get(struct inode_table *t, const struct obj_key *key,
		    const struct version *content)
{
	return number_of(t, key, content, true);
}

uint64_t inodes_peek(struct inode_table *t, const struct obj_key *key,
		     const struct version *content)
{
	return number_of(t, key, content, false);
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

bool inodes_node(struct inode_table *t, uint64_t ino, struct obj_key *key, bool *has_content,
		 struct version *content)
{
	pthread_mutex_lock(&t->lock);
	struct inode *node = find_ino(t, ino);
	if (node) {
		*key = node->key;
		*has_content = node->has_content;
		if (node->has_content)
			*content = node->content;
	}
	pthread_mutex_unlock(&t->lock);
	return node != NULL;
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
	struct hnode *n = htab_find(&t->by_key, obj_key_hash(key), match_dir_key, key);
	uint64_t ino = n ? INODE_OF(n, by_key)->ino : 0;
	pthread_mutex_unlock(&t->lock);
	return ino;
}

void inodes_set_keep_budget(struct inode_table *t, size_t bytes)
{
	pthread_mutex_lock(&t->lock);
	t->keep_budget = bytes;
	pthread_mutex_unlock(&t->lock);
}

bool inodes_outdated(struct inode_table *t, const struct obj_key *key,
		     const struct version *current, struct blob *previous)
{
	bool outdated = false;
	pthread_mutex_lock(&t->lock);
	uint64_t hash = obj_key_hash(key);
	for (struct hnode *n = htab_find(&t->by_key, hash, match_key, key); n;
	     n = htab_find_next(&t->by_key, n, match_key, key)) {
		struct inode *node = INODE_OF(n, by_key);
		if (!node->has_content || (current && version_same_bytes(&node->content, current)))
			continue;
		outdated = true;
		if (previous && !node->kept && version_same_bytes(&node->content, &previous->v) &&
		    t->kept_bytes + previous->v.len <= t->keep_budget) {
			node->kept = blob_ref(previous);
			t->kept_bytes += previous->v.len;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return outdated;
}

struct blob *inodes_kept(struct inode_table *t, uint64_t ino)
{
	pthread_mutex_lock(&t->lock);
	struct inode *node = find_ino(t, ino);
	struct blob *b = node && node->kept ? blob_ref(node->kept) : NULL;
	pthread_mutex_unlock(&t->lock);
	return b;
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
