/* viewtree.c - balances.csv and by-number's names, kept while the
 * listings they were built from are the cache's newest. */
#include "viewtree.h"

#include "log.h"
#include "monthcsv.h"
#include "months.h"
#include "objects.h"
#include "strbuf.h"
#include "transactions.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void viewtree_init(struct viewtree *vt, struct cache *cache, int spill_dir)
{
	memset(vt, 0, sizeof(*vt));
	vt->cache = cache;
	vt->spill_dir = spill_dir;
	pthread_mutex_init(&vt->lock, NULL);
}

void viewtree_destroy(struct viewtree *vt)
{
	free(vt->links_subs);
	views_number_links_release(&vt->links);
	blob_unref(vt->balances);
	for (size_t i = 0; i < VIEWTREE_CSV_SLOTS; i++) {
		blob_unref(vt->csv[i].csv);
		blob_unref(vt->totals[i].csv);
	}
	pthread_mutex_destroy(&vt->lock);
}

static struct view_source source_of(const struct snapshot *s)
{
	return s ? (struct view_source){ s->fetched, s->count } : (struct view_source){ { 0, 0 }, 0 };
}

static bool same_source(struct view_source a, struct view_source b)
{
	return a.fetched.tv_sec == b.fetched.tv_sec && a.fetched.tv_nsec == b.fetched.tv_nsec &&
	       a.count == b.count;
}

struct blob *viewtree_balances_of(struct viewtree *vt, struct snapshot *s)
{
	struct view_source from = source_of(s);
	pthread_mutex_lock(&vt->lock);
	struct blob *b = vt->balances && same_source(vt->balances_from, from)
			 ? blob_ref(vt->balances) : NULL;
	pthread_mutex_unlock(&vt->lock);
	if (b)
		return b;
	/* Built unlocked: two builders of one listing make the same bytes. */
	if (!(b = views_balances(s)))
		return NULL;
	pthread_mutex_lock(&vt->lock);
	blob_unref(vt->balances);
	vt->balances = blob_ref(b);
	vt->balances_from = from;
	pthread_mutex_unlock(&vt->lock);
	return b;
}

int viewtree_balances(struct viewtree *vt, struct blob **out)
{
	struct obj_key key = { OBJ_ACCOUNT_LIST, 0, 0 };
	struct snapshot *s;
	int rc = cache_get(vt->cache, &key, &s);
	if (rc)
		return rc;
	*out = viewtree_balances_of(vt, s);
	snapshot_unref(s);
	return *out ? 0 : ENOMEM;
}

/* Up to max of the memo's names after cookie `after`, copied. */
static int copy_links(struct viewtree *vt, uint64_t after, size_t max, struct number_links *out)
{
	pthread_mutex_lock(&vt->lock);
	const struct number_links *all = &vt->links;
	size_t lo = 0, hi = all->count;
	while (lo < hi) { /* the first with a cookie past after */
		size_t mid = lo + (hi - lo) / 2;
		if (all->links[mid].cookie <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t n = all->count - lo < max ? all->count - lo : max;
	out->count = n;
	out->links = malloc((n ? n : 1) * sizeof(*out->links));
	if (out->links && n)
		memcpy(out->links, all->links + lo, n * sizeof(*out->links));
	pthread_mutex_unlock(&vt->lock);
	return out->links ? 0 : ENOMEM;
}

/* Whether the memo was built from this account listing. */
static bool memo_of_list(struct viewtree *vt, const struct snapshot *list)
{
	pthread_mutex_lock(&vt->lock);
	bool same = vt->links_subs && same_source(vt->links_list, source_of(list));
	pthread_mutex_unlock(&vt->lock);
	return same;
}

/* The memo replaced by what b gathered from list and the sub-account
 * listings of `sources`, unless it was built from the same ones; takes b
 * and sources. */
static int keep_links(struct viewtree *vt, const struct snapshot *list,
		      struct number_builder *b, struct view_source *sources, bool every)
{
	pthread_mutex_lock(&vt->lock);
	bool same = vt->links_subs && same_source(vt->links_list, source_of(list));
	for (size_t i = 0; same && i < list->count; i++)
		same = same_source(vt->links_subs[i], sources[i]);
	pthread_mutex_unlock(&vt->lock);
	if (same) {
		views_links_abort(b);
		free(sources);
		return 0;
	}
	struct number_links built;
	if (!views_links_finish(b, &built)) {
		free(sources);
		return ENOMEM;
	}
	pthread_mutex_lock(&vt->lock);
	views_number_links_release(&vt->links);
	free(vt->links_subs);
	vt->links = built;
	vt->links_list = source_of(list);
	vt->links_subs = sources;
	vt->links_every = every;
	pthread_mutex_unlock(&vt->lock);
	return 0;
}

/* Whether the names were built from this listing and every account's
 * sub-accounts, each still fresh and the same fetch: nothing to ask or
 * rebuild. */
static bool every_still_fresh(struct viewtree *vt, const struct snapshot *list)
{
	pthread_mutex_lock(&vt->lock);
	bool same = vt->links_subs && vt->links_every &&
		    same_source(vt->links_list, source_of(list));
	struct view_source *sources = NULL;
	if (same && (sources = malloc((list->count ? list->count : 1) * sizeof(*sources))))
		memcpy(sources, vt->links_subs, list->count * sizeof(*sources));
	pthread_mutex_unlock(&vt->lock);
	if (!sources)
		return false;
	for (size_t i = 0; same && i < list->count; i++) {
		struct obj_key key = { OBJ_SUB_LIST, list->entries[i].id, 0 };
		struct snapshot *s = cache_peek(vt->cache, &key, true);
		same = s && same_source(source_of(s), sources[i]);
		snapshot_unref(s);
	}
	free(sources);
	return same;
}

/* Gathers the names of list and its accounts' sub-accounts, one listing
 * held at a time (the cache's budget holds while thousands are read). */
static int gather_links(struct viewtree *vt, const struct snapshot *list,
			enum view_links_from from)
{
	struct number_builder b;
	struct view_source *sources = calloc(list->count ? list->count : 1, sizeof(*sources));
	if (!sources || !views_links_begin(&b, list)) {
		free(sources);
		return ENOMEM;
	}
	for (size_t i = 0; i < list->count; i++) {
		struct obj_key sub_key = { OBJ_SUB_LIST, list->entries[i].id, 0 };
		struct snapshot *subs = NULL;
		if (from == VIEW_LINKS_HELD)
			subs = cache_peek(vt->cache, &sub_key, false);
		else if (cache_get(vt->cache, &sub_key, &subs) != 0)
			subs = NULL; /* logged by its request; its sub-accounts go */
		sources[i] = source_of(subs);
		bool ok = !subs || views_links_add_subs(&b, i, list->entries[i].id, subs);
		snapshot_unref(subs);
		if (!ok) {
			free(sources);
			return ENOMEM;
		}
	}
	return keep_links(vt, list, &b, sources, from == VIEW_LINKS_EVERY);
}

/* Makes the memo fit `from`. */
static int ensure_links(struct viewtree *vt, enum view_links_from from)
{
	pthread_mutex_lock(&vt->lock);
	bool built = vt->links_subs != NULL;
	pthread_mutex_unlock(&vt->lock);
	if (from == VIEW_LINKS_LAST && built)
		return 0;
	struct obj_key key = { OBJ_ACCOUNT_LIST, 0, 0 };
	struct snapshot *list;
	int rc = cache_get(vt->cache, &key, &list);
	if (rc)
		return rc;
	/* Built from this listing with every account's sub-accounts (or those
	 * held then): a lookup must not rebuild it from fewer; nor a name
	 * missing (a file manager's probe) rebuild what nothing changed. */
	if (!(from == VIEW_LINKS_HELD && memo_of_list(vt, list)) &&
	    !(from == VIEW_LINKS_EVERY && every_still_fresh(vt, list)))
		rc = gather_links(vt, list, from);
	snapshot_unref(list);
	return rc;
}

int viewtree_links(struct viewtree *vt, enum view_links_from from, uint64_t after, size_t max,
		   struct number_links *out)
{
	memset(out, 0, sizeof(*out));
	int rc = ensure_links(vt, from);
	return rc ? rc : copy_links(vt, after, max, out);
}

int viewtree_find(struct viewtree *vt, const char *name, struct number_link *out)
{
	const enum view_links_from tries[] = { VIEW_LINKS_HELD, VIEW_LINKS_EVERY };
	for (size_t t = 0; t < 2; t++) {
		int rc = ensure_links(vt, tries[t]);
		if (rc)
			return rc;
		pthread_mutex_lock(&vt->lock);
		const struct number_link *l = views_find_name(&vt->links, name);
		if (l)
			*out = *l;
		pthread_mutex_unlock(&vt->lock);
		if (l)
			return 0;
	}
	return ENOENT;
}

static struct csv_slot *csv_slot_of(struct viewtree *vt, int64_t account, int32_t month)
{
	for (size_t i = 0; i < VIEWTREE_CSV_SLOTS; i++)
		if (vt->csv[i].csv && vt->csv[i].account == account && vt->csv[i].month == month)
			return &vt->csv[i];
	return NULL;
}

struct blob *viewtree_month_csv(struct viewtree *vt, int64_t account, int32_t month,
				const struct blob *jsonl, int *rc)
{
	pthread_mutex_lock(&vt->lock);
	struct csv_slot *slot = csv_slot_of(vt, account, month);
	struct blob *b = slot && version_same_bytes(&slot->from, &jsonl->v) ? blob_ref(slot->csv)
									  : NULL;
	if (b)
		slot->used = ++vt->csv_clock;
	pthread_mutex_unlock(&vt->lock);
	if (b)
		return b;
	/* Made unlocked (a busy month takes a while); two makers of one month
	 * make the same bytes. */
	if ((*rc = monthcsv_build(jsonl, vt->spill_dir, jsonl->v.mtime, &b))) {
		char path[96];
		snprintf(path, sizeof(path), "%04d-%02d.csv", (int)(month / 100), (int)(month % 100));
		log_error("csv: account %" PRId64 ", %s: %s", account, path, strerror(*rc));
		return NULL;
	}
	pthread_mutex_lock(&vt->lock);
	if (!(slot = csv_slot_of(vt, account, month))) {
		slot = &vt->csv[0];
		for (size_t i = 1; i < VIEWTREE_CSV_SLOTS; i++)
			if (!vt->csv[i].csv || vt->csv[i].used < slot->used)
				slot = &vt->csv[i];
	}
	blob_unref(slot->csv);
	*slot = (struct csv_slot){ account, month, jsonl->v, blob_ref(b), ++vt->csv_clock };
	pthread_mutex_unlock(&vt->lock);
	return b;
}

struct blob *viewtree_csv_kept(struct viewtree *vt, int64_t account, int32_t month)
{
	pthread_mutex_lock(&vt->lock);
	struct csv_slot *slot = csv_slot_of(vt, account, month);
	struct blob *b = slot ? blob_ref(slot->csv) : NULL;
	pthread_mutex_unlock(&vt->lock);
	return b;
}

static int build_totals(int64_t account, int32_t since, struct blob *const *months, size_t n,
			struct blob **out)
{
	bool with_balance = account != TX_COMPANY;
	struct strbuf sb;
	strbuf_init(&sb, 0);
	strbuf_puts(&sb, MONTHCSV_TOTALS_HEADER);
	strbuf_puts(&sb, with_balance ? ",balance\r\n" : "\r\n");
	struct timespec newest = { 0, 0 };
	char carried[CSV_MONEY_MAX] = "";
	int rc = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		struct month_totals t;
		int32_t month = month_add(since, (int32_t)i);
		if ((rc = monthcsv_totals(months[i], &t)))
			break;
		if (!t.count)
			memcpy(t.balance, carried, sizeof(carried));
		memcpy(carried, t.balance, sizeof(carried));
		if (!monthcsv_totals_row(&sb, month, &t, with_balance))
			rc = EBADMSG;
		struct timespec m = months[i]->v.mtime;
		if (m.tv_sec > newest.tv_sec || (m.tv_sec == newest.tv_sec && m.tv_nsec > newest.tv_nsec))
			newest = m;
	}
	if (!rc && strbuf_failed(&sb))
		rc = ENOMEM;
	if (!rc && !(*out = blob_new(sb.data, sb.len, newest)))
		rc = ENOMEM;
	strbuf_release(&sb);
	return rc;
}

struct blob *viewtree_totals(struct viewtree *vt, int64_t account, int32_t since,
			     struct blob *const *months, size_t n, int *rc)
{
	uint64_t from = hash_mix((uint64_t)since * 31 + n);
	for (size_t i = 0; i < n; i++)
		from = hash_mix(from ^ months[i]->v.hash) + months[i]->v.len;
	pthread_mutex_lock(&vt->lock);
	struct totals_slot *slot = NULL;
	for (size_t i = 0; i < VIEWTREE_CSV_SLOTS && !slot; i++)
		if (vt->totals[i].csv && vt->totals[i].account == account && vt->totals[i].from == from)
			slot = &vt->totals[i];
	struct blob *b = slot ? blob_ref(slot->csv) : NULL;
	if (b)
		slot->used = ++vt->csv_clock;
	pthread_mutex_unlock(&vt->lock);
	if (b)
		return b;
	if ((*rc = build_totals(account, since, months, n, &b))) {
		log_error("totals: account %" PRId64 ": %s", account,
			  *rc == EBADMSG ? "a month holds money that is no number" : strerror(*rc));
		*rc = EIO;
		return NULL;
	}
	pthread_mutex_lock(&vt->lock);
	slot = &vt->totals[0];
	for (size_t i = 1; i < VIEWTREE_CSV_SLOTS; i++)
		if (!vt->totals[i].csv || vt->totals[i].used < slot->used)
			slot = &vt->totals[i];
	blob_unref(slot->csv);
	*slot = (struct totals_slot){ account, from, blob_ref(b), ++vt->csv_clock };
	pthread_mutex_unlock(&vt->lock);
	return b;
}

struct blob *viewtree_totals_latest(struct viewtree *vt, int64_t account)
{
	struct totals_slot *latest = NULL;
	pthread_mutex_lock(&vt->lock);
	for (size_t i = 0; i < VIEWTREE_CSV_SLOTS; i++)
		if (vt->totals[i].csv && vt->totals[i].account == account &&
		    (!latest || vt->totals[i].used > latest->used))
			latest = &vt->totals[i];
	struct blob *b = latest ? blob_ref(latest->csv) : NULL;
	pthread_mutex_unlock(&vt->lock);
	return b;
}

struct blob *viewtree_csv_kept_as(struct viewtree *vt, int64_t account, int32_t month,
				  const struct version *v)
{
	pthread_mutex_lock(&vt->lock);
	struct csv_slot *slot = csv_slot_of(vt, account, month);
	struct blob *b = slot && version_same_bytes(&slot->csv->v, v) ? blob_ref(slot->csv) : NULL;
	pthread_mutex_unlock(&vt->lock);
	return b;
}

struct blob *viewtree_totals_kept(struct viewtree *vt, int64_t account, const struct version *v)
{
	struct blob *b = NULL;
	pthread_mutex_lock(&vt->lock);
	for (size_t i = 0; i < VIEWTREE_CSV_SLOTS && !b; i++)
		if (vt->totals[i].csv && vt->totals[i].account == account &&
		    version_same_bytes(&vt->totals[i].csv->v, v))
			b = blob_ref(vt->totals[i].csv);
	pthread_mutex_unlock(&vt->lock);
	return b;
}

bool viewtree_name_of(struct viewtree *vt, int64_t account, int64_t sub,
		      char name[VIEWS_NAME_MAX])
{
	bool found = false;
	pthread_mutex_lock(&vt->lock);
	for (size_t i = 0; !found && i < vt->links.count; i++) {
		const struct number_link *l = &vt->links.links[i];
		if (l->account == account && l->sub == sub) {
			memcpy(name, l->name, VIEWS_NAME_MAX);
			found = true;
		}
	}
	pthread_mutex_unlock(&vt->lock);
	return found;
}
