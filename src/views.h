/* views.h - the same data in the users' terms: balances.csv and by-number.
 *
 * A view asks nothing: it renders objects the cache holds.  The account
 * listing keeps, for each account, a row of the fields the views show
 * (views_account_row, made when the list is fetched); balances.csv is
 * those rows, and by-number names each account and sub-account by its
 * bank account number. */
#ifndef SEPAYFS_VIEWS_H
#define SEPAYFS_VIEWS_H

#include "snapshot.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A list item's fields the views show, as one compact JSON line: the
 * account number, the bank's short name and code (from "bank": {...} or
 * SePay's flat bank_short_name/bank_code), the holder, the label, the
 * balance and whether the account is active, each as the API wrote it.
 * Its bytes change when, and only when, one of these does.  NULL on ENOMEM. */
struct blob *views_account_row(const json_t *item, struct timespec now);

/* The header of balances.csv. */
#define VIEWS_BALANCES_HEADER \
	"id,account_number,bank,bank_code,account_holder_name,label,accumulated,active\r\n"

/* balances.csv from an account listing: the header, then a row an account
 * in id order.  Its mtime is the newest of the listing's and its rows' (so
 * it moves when a row does, and only then).  NULL on ENOMEM. */
struct blob *views_balances(const struct snapshot *list);

/* by-number's names. */
#define VIEWS_NAME_MAX 48 /* a safe name is at most 40 bytes */
struct number_link {
	char name[VIEWS_NAME_MAX];
	int64_t account;
	int64_t sub;      /* 0: the account itself */
	uint64_t cookie;  /* a hash of the name, for readdir cookies */
};
struct number_links {
	size_t count;     /* sorted by cookie */
	struct number_link *links;
};

/* The names of by-number: each account of the listing by its number, and
 * each sub-account of the accounts whose sub-account listing is in subs
 * (subs[i] for list->entries[i], NULL when not held).  A number two
 * objects share is shown as "<bank code>-<number>" for each; a name that
 * is not safe as a file name (letters, digits, '.', '-', '_', not first a
 * '.' or a '-', at most 40 bytes), or still shared, is left out with a log line.
 * false on ENOMEM. */
bool views_number_links(const struct snapshot *list, struct snapshot *const *subs,
			struct number_links *out);
/* The same, one account's sub-accounts at a time, so no more than one
 * listing need be held while the names are gathered: begin with the
 * account listing, add each account's sub-account listing (index: its
 * entry in the listing), finish (or abort).  false on ENOMEM (the builder
 * is then released). */
struct candidate;
struct number_builder {
	struct candidate *candidates;
	size_t count, cap;
	size_t accounts;
	char (*codes)[16]; /* each account's bank code, "" when none or too long */
};
bool views_links_begin(struct number_builder *b, const struct snapshot *list);
bool views_links_add_subs(struct number_builder *b, size_t index, int64_t account,
			  const struct snapshot *subs);
bool views_links_finish(struct number_builder *b, struct number_links *out);
void views_links_abort(struct number_builder *b);
void views_number_links_release(struct number_links *links);
/* A name by-number may show: letters, digits, '.', '-', '_', not first a
 * '.' nor a '-', 1 to 40 bytes. */
bool views_safe_name(const char *name);
uint64_t views_name_cookie(const char *name);
const struct number_link *views_find_name(const struct number_links *links, const char *name);
/* The link's target, relative to by-number. */
void views_link_target(const struct number_link *link, char *buf, size_t size);

#endif
