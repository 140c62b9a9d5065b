/* sdnotify.c - READY, STOPPING and STATUS for systemd. */
#include "sdnotify.h"

#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

/* systemctl status is read by people: a line a second is as fast as one
 * can follow, and costs the manager nothing. */
#define STATUS_PERIOD_MS 1000

struct status_reporter {
	pthread_t thread;
	struct activity *activity;
	char sent[ACTIVITY_LINE_MAX];
};

void sdnotify_ready(const char *base_url, const char *mountpoint)
{
	char shown[160];
	log_printable(shown, sizeof(shown), base_url);
	sd_notifyf(0, "READY=1\nSTATUS=mounted %s on %s, idle", shown, mountpoint);
}

void sdnotify_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=unmounting");
}

static void *report_loop(void *arg)
{
	struct status_reporter *r = arg;
	bool busy = false;
	while (activity_wait(r->activity, busy, STATUS_PERIOD_MS)) {
		busy = activity_tick(r->activity);
		char line[ACTIVITY_LINE_MAX];
		activity_line(r->activity, line, sizeof(line));
		if (strcmp(line, r->sent) != 0) {
			sd_notifyf(0, "STATUS=%s", line);
			memcpy(r->sent, line, sizeof(line));
		}
	}
	return NULL;
}

struct status_reporter *status_reporter_start(struct activity *activity)
{
	struct status_reporter *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->activity = activity;
	if (pthread_create(&r->thread, NULL, report_loop, r) != 0) {
		log_warn("no status reporter thread: systemctl status and the walk log stay quiet");
		free(r);
		return NULL;
	}
	return r;
}

void status_reporter_stop(struct status_reporter *r)
{
	if (!r)
		return;
	activity_stop(r->activity);
	pthread_join(r->thread, NULL);
	free(r);
}
