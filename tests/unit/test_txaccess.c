/* test_txaccess.c - a 403 on transactions belongs to its account. */
#include "check.h"
#include "txaccess.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

struct asker {
	struct tx_access *t;
	int64_t account;
	atomic_int rc;
	bool probe;
	int answer; /* what the request gets, if it is made */
};

static void *ask(void *arg)
{
	struct asker *a = arg;
	int rc = tx_access_begin(a->t, a->account, &a->probe);
	atomic_store(&a->rc, rc);
	if (rc == 0)
		tx_access_end(a->t, a->account, a->probe, a->answer);
	return NULL;
}

int main(void)
{
	struct tx_access t;
	tx_access_init(&t, 60000, false);
	tx_access_set_accounts(&t, 3);
	bool probe;
	/* Nobody refused yet: no probing, everyone asks. */
	CHECK_INT(tx_access_begin(&t, 1, &probe), 0);
	CHECK(!probe);
	tx_access_end(&t, 1, probe, 0);
	CHECK_INT(tx_access_begin(&t, 2, &probe), 0);
	tx_access_end(&t, 2, probe, EPERM);
	/* Account 2 is EPERM without asking; 1, which answered, asks freely. */
	CHECK(tx_access_forbidden(&t, 2));
	CHECK_INT(tx_access_begin(&t, 2, &probe), EPERM);
	CHECK(!tx_access_forbidden(&t, 1));
	CHECK_INT(tx_access_begin(&t, 1, &probe), 0);
	CHECK(!probe);
	tx_access_end(&t, 1, probe, 0);
	/* Account 3, not heard from, after a refusal: the first request probes
	 * and a second waits for its answer, then is refused without asking. */
	CHECK_INT(tx_access_begin(&t, 3, &probe), 0);
	CHECK(probe);
	struct asker second = { &t, 3, -1, false, 0 };
	pthread_t th;
	pthread_create(&th, NULL, ask, &second);
	nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
	CHECK_INT(atomic_load(&second.rc), -1); /* still waiting */
	tx_access_end(&t, 3, true, EPERM);
	pthread_join(th, NULL);
	CHECK_INT(atomic_load(&second.rc), EPERM);
	/* Two of three accounts refused: not every account is EPERM. */
	CHECK(!tx_access_forbidden(&t, 1));
	/* A passing failure is no verdict: the next request probes again. */
	CHECK_INT(tx_access_begin(&t, 4, &probe), 0);
	CHECK(probe);
	tx_access_end(&t, 4, probe, EIO);
	CHECK_INT(tx_access_begin(&t, 4, &probe), 0);
	CHECK(probe);
	tx_access_end(&t, 4, probe, 0);
	tx_access_destroy(&t);

	/* Every listed account refused: every account is EPERM. */
	tx_access_init(&t, 60000, false);
	tx_access_set_accounts(&t, 2);
	CHECK_INT(tx_access_begin(&t, 7, &probe), 0);
	tx_access_end(&t, 7, probe, EPERM);
	CHECK(!tx_access_forbidden(&t, 8));
	CHECK_INT(tx_access_begin(&t, 8, &probe), 0);
	tx_access_end(&t, 8, probe, EPERM);
	CHECK(tx_access_forbidden(&t, 9));
	tx_access_destroy(&t);

	/* A token whose JWT lacks the scope: EPERM for all, no request. */
	tx_access_init(&t, 60000, true);
	CHECK_INT(tx_access_begin(&t, 1, &probe), EPERM);
	tx_access_destroy(&t);
	return check_report("txaccess");
}
