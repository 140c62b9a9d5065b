/* test_monthbuild.c - months built from lines as they arrive: in order, each
 * id once, in memory or in files, within the room they are given. */
#include "check.h"
#include "monthbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *blob_text(const struct blob *b)
{
	char *text = malloc(b->v.len + 1);
	size_t got = 0;
	while (got < b->v.len) {
		ssize_t n = blob_read(b, text + got, b->v.len - got, got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	text[got] = '\0';
	return got == b->v.len ? text : (free(text), NULL);
}

/* Lines of three months, arriving out of order on two "pages", each id of
 * page 2 repeating one of page 1 with other bytes (the first one kept). */
static int add_lines(struct month_build *b, int per_month, int pad)
{
	char line[512], date[32];
	for (int page = 2; page >= 1; page--)
		for (int i = per_month - 1; i >= 0; i--)
			for (int m = 0; m < 3; m++) {
				snprintf(date, sizeof(date), "2026-%02d-%02d %02d:00:00", 9 + m,
					 1 + i % 28, i % 24);
				int n = snprintf(line, sizeof(line), "{\"id\":%d,\"p\":%d,\"x\":\"%.*s\"}\n",
						 m * 1000000 + i, page, pad,
						 "........................................................................"
						 "........................................................................");
				int rc = month_build_add(b, 202609 + m, date, m * 1000000 + i, page, line,
							 (size_t)n);
				if (rc)
					return rc;
			}
	return 0;
}

/* What month m (0-2) must hold: page 1's line of each id, by date, then id. */
static char *expected(int m, int per_month, int pad)
{
	size_t cap = (size_t)per_month * 256 + 1, len = 0;
	char *out = malloc(cap);
	out[0] = '\0';
	for (int day = 1; day <= 28; day++)
		for (int hour = 0; hour < 24; hour++)
			for (int i = 0; i < per_month; i++)
				if (1 + i % 28 == day && i % 24 == hour)
					len += (size_t)snprintf(out + len, cap - len,
							"{\"id\":%d,\"p\":1,\"x\":\"%.*s\"}\n", m * 1000000 + i, pad,
							"........................................................................"
							"........................................................................");
	return out;
}

static void check_months(struct month_build *b, int per_month, int pad, bool want_file)
{
	struct blob *months[3];
	struct timespec now = { 1800000000, 0 };
	CHECK_INT(month_build_finish(b, now, months), 0);
	for (int m = 0; m < 3; m++) {
		char *want = expected(m, per_month, pad), *got = blob_text(months[m]);
		CHECK(got && strcmp(got, want) == 0);
		CHECK((months[m]->file != NULL) == want_file);
		free(want);
		free(got);
		blob_unref(months[m]);
	}
}

static void test_in_memory(void)
{
	struct month_room room;
	month_room_init(&room, 16u << 20, -1);
	struct month_build *b = month_build_new(&room, 202609, 202611);
	CHECK_INT(add_lines(b, 300, 10), 0);
	CHECK_INT(month_build_count(b), 1800);
	check_months(b, 300, 10, false);
	/* A walk that starts again forgets what came. */
	month_build_reset(b);
	CHECK_INT(atomic_load(&room.used), 0);
	CHECK_INT(add_lines(b, 20, 0), 0);
	check_months(b, 20, 0, false);
	month_build_free(b);
	CHECK_INT(atomic_load(&room.used), 0);
}

/* More lines than a build keeps in memory, months larger than a blob in
 * memory: lines and months in unlinked files of the folder, the same bytes. */
static void test_in_files(void)
{
	char dir[] = "/tmp/sepayfs-test-monthbuild-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY);
	struct month_room room;
	month_room_init(&room, 32u << 20, dir_fd);
	struct month_build *b = month_build_new(&room, 202609, 202611);
	CHECK_INT(add_lines(b, 9000, 140), 0); /* some 9 MiB of lines */
	CHECK(atomic_load(&room.used) <= (8u << 20)); /* 4 MiB of records, 4 of lines */
	check_months(b, 9000, 140, true);
	month_build_free(b);
	CHECK_INT(atomic_load(&room.used), 0);
	close(dir_fd);
	CHECK(rmdir(dir) == 0); /* nothing left behind: the files were unlinked */
}

/* A room too small, and no folder: EFBIG, never more than the room. */
static void test_no_room(void)
{
	struct month_room room;
	month_room_init(&room, 64u << 10, -1);
	struct month_build *b = month_build_new(&room, 202609, 202611);
	CHECK_INT(add_lines(b, 2000, 100), EFBIG);
	CHECK(atomic_load(&room.used) <= 64u << 10);
	month_build_free(b);
	CHECK_INT(atomic_load(&room.used), 0);
}

int main(void)
{
	test_in_memory();
	test_in_files();
	test_no_room();
	return check_report("monthbuild");
}
