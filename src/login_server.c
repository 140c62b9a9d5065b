/* login_server.c - the loopback listener and its connections. */
#include "login_server.h"

#include "clock.h"
#include "login_text.h"
#include "strbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Browsers open a few speculative connections; a handful more is abuse. */
#define MAX_CLIENTS 16
/* A connection that sends no complete request head in this time is dropped. */
#define CLIENT_IDLE_MS 10000
/* Writing a small page to a browser on loopback. */
#define SEND_TIMEOUT_MS 2000
/* Callbacks that are not this run's answer get a line each on the terminal,
 * up to this many: a web page can send thousands. */
#define MAX_REFUSED_LINES 20

static int listen_loopback(long port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, MAX_CLIENTS) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

struct client {
	int fd;             /* -1: free slot */
	int64_t since;      /* when it connected */
	size_t len;
	char head[MAX_REQUEST_HEAD + 1];
};

static bool send_all(int fd, const char *data, size_t len)
{
	int64_t deadline = (int64_t)clock_mono_ms() + SEND_TIMEOUT_MS;
	while (len) {
		ssize_t w = send(fd, data, len, MSG_NOSIGNAL);
		if (w > 0) {
			data += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return false;
		int64_t left = deadline - (int64_t)clock_mono_ms();
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (left <= 0 || poll(&p, 1, (int)left) < 0)
			return false;
	}
	return true;
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	default: return "Error";
	}
}

/* A small HTML page, then the connection is closed. */
static void reply_page(int fd, int status, const char *title, const char *text)
{
	struct strbuf body;
	strbuf_init(&body, 0);
	strbuf_puts(&body, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			   "<title>sepayfs-login: ");
	html_escaped(&body, title);
	strbuf_puts(&body, "</title></head>\n<body style=\"font-family: sans-serif; "
			   "margin: 3em\">\n<h1>");
	html_escaped(&body, title);
	strbuf_puts(&body, "</h1>\n<p>");
	html_escaped(&body, text);
	strbuf_puts(&body, "</p>\n</body></html>\n");
	struct strbuf msg;
	strbuf_init(&msg, 0);
	strbuf_printf(&msg, "HTTP/1.1 %d %s\r\n"
			    "Content-Type: text/html; charset=utf-8\r\n"
			    "Content-Length: %zu\r\n"
			    "Cache-Control: no-store\r\n"
			    "Referrer-Policy: no-referrer\r\n"
			    "X-Content-Type-Options: nosniff\r\n"
			    "Connection: close\r\n\r\n",
		      status, reason_phrase(status), body.len);
	strbuf_append(&msg, body.data ? body.data : "", body.len);
	if (!strbuf_failed(&msg) && !strbuf_failed(&body))
		send_all(fd, msg.data, msg.len);
	strbuf_release(&msg);
	strbuf_release(&body);
}

static void client_close(struct client *c)
{
	if (c->fd < 0)
		return;
	shutdown(c->fd, SHUT_WR);
	char sink[512];
	while (recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		; /* what the browser sent after the head, so close() sends no reset */
	close(c->fd);
	c->fd = -1;
	explicit_bzero(c->head, c->len);
	c->len = 0;
}

struct callback_server {
	int lfd;                /* -1 once the answer is in */
	const char *state;      /* what this run sent: only a callback with it ends the wait */
	unsigned refused;       /* callbacks refused so far, up to MAX_REFUSED_LINES + 1 */
	struct client *answered;
	struct client clients[MAX_CLIENTS];
};

static void note_refused(struct callback_server *w, const struct callback *cb)
{
	if (w->refused < MAX_REFUSED_LINES) {
		char line[256];
		callback_describe_foreign(cb, line, sizeof(line));
		fprintf(stderr, "sepayfs-login: %s\n", line);
	} else if (w->refused == MAX_REFUSED_LINES) {
		fprintf(stderr, "sepayfs-login: more callbacks were refused; not shown\n");
	}
	if (w->refused <= MAX_REFUSED_LINES)
		w->refused++;
}

/* A complete request head from c: true when it is this run's answer (c
 * stays open for the page), false when it was answered and closed. */
static bool handle_request(struct callback_server *w, struct client *c, struct callback *cb)
{
	if (!callback_parse(c->head, cb)) {
		reply_page(c->fd, 404, "Not found", "This is sepayfs-login, waiting for SePay's "
			   "answer at /callback.");
		client_close(c);
		return false;
	}
	switch (callback_judge(cb, w->state)) {
	case CALLBACK_ANSWER:
		return true;
	case CALLBACK_FOREIGN:
		note_refused(w, cb);
		reply_page(c->fd, 400, "Not this log-in's answer", "This answer does not belong to "
			   "the log-in sepayfs-login started (the state does not match); it was "
			   "ignored, and sepayfs-login is still waiting for SePay's answer.");
		break;
	case CALLBACK_EMPTY:
		reply_page(c->fd, 400, "No authorization code", "This address expects SePay's "
			   "answer with a code; sepayfs-login is still waiting for it.");
		break;
	}
	client_close(c);
	return false;
}

/* Takes a new connection into a free slot (the listener is only polled
 * while there is one). */
static void accept_client(struct callback_server *w)
{
	int fd = accept4(w->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return; /* the peer gave up already, or no fds: next round */
	for (size_t k = 0; k < MAX_CLIENTS; k++) {
		struct client *c = &w->clients[k];
		if (c->fd < 0) {
			c->fd = fd;
			c->since = (int64_t)clock_mono_ms();
			c->len = 0;
			return;
		}
	}
	close(fd);
}

/* Reads from c: true when its request head is complete and this run's answer. */
static bool read_client(struct callback_server *w, struct client *c, struct callback *cb)
{
	ssize_t r = recv(c->fd, c->head + c->len, MAX_REQUEST_HEAD - c->len, 0);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return false;
	if (r <= 0) {
		client_close(c);
		return false;
	}
	c->len += (size_t)r;
	if (callback_head_end(c->head, c->len))
		return handle_request(w, c, cb);
	if (c->len == MAX_REQUEST_HEAD) {
		reply_page(c->fd, 431, "Request too large", "The request head is larger than "
			   "sepayfs-login accepts.");
		client_close(c);
	}
	return false;
}

/* Fills pfd and who with the open clients (closing those idle too long,
 * and lowering *wake to the next one's limit) and the listener when a slot
 * is free; how many. */
static nfds_t poll_set(struct callback_server *w, int64_t now, struct pollfd *pfd, struct client **who,
		       int64_t *wake)
{
	nfds_t n = 0;
	bool room = false;
	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &w->clients[i];
		if (c->fd >= 0 && now - c->since >= CLIENT_IDLE_MS)
			client_close(c); /* connected, said nothing useful */
		if (c->fd < 0) {
			room = true;
			continue;
		}
		if (c->since + CLIENT_IDLE_MS < *wake)
			*wake = c->since + CLIENT_IDLE_MS;
		pfd[n] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
		who[n++] = c;
	}
	if (room) {
		pfd[n] = (struct pollfd){ .fd = w->lfd, .events = POLLIN };
		who[n++] = NULL;
	}
	return n;
}

struct callback_server *callback_server_open(long port, const char *state)
{
	struct callback_server *s = malloc(sizeof(*s));
	if (!s)
		return NULL;
	*s = (struct callback_server){ .state = state };
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	s->lfd = listen_loopback(port);
	if (s->lfd < 0) {
		int e = errno;
		free(s);
		errno = e;
		return NULL;
	}
	return s;
}

int callback_server_wait(struct callback_server *s, int64_t deadline_ms, struct callback *cb)
{
	if (s->lfd < 0)
		return EINVAL; /* the answer is in already */
	for (;;) {
		int64_t now = (int64_t)clock_mono_ms();
		if (now >= deadline_ms)
			return ETIMEDOUT;
		int64_t wake = deadline_ms;
		struct pollfd pfd[MAX_CLIENTS + 1];
		struct client *who[MAX_CLIENTS + 1];
		nfds_t n = poll_set(s, now, pfd, who, &wake);
		int ready = poll(pfd, n, (int)(wake - now));
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			return errno;
		for (nfds_t i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (!who[i]) {
				accept_client(s);
			} else if (read_client(s, who[i], cb)) {
				s->answered = who[i];
				close(s->lfd);
				s->lfd = -1;
				return 0;
			}
		}
	}
}

void callback_server_answer(struct callback_server *s, int status, const char *title,
			    const char *text)
{
	if (!s->answered)
		return;
	reply_page(s->answered->fd, status, title, text);
	client_close(s->answered); /* scrubs the code, in its request head */
	s->answered = NULL;
}

void callback_server_close(struct callback_server *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		client_close(&s->clients[i]);
	if (s->lfd >= 0)
		close(s->lfd);
	free(s);
}
