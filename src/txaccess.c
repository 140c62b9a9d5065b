/* txaccess.c - per-account verdicts on transactions. */
#include "txaccess.h"

#include "clock.h"

#include <errno.h>
#include <string.h>

static uint64_t now_ms(void)
{
	return clock_mono_ms();
}

void tx_access_init(struct tx_access *t, uint64_t window_ms, bool no_scope)
{
	memset(t, 0, sizeof(*t));
	t->window_ms = window_ms;
	t->no_scope = no_scope;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->answered, NULL);
}

void tx_access_destroy(struct tx_access *t)
{
	pthread_cond_destroy(&t->answered);
	pthread_mutex_destroy(&t->lock);
}

void tx_access_set_accounts(struct tx_access *t, size_t listed)
{
	pthread_mutex_lock(&t->lock);
	t->accounts_listed = listed;
	pthread_mutex_unlock(&t->lock);
}

static struct tx_verdict *find(struct tx_access *t, int64_t account)
{
	for (size_t i = 0; i < TX_ACCESS_SLOTS; i++)
		if (t->slots[i].account == account)
			return &t->slots[i];
	return NULL;
}

/* The account's slot, made from a free one or from the one used least
 * recently that no request is probing. */
static struct tx_verdict *find_or_add(struct tx_access *t, int64_t account, uint64_t now)
{
	struct tx_verdict *v = find(t, account), *oldest = NULL;
	if (v)
		return v;
	for (size_t i = 0; i < TX_ACCESS_SLOTS; i++) {
		struct tx_verdict *s = &t->slots[i];
		if (!s->account) {
			oldest = s;
			break;
		}
		if (!s->probing && (!oldest || s->used_ms < oldest->used_ms))
			oldest = s;
	}
	if (oldest) {
		memset(oldest, 0, sizeof(*oldest));
		oldest->account = account;
		oldest->used_ms = now;
	}
	return oldest;
}

static bool forbidden_locked(struct tx_access *t, int64_t account, uint64_t now)
{
	if (t->no_scope || now < t->all_until_ms)
		return true;
	struct tx_verdict *v = find(t, account);
	return v && now < v->forbidden_until_ms;
}

bool tx_access_forbidden(struct tx_access *t, int64_t account)
{
	pthread_mutex_lock(&t->lock);
	bool forbidden = forbidden_locked(t, account, now_ms());
	pthread_mutex_unlock(&t->lock);
	return forbidden;
}

int tx_access_begin(struct tx_access *t, int64_t account, bool *probe)
{
	*probe = false;
	pthread_mutex_lock(&t->lock);
	int rc = 0;
	for (;;) {
		uint64_t now = now_ms();
		if (forbidden_locked(t, account, now)) {
			rc = EPERM;
			break;
		}
		struct tx_verdict *v = find(t, account);
		if (!t->refusals_seen || (v && v->allowed))
			break;
		if (v && v->probing) {
			pthread_cond_wait(&t->answered, &t->lock);
			continue;
		}
		if ((v = find_or_add(t, account, now))) {
			v->probing = true;
			*probe = true;
		}
		break;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void tx_access_end(struct tx_access *t, int64_t account, bool probe, int rc)
{
	pthread_mutex_lock(&t->lock);
	uint64_t now = now_ms();
	struct tx_verdict *v = rc == 0 || rc == EPERM ? find_or_add(t, account, now) : find(t, account);
	if (v) {
		if (probe)
			v->probing = false;
		v->used_ms = now;
		if (rc == 0) {
			v->allowed = true;
			v->allowed_ms = now;
			v->forbidden_until_ms = 0;
		} else if (rc == EPERM) {
			v->allowed = false;
			v->forbidden_until_ms = now + t->window_ms;
		}
	}
	if (rc == EPERM) {
		t->refusals_seen = true;
		size_t refused = 0;
		for (size_t i = 0; i < TX_ACCESS_SLOTS; i++)
			refused += t->slots[i].account > 0 && /* accounts, not the company */
				   now < t->slots[i].forbidden_until_ms;
		if (t->accounts_listed && refused >= t->accounts_listed)
			t->all_until_ms = now + t->window_ms;
	}
	pthread_cond_broadcast(&t->answered);
	pthread_mutex_unlock(&t->lock);
}

bool tx_access_recently_allowed(struct tx_access *t, int64_t account)
{
	pthread_mutex_lock(&t->lock);
	struct tx_verdict *v = find(t, account);
	bool recent = v && v->allowed && now_ms() - v->allowed_ms < t->window_ms;
	pthread_mutex_unlock(&t->lock);
	return recent;
}
