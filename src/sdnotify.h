/* sdnotify.h - telling the service manager how the mount is (sd_notify).
 *
 * READY=1 once mounted, STOPPING=1 on the way down, and STATUS= with
 * activity's line at most once a second while work is under way (and once
 * more when it ends, or when the token is refused or works again), for
 * systemctl status.  Without $NOTIFY_SOCKET (not started by systemd as
 * Type=notify) nothing is sent, and the reporter still ends walks, so the
 * info log has them. */
#ifndef SEPAYFS_SDNOTIFY_H
#define SEPAYFS_SDNOTIFY_H

#include "activity.h"

struct status_reporter;

/* READY=1, with a first status naming what is mounted where. */
void sdnotify_ready(const char *base_url, const char *mountpoint);
void sdnotify_stopping(void);

/* The thread that ticks activity and sends its line. */
struct status_reporter *status_reporter_start(struct activity *activity);
void status_reporter_stop(struct status_reporter *r);

#endif
