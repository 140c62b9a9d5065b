/* login_secret.c - reading the client secret. */
#include "login_secret.h"

#include "login_text.h"
#include "secretfile.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* A client secret is a few dozen characters. */
#define MAX_SECRET 4096

static struct termios tty_saved;
static volatile sig_atomic_t tty_restore;

static void restore_tty_and_die(int sig)
{
	if (tty_restore)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty_saved);
	raise(sig); /* SA_RESETHAND: the default action, once this returns */
}

static bool strip_secret(char *s, const char *from)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	if (!n) {
		fprintf(stderr, "sepayfs-login: no client secret in %s\n", from);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			fprintf(stderr, "sepayfs-login: the client secret in %s must be one line "
					"without control characters\n", from);
			return false;
		}
	}
	if (!utf8_valid(s)) {
		fprintf(stderr, "sepayfs-login: the client secret in %s is not valid UTF-8\n", from);
		return false;
	}
	return true;
}

/* One line from standard input, without echo when it is a terminal. */
static char *read_secret_stdin(const char *client_id)
{
	char *buf = malloc(MAX_SECRET);
	if (!buf) {
		fprintf(stderr, "sepayfs-login: out of memory\n");
		return NULL;
	}
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction old[sizeof(sigs) / sizeof(sigs[0])];
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &tty_saved) == 0;
	if (tty) {
		struct sigaction sa = { .sa_handler = restore_tty_and_die, .sa_flags = SA_RESETHAND };
		sigemptyset(&sa.sa_mask);
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			sigaction(sigs[i], &sa, &old[i]);
		struct termios quiet = tty_saved;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		tty_restore = 1;
		/* Echo off before the prompt: what is typed after it never shows. */
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		fprintf(stderr, "Client secret for %s: ", client_id);
		fflush(stderr);
	}
	size_t n = 0;
	bool too_long = false, failed = false;
	for (;;) {
		char c;
		ssize_t r = read(STDIN_FILENO, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			failed = true;
		if (r <= 0 || c == '\n')
			break;
		if (n + 1 >= MAX_SECRET) {
			too_long = true;
			continue; /* read the rest of the line, keep nothing */
		}
		buf[n++] = c;
	}
	buf[n] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty_saved);
		tty_restore = 0;
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			sigaction(sigs[i], &old[i], NULL);
	}
	if (failed || too_long || !strip_secret(buf, "standard input")) {
		if (failed)
			fprintf(stderr, "sepayfs-login: cannot read the client secret from standard "
					"input: %s\n", strerror(errno));
		else if (too_long)
			fprintf(stderr, "sepayfs-login: the client secret on standard input is longer "
					"than %d bytes\n", MAX_SECRET - 1);
		explicit_bzero(buf, MAX_SECRET);
		free(buf);
		return NULL;
	}
	return buf;
}

char *login_read_secret(const char *secret_file, const char *client_id)
{
	if (!secret_file)
		return read_secret_stdin(client_id);
	size_t len;
	char *s = secret_file_read(secret_file, "client secret file", MAX_SECRET, &len);
	if (!s)
		return NULL;
	if (strlen(s) != len || !strip_secret(s, secret_file)) {
		if (strlen(s) != len)
			fprintf(stderr, "sepayfs-login: client secret file %s holds a NUL byte\n",
				secret_file);
		explicit_bzero(s, len);
		free(s);
		return NULL;
	}
	return s;
}
