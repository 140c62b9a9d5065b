/* login.c - sepayfs-login: log in to SePay with OAuth2 and write the
 * credentials file that `sepayfs -o credentials=PATH` reads.
 *
 *   sepayfs-login --client-id ID --credentials PATH [options]
 *
 * The authorization-code flow with a loopback redirect (RFC 8252) and PKCE
 * (RFC 7636, S256): bind 127.0.0.1:PORT, print the authorize URL (and start
 * a browser when there is a display), wait for the browser to come back to
 * /callback with this run's state and a code, exchange the code and the
 * PKCE verifier at the token endpoint, and write client id, client secret
 * and tokens to PATH (mode 0600, replaced atomically).  The browser's page
 * says how it ended.  Anyone can reach the loopback port, so a callback
 * without this run's state (an error too) is answered 400 and the wait goes
 * on; only this run's answer, a code or an error, ends it.
 *
 * The client secret comes from a private file or standard input, never from
 * the command line.  The secret, the code, the PKCE verifier and the tokens
 * are never printed (the state only in the URL), and every buffer that held
 * one is scrubbed before it is freed (jansson's copies included, through a
 * scrubbing allocator). */
#include "auth.h"
#include "http.h"
#include "secretfile.h"
#include "strbuf.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SCOPE "bank-account:read transaction:read"
#define DEFAULT_PORT 8765
#define DEFAULT_AUTHORIZE_URL "https://my.sepay.vn/oauth/authorize"
#define DEFAULT_TIMEOUT_S 300
/* A day is longer than anyone waits at a login page. */
#define MAX_TIMEOUT_S 86400

#define EXIT_FLOW_FAILED 1
#define EXIT_USAGE 2

/* A client secret is a few dozen characters. */
#define MAX_SECRET 4096
/* Browsers open a few speculative connections; a handful more is abuse. */
#define MAX_CLIENTS 16
/* The callback's request line and headers; a redirect with a code fits easily. */
#define MAX_REQUEST_HEAD 16384
/* A connection that sends no complete request head in this time is dropped. */
#define CLIENT_IDLE_MS 10000
/* Writing a small page to a browser on loopback. */
#define SEND_TIMEOUT_MS 2000
/* The code exchange: one request, bounded like sepayfs's token refresh. */
#define TOKEN_TIMEOUT_MS 30000
#define CONNECT_TIMEOUT_S 10
#define MAX_TOKEN_RESPONSE (1u << 20)
/* The random state: 128 bits, written as hex. */
#define STATE_BYTES 16
/* Text from the network shown on the terminal is cut to this. */
#define MAX_SHOWN 200
/* Callbacks that are not this run's answer get a line each on the terminal,
 * up to this many: a web page can send thousands. */
#define MAX_REFUSED_LINES 20
/* Of a refused callback's error code, this much is shown (anyone can send one). */
#define MAX_REFUSED_SHOWN 40

/* PKCE (RFC 7636): 32 random bytes make a 43-character verifier, the size
 * its section 4.1 recommends. */
#define VERIFIER_BYTES 32
#define SHA256_BYTES 32
/* Characters of n bytes in base64url without padding. */
#define B64URL_LEN(n) (((n) * 4 + 2) / 3)

/* ---------------------------------------------------------------- scrubbing */

/* jansson copies every string it parses or is given (tokens, the secret);
 * this allocator remembers each block's size and scrubs it before freeing. */
union block_head {
	size_t size;
	max_align_t align;
};

static void *scrubbing_malloc(size_t size)
{
	if (size > SIZE_MAX - sizeof(union block_head))
		return NULL;
	union block_head *h = malloc(sizeof(*h) + size);
	if (!h)
		return NULL;
	h->size = size;
	return h + 1;
}

static void scrubbing_free(void *p)
{
	if (!p)
		return;
	union block_head *h = (union block_head *)p - 1;
	explicit_bzero(h, sizeof(*h) + h->size);
	free(h);
}

/* ---------------------------------------------------------------- text helpers */

/* Whether s is valid UTF-8 (JSON strings must be). */
static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p;
		size_t n;
		unsigned cp;
		if (c < 0x80) {
			p++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3fu);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

/* Text from the network, made safe for a terminal: control characters
 * (C0, DEL, C1) and bytes that are not UTF-8 become '?', and it is cut to
 * MAX_SHOWN bytes. */
static void shown(const char *s, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	while (*p && o + 5 < cap && o < MAX_SHOWN) {
		size_t n = 1;
		if (*p >= 0xc2 && *p <= 0xf4) {
			n = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
			char one[5] = { 0 };
			size_t i = 0;
			for (; i < n && p[i]; i++)
				one[i] = (char)p[i];
			/* C1 controls are U+0080..U+009F: 0xc2 0x80..0x9f */
			bool c1 = p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
			if (i == n && utf8_valid(one) && !c1) {
				memcpy(out + o, one, n);
				o += n;
				p += n;
				continue;
			}
			n = 1;
		}
		out[o++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
		p += n;
	}
	if (*p && o + 4 <= cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static void html_escaped(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': strbuf_puts(sb, "&amp;"); break;
		case '<': strbuf_puts(sb, "&lt;"); break;
		case '>': strbuf_puts(sb, "&gt;"); break;
		case '"': strbuf_puts(sb, "&quot;"); break;
		case '\'': strbuf_puts(sb, "&#39;"); break;
		default: strbuf_putc(sb, *s);
		}
	}
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes a query component in place ('+' is a space, %XX a byte).  A '%'
 * not followed by two hex digits stays as it is.  False when it would
 * decode to a NUL byte. */
static bool query_decode(char *s)
{
	char *out = s;
	for (char *in = s; *in; in++) {
		if (*in == '+') {
			*out++ = ' ';
		} else if (*in == '%' && hex_value(in[1]) >= 0 && hex_value(in[2]) >= 0) {
			int byte = hex_value(in[1]) * 16 + hex_value(in[2]);
			if (byte == 0)
				return false;
			*out++ = (char)byte;
			in += 2;
		} else {
			*out++ = *in;
		}
	}
	*out = '\0';
	return true;
}

/* Equality that takes the same time wherever the strings differ. */
static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;
	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Text anyone could have sent, for a terminal line: printable ASCII only
 * (any other byte, and '"', which quotes it, becomes '?'), cut to max bytes. */
static void ascii_shown(const char *s, char *out, size_t cap, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	for (; *p && o + 1 < cap && o < max; p++)
		out[o++] = *p >= 0x20 && *p < 0x7f && *p != '"' ? (char)*p : '?';
	if (*p && o + 4 <= cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* ---------------------------------------------------------------- SHA-256 and base64url (PKCE) */

/* FIPS 180-4 SHA-256, for the PKCE code challenge alone: sepayfs-login links
 * no crypto library of its own (the one under libcurl is libcurl's), and a
 * one-shot hash of a 43-byte verifier needs no more than this. */
static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static uint32_t ror32(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

/* Adds one 64-byte block to the hash state h. */
static void sha256_block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64], v[8];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	memcpy(v, h, sizeof(v));
	for (int i = 0; i < 64; i++) {
		uint32_t s1 = ror32(v[4], 6) ^ ror32(v[4], 11) ^ ror32(v[4], 25);
		uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
		uint32_t t1 = v[7] + s1 + ch + sha256_k[i] + w[i];
		uint32_t s0 = ror32(v[0], 2) ^ ror32(v[0], 13) ^ ror32(v[0], 22);
		uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
		/* a..h become t1+t2, a, b, c, d+t1, e, f, g */
		memmove(v + 1, v, 7 * sizeof(v[0]));
		v[4] += t1;
		v[0] = t1 + s0 + maj;
	}
	for (int i = 0; i < 8; i++)
		h[i] += v[i];
	/* The block was the verifier: no trace of it stays on the stack. */
	explicit_bzero(w, sizeof(w));
	explicit_bzero(v, sizeof(v));
}

/* The SHA-256 digest of len bytes at data. */
static void sha256(const void *data, size_t len, unsigned char out[SHA256_BYTES])
{
	uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	const unsigned char *p = data;
	size_t left = len;
	for (; left >= 64; p += 64, left -= 64)
		sha256_block(h, p);
	/* The rest, a 1 bit, zeros and the length in bits fill one block, or
	 * two when fewer than 9 bytes are left after the rest. */
	unsigned char tail[128] = { 0 };
	if (left)
		memcpy(tail, p, left);
	tail[left] = 0x80;
	size_t tail_len = left < 56 ? 64 : 128;
	uint64_t bits = (uint64_t)len * 8;
	for (size_t i = 0; i < 8; i++)
		tail[tail_len - 1 - i] = (unsigned char)(bits >> (8 * i));
	sha256_block(h, tail);
	if (tail_len == 128)
		sha256_block(h, tail + 64);
	for (size_t i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(h[i] >> 8);
		out[4 * i + 3] = (unsigned char)h[i];
	}
	explicit_bzero(tail, sizeof(tail));
}

/* base64url without padding (RFC 4648 section 5), as RFC 7636 writes the
 * verifier and the challenge; out has room for B64URL_LEN(n) + 1 bytes. */
static void base64url(const unsigned char *in, size_t n, char *out)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789-_";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		size_t chars = n - i >= 3 ? 4 : n - i + 1;
		for (size_t k = 0; k < chars; k++)
			out[o++] = alphabet[(v >> (18 - 6 * k)) & 63];
	}
	out[o] = '\0';
}

/* The S256 code challenge of a verifier: BASE64URL(SHA256(ASCII(verifier)));
 * out has room for B64URL_LEN(SHA256_BYTES) + 1 bytes. */
static void pkce_challenge(const char *verifier, char *out)
{
	unsigned char digest[SHA256_BYTES];
	sha256(verifier, strlen(verifier), digest);
	base64url(digest, sizeof(digest), out);
}

/* ---------------------------------------------------------------- options */

struct options {
	const char *client_id;
	const char *credentials;
	const char *secret_file;
	const char *scope;
	const char *authorize_url;
	const char *token_url;
	long port;
	long timeout_s;
	bool no_browser;
};

static void print_help(FILE *out)
{
	fprintf(out,
		"usage: sepayfs-login --client-id ID --credentials PATH [options]\n"
		"\n"
		"Log in to SePay (OAuth2 authorization code flow) and write the credentials\n"
		"file that 'sepayfs -o credentials=PATH' reads.  The client secret is read\n"
		"from --client-secret-file or else as one line from standard input.\n"
		"\n"
		"options:\n"
		"    --client-id ID             OAuth2 client id of your SePay app (required)\n"
		"    --credentials PATH         credentials file to write, mode 0600 (required)\n"
		"    --client-secret-file PATH  file holding the client secret, mode 0600\n"
		"                               (default: read a line from standard input)\n"
		"    --scope SCOPES             scopes to ask for, separated by spaces\n"
		"                               (default: \"" DEFAULT_SCOPE "\")\n"
		"    --port N                   loopback port of the redirect URI registered\n"
		"                               with SePay, http://127.0.0.1:N/callback\n"
		"                               (default: %d)\n"
		"    --authorize-url URL        authorization endpoint\n"
		"                               (default: " DEFAULT_AUTHORIZE_URL ")\n"
		"    --token-url URL            token endpoint\n"
		"                               (default: " AUTH_DEFAULT_TOKEN_URL ")\n"
		"    --timeout SECONDS          how long to wait for the browser (default: %d)\n"
		"    --no-browser               only print the URL; by default xdg-open opens\n"
		"                               it when DISPLAY or WAYLAND_DISPLAY is set\n"
		"    -h, --help                 this help\n"
		"    -V, --version              versions\n"
		"\n"
		"Exit status: 0 logged in, 1 the log-in failed, 2 usage error.\n",
		DEFAULT_PORT, DEFAULT_TIMEOUT_S);
}

static void print_versions(void)
{
	printf("sepayfs-login version %s\n", SEPAYFS_VERSION);
	printf("libcurl version %s\n", curl_version_info(CURLVERSION_NOW)->version);
	printf("jansson version %s\n", jansson_version_str());
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sepayfs-login: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\nTry 'sepayfs-login --help' for more information.\n", stderr);
	va_end(ap);
	return EXIT_USAGE;
}

static bool parse_number(const char *text, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_CLIENT_ID = 256, OPT_CREDENTIALS, OPT_SECRET_FILE, OPT_SCOPE, OPT_PORT,
	       OPT_AUTHORIZE_URL, OPT_TOKEN_URL, OPT_TIMEOUT, OPT_NO_BROWSER };
	static const struct option longopts[] = {
		{ "client-id", required_argument, NULL, OPT_CLIENT_ID },
		{ "credentials", required_argument, NULL, OPT_CREDENTIALS },
		{ "client-secret-file", required_argument, NULL, OPT_SECRET_FILE },
		{ "scope", required_argument, NULL, OPT_SCOPE },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "authorize-url", required_argument, NULL, OPT_AUTHORIZE_URL },
		{ "token-url", required_argument, NULL, OPT_TOKEN_URL },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "no-browser", no_argument, NULL, OPT_NO_BROWSER },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	*o = (struct options){
		.scope = DEFAULT_SCOPE,
		.authorize_url = DEFAULT_AUTHORIZE_URL,
		.token_url = AUTH_DEFAULT_TOKEN_URL,
		.port = DEFAULT_PORT,
		.timeout_s = DEFAULT_TIMEOUT_S,
	};
	/* A secret typed on a command line shows in ps and in the shell's
	 * history: refuse anything that looks like one, before getopt_long
	 * would take "--client-secret=X" as an abbreviation of
	 * --client-secret-file and print X in its complaint about that file. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strncmp(argv[i], "--client-s", 10) == 0 &&
		    strcmp(argv[i], "--client-secret-file") != 0 &&
		    strncmp(argv[i], "--client-secret-file=", 21) != 0)
			return usage_error("%s", "the client secret is never taken from the command "
					   "line; use --client-secret-file PATH or standard input");
	}
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CLIENT_ID: o->client_id = optarg; break;
		case OPT_CREDENTIALS: o->credentials = optarg; break;
		case OPT_SECRET_FILE: o->secret_file = optarg; break;
		case OPT_SCOPE: o->scope = optarg; break;
		case OPT_AUTHORIZE_URL: o->authorize_url = optarg; break;
		case OPT_TOKEN_URL: o->token_url = optarg; break;
		case OPT_NO_BROWSER: o->no_browser = true; break;
		case OPT_PORT:
			if (!parse_number(optarg, 1, 65535, &o->port))
				return usage_error("--port must be a port number (1-65535), not '%s'",
						   optarg);
			break;
		case OPT_TIMEOUT:
			if (!parse_number(optarg, 1, MAX_TIMEOUT_S, &o->timeout_s))
				return usage_error("--timeout must be a number of seconds (1-86400), "
						   "not '%s'", optarg);
			break;
		case 'h':
			print_help(stdout);
			return 0;
		case 'V':
			print_versions();
			return 0;
		case ':':
			return usage_error("option %s needs a value", argv[optind - 1]);
		default: {
			/* The name only: what follows '=' might be a secret. */
			const char *arg = optind > 0 ? argv[optind - 1] : "?";
			int name_len = (int)strcspn(arg, "=");
			fprintf(stderr, "sepayfs-login: unknown option %.*s\n"
					"Try 'sepayfs-login --help' for more information.\n",
				name_len, arg);
			return EXIT_USAGE;
		}
		}
	}
	if (optind < argc) /* not shown: it might be a secret typed in the wrong place */
		return usage_error("%s", "unexpected argument: sepayfs-login takes options only");
	if (!o->client_id || !*o->client_id)
		return usage_error("%s", "--client-id ID is required");
	if (!o->credentials || !*o->credentials)
		return usage_error("%s", "--credentials PATH is required");
	if (!utf8_valid(o->client_id))
		return usage_error("%s", "--client-id is not valid UTF-8");
	if (!*o->scope)
		return usage_error("%s", "--scope must not be empty");
	const char *why;
	if (!http_url_allowed(o->authorize_url, &why))
		return usage_error("--authorize-url %s: %s", o->authorize_url, why);
	if (!http_url_allowed(o->token_url, &why))
		return usage_error("--token-url %s: %s", o->token_url, why);
	if (strchr(o->authorize_url, '#'))
		return usage_error("%s", "--authorize-url must not have a #fragment");
	if (!utf8_valid(o->token_url))
		return usage_error("%s", "--token-url is not valid UTF-8");
	return -1;
}

/* Whether the credentials file can be written, checked before the user
 * goes through the browser for nothing. */
static bool credentials_writable(const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "sepayfs-login: credentials file %s is a directory\n", path);
		return false;
	}
	char *copy = strdup(path);
	if (!copy) {
		fprintf(stderr, "sepayfs-login: out of memory\n");
		return false;
	}
	const char *dir = dirname(copy);
	bool ok = access(dir, W_OK | X_OK) == 0;
	if (!ok)
		fprintf(stderr, "sepayfs-login: cannot write credentials file %s: directory %s: %s\n",
			path, dir, strerror(errno));
	free(copy);
	return ok;
}

/* ---------------------------------------------------------------- the client secret */

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

static char *read_secret(const struct options *o)
{
	if (!o->secret_file)
		return read_secret_stdin(o->client_id);
	size_t len;
	char *s = secret_file_read(o->secret_file, "client secret file", MAX_SECRET, &len);
	if (!s)
		return NULL;
	if (strlen(s) != len || !strip_secret(s, o->secret_file)) {
		if (strlen(s) != len)
			fprintf(stderr, "sepayfs-login: client secret file %s holds a NUL byte\n",
				o->secret_file);
		explicit_bzero(s, len);
		free(s);
		return NULL;
	}
	return s;
}

/* ---------------------------------------------------------------- the loopback listener */

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

/* What came back to /callback; pointers into the client's buffer. */
struct callback {
	const char *code;
	const char *state;
	const char *error;
	const char *error_description;
};

static bool send_all(int fd, const char *data, size_t len)
{
	int64_t deadline = now_ms() + SEND_TIMEOUT_MS;
	while (len) {
		ssize_t w = send(fd, data, len, MSG_NOSIGNAL);
		if (w > 0) {
			data += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return false;
		int64_t left = deadline - now_ms();
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

/* Where the request head in buf (len bytes, and room for a NUL after them)
 * ends, or NULL while it is incomplete. */
static char *head_end(char *buf, size_t len)
{
	buf[len] = '\0';
	char *end = strstr(buf, "\r\n\r\n");
	return end ? end : strstr(buf, "\n\n");
}

/* Parses the query of /callback into cb (in place). */
static void parse_callback_query(char *query, struct callback *cb)
{
	char *save = NULL;
	for (char *pair = strtok_r(query, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
		char *value = strchr(pair, '=');
		if (value)
			*value++ = '\0';
		else
			value = pair + strlen(pair);
		if (!query_decode(pair) || !query_decode(value))
			continue;
		const char **slot = strcmp(pair, "code") == 0 ? &cb->code
				    : strcmp(pair, "state") == 0 ? &cb->state
				    : strcmp(pair, "error") == 0 ? &cb->error
				    : strcmp(pair, "error_description") == 0 ? &cb->error_description
				    : NULL;
		if (slot && !*slot) /* the first of repeated parameters counts */
			*slot = value;
	}
}

/* Parses a request head (NUL-terminated) in place: true when its request
 * line is a GET of /callback, whose query's parameters are then in cb
 * (pointers into head).  Only the request line counts; headers are not
 * needed to answer a redirect. */
static bool parse_request(char *head, struct callback *cb)
{
	memset(cb, 0, sizeof(*cb));
	head[strcspn(head, "\r\n")] = '\0';
	char *method = head;
	char *target = strchr(method, ' ');
	if (!target)
		return false;
	*target++ = '\0';
	char *version = strchr(target, ' ');
	if (version)
		*version = '\0';
	char *query = strchr(target, '?');
	if (query)
		*query++ = '\0';
	if (strcmp(method, "GET") != 0 || strcmp(target, "/callback") != 0)
		return false;
	if (query) {
		query[strcspn(query, "#")] = '\0';
		parse_callback_query(query, cb);
	}
	return true;
}

enum callback_verdict {
	CALLBACK_FOREIGN, /* no state, or not this run's: refused, the wait goes on */
	CALLBACK_EMPTY,   /* this run's state, but neither a code nor an error */
	CALLBACK_ANSWER,  /* this run's state with a code or an error: the wait ends */
};

/* Whether a callback is this run's answer.  Only the state tells: any local
 * user, and any web page (through an <img> pointed at the port), can send
 * requests to the loopback port, but only SePay was given the state. */
static enum callback_verdict judge_callback(const struct callback *cb, const char *state)
{
	if (!cb->state || !same_secret(cb->state, state))
		return CALLBACK_FOREIGN;
	if ((cb->code && *cb->code) || (cb->error && *cb->error))
		return CALLBACK_ANSWER;
	return CALLBACK_EMPTY;
}

/* The terminal line about a refused callback: what it carried, its error
 * code as printable ASCII at most MAX_REFUSED_SHOWN long, never its code
 * (someone's real one, perhaps) or its state. */
static void describe_foreign(const struct callback *cb, char *out, size_t cap)
{
	char e[MAX_REFUSED_SHOWN + 4];
	ascii_shown(cb->error ? cb->error : "", e, sizeof(e), MAX_REFUSED_SHOWN);
	const char *carried = *e ? "error \"" : cb->code && *cb->code ? "a code" : "no code";
	snprintf(out, cap, "refused a callback %s (possible CSRF; it carried %s%s%s); still "
		 "waiting for SePay's answer",
		 cb->state ? "whose state does not match" : "without a state", carried, e,
		 *e ? "\"" : "");
}

/* The wait for SePay's answer. */
struct waiter {
	int lfd;
	const char *state;      /* what this run sent: only a callback with it ends the wait */
	unsigned refused;       /* callbacks refused so far, up to MAX_REFUSED_LINES + 1 */
	struct client *clients; /* MAX_CLIENTS of them */
};

static void note_refused(struct waiter *w, const struct callback *cb)
{
	if (w->refused < MAX_REFUSED_LINES) {
		char line[256];
		describe_foreign(cb, line, sizeof(line));
		fprintf(stderr, "sepayfs-login: %s\n", line);
	} else if (w->refused == MAX_REFUSED_LINES) {
		fprintf(stderr, "sepayfs-login: more callbacks were refused; not shown\n");
	}
	if (w->refused <= MAX_REFUSED_LINES)
		w->refused++;
}

/* A complete request head from c: true when it is this run's answer (c
 * stays open for the page), false when it was answered and closed. */
static bool handle_request(struct waiter *w, struct client *c, struct callback *cb)
{
	if (!parse_request(c->head, cb)) {
		reply_page(c->fd, 404, "Not found", "This is sepayfs-login, waiting for SePay's "
			   "answer at /callback.");
		client_close(c);
		return false;
	}
	switch (judge_callback(cb, w->state)) {
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
static void accept_client(struct waiter *w)
{
	int fd = accept4(w->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return; /* the peer gave up already, or no fds: next round */
	for (size_t k = 0; k < MAX_CLIENTS; k++) {
		struct client *c = &w->clients[k];
		if (c->fd < 0) {
			c->fd = fd;
			c->since = now_ms();
			c->len = 0;
			return;
		}
	}
	close(fd);
}

/* Reads from c: true when its request head is complete and this run's answer. */
static bool read_client(struct waiter *w, struct client *c, struct callback *cb)
{
	ssize_t r = recv(c->fd, c->head + c->len, MAX_REQUEST_HEAD - c->len, 0);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return false;
	if (r <= 0) {
		client_close(c);
		return false;
	}
	c->len += (size_t)r;
	if (head_end(c->head, c->len))
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
static nfds_t poll_set(struct waiter *w, int64_t now, struct pollfd *pfd, struct client **who,
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

/* Serves connections until this run's answer arrives (0: *out is its
 * client, still open, and cb is filled) or the deadline passes (ETIMEDOUT).
 * Callbacks that are not the answer are refused, and the wait goes on. */
static int wait_for_callback(struct waiter *w, int64_t deadline, struct client **out,
			     struct callback *cb)
{
	for (;;) {
		int64_t now = now_ms();
		if (now >= deadline)
			return ETIMEDOUT;
		int64_t wake = deadline;
		struct pollfd pfd[MAX_CLIENTS + 1];
		struct client *who[MAX_CLIENTS + 1];
		nfds_t n = poll_set(w, now, pfd, who, &wake);
		int ready = poll(pfd, n, (int)(wake - now));
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			return errno;
		for (nfds_t i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (!who[i]) {
				accept_client(w);
			} else if (read_client(w, who[i], cb)) {
				*out = who[i];
				return 0;
			}
		}
	}
}

/* ---------------------------------------------------------------- the flow */

/* n random bytes from getrandom(2) (every kernel libfuse 3.14 runs on has
 * it: no /dev/urandom fallback to get wrong). */
static bool random_bytes(unsigned char *raw, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(raw + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

/* The state: STATE_BYTES random bytes as hex. */
static bool random_state(char *out, size_t cap)
{
	unsigned char raw[STATE_BYTES];
	if (cap < 2 * sizeof(raw) + 1 || !random_bytes(raw, sizeof(raw)))
		return false;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return true;
}

/* PKCE (RFC 7636, S256), as RFC 8252 asks of loopback redirects: whatever
 * else reads the code on its way to 127.0.0.1 cannot exchange it without the
 * verifier, which leaves this process only in the exchange. */
struct pkce {
	char verifier[B64URL_LEN(VERIFIER_BYTES) + 1];  /* secret */
	char challenge[B64URL_LEN(SHA256_BYTES) + 1];   /* public: on the authorize URL */
};

static bool pkce_new(struct pkce *p)
{
	unsigned char raw[VERIFIER_BYTES];
	if (!random_bytes(raw, sizeof(raw)))
		return false;
	/* base64url's alphabet is within RFC 7636's unreserved characters. */
	base64url(raw, sizeof(raw), p->verifier);
	explicit_bzero(raw, sizeof(raw));
	pkce_challenge(p->verifier, p->challenge);
	return true;
}

/* The authorize URL (it holds the state: scrub it before freeing). */
static char *authorize_url(const struct options *o, const char *redirect_uri,
			   const char *state, const char *challenge)
{
	static const char *const names[] = { "response_type", "client_id", "redirect_uri",
					      "scope", "state", "code_challenge",
					      "code_challenge_method" };
	const char *const values[] = { "code", o->client_id, redirect_uri, o->scope, state,
				       challenge, "S256" };
	size_t len;
	char *query = http_form_encode(names, values, 7, &len);
	if (!query)
		return NULL;
	/* Allocated at its size: a buffer grown by realloc would leave copies
	 * of the state behind, unscrubbed. */
	size_t size = strlen(o->authorize_url) + 1 + len + 1;
	char *url = malloc(size);
	if (url)
		snprintf(url, size, "%s%c%s", o->authorize_url,
			 strchr(o->authorize_url, '?') ? '&' : '?', query);
	explicit_bzero(query, len);
	free(query);
	return url;
}

static pid_t open_browser(const char *url)
{
	const char *x = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
	if (!(x && *x) && !(w && *w))
		return -1;
	posix_spawn_file_actions_t fa;
	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	char prog[] = "xdg-open";
	char *url_copy = strdup(url);
	char *args[] = { prog, url_copy, NULL };
	extern char **environ;
	pid_t pid = -1;
	if (!url_copy || posix_spawnp(&pid, prog, &fa, NULL, args, environ) != 0)
		pid = -1; /* no xdg-open: the printed URL is enough */
	if (url_copy)
		explicit_bzero(url_copy, strlen(url_copy)); /* the state */
	free(url_copy);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

struct outcome {
	int status;          /* the browser page's HTTP status */
	char title[64];
	char text[512];
};

static void set_outcome(struct outcome *out, int status, const char *title, const char *text)
{
	out->status = status;
	snprintf(out->title, sizeof(out->title), "%s", title);
	snprintf(out->text, sizeof(out->text), "%s", text);
}

/* Exchanges the code; the token endpoint's answer (checked to hold both
 * tokens) or NULL after saying why on stderr and in *out. */
static json_t *exchange_code(const struct options *o, const char *secret, const char *code,
			     const char *verifier, const char *redirect_uri, struct outcome *out)
{
	struct http_curl_config hc = {
		.base_url = o->token_url,
		.max_conns = 1,
		.connect_timeout_s = CONNECT_TIMEOUT_S,
		.max_body = MAX_TOKEN_RESPONSE,
	};
	int err;
	struct http_transport *http = http_curl_new(&hc, &err);
	if (!http) {
		fprintf(stderr, "sepayfs-login: cannot set up HTTP: %s\n", strerror(err));
		set_outcome(out, 500, "Log-in failed", "sepayfs-login could not set up HTTP.");
		return NULL;
	}
	/* A server that does not know PKCE ignores code_verifier (RFC 6749
	 * section 3.2: unrecognized parameters are ignored). */
	static const char *const names[] = { "grant_type", "code", "redirect_uri", "client_id",
					     "client_secret", "code_verifier" };
	const char *values[] = { "authorization_code", code, redirect_uri, o->client_id, secret,
				 verifier };
	size_t form_len = 0;
	char *form = http_form_encode(names, values, 6, &form_len);
	if (!form) {
		http->destroy(http);
		fprintf(stderr, "sepayfs-login: out of memory\n");
		set_outcome(out, 500, "Log-in failed", "sepayfs-login ran out of memory.");
		return NULL;
	}
	struct http_response resp;
	int rc = http->post_form(http, o->token_url, form, TOKEN_TIMEOUT_MS, &resp);
	explicit_bzero(form, form_len);
	free(form);
	http->destroy(http);
	if (rc) {
		fprintf(stderr, "sepayfs-login: POST %s: %s (%s)\n", o->token_url, resp.error,
			strerror(rc));
		http_response_release(&resp);
		set_outcome(out, 502, "Log-in failed", "The token endpoint could not be reached; "
			    "see the terminal.");
		return NULL;
	}
	json_t *root = auth_token_answer(&resp);
	const char *access = json_string_value(json_object_get(root, "access_token"));
	const char *refresh = json_string_value(json_object_get(root, "refresh_token"));
	char msg[512];
	if (resp.status != 200) {
		const char *e = json_string_value(json_object_get(root, "error"));
		const char *d = json_string_value(json_object_get(root, "error_description"));
		char e_shown[MAX_SHOWN + 8], d_shown[MAX_SHOWN + 8];
		shown(e ? e : "", e_shown, sizeof(e_shown));
		shown(d ? d : "", d_shown, sizeof(d_shown));
		bool refused = resp.status >= 400 && resp.status < 500;
		fprintf(stderr, "sepayfs-login: the token endpoint %s %s the authorization "
				"code: HTTP %ld%s%s%s%s%s\n", o->token_url,
			refused ? "refused" : "did not exchange", resp.status,
			*e_shown ? " " : "", e_shown, *d_shown ? " (" : "", d_shown,
			*d_shown ? ")" : "");
		if (resp.status == 401 || (e && strcmp(e, "invalid_client") == 0))
			fprintf(stderr, "sepayfs-login: check --client-id and the client secret\n");
		else
			fprintf(stderr, "sepayfs-login: run sepayfs-login again\n");
		snprintf(msg, sizeof(msg), "SePay %s the authorization code (HTTP %ld%s%s). "
			 "Run sepayfs-login again.", refused ? "refused" : "did not exchange",
			 resp.status, *e_shown ? " " : "", e_shown);
		set_outcome(out, 502, "Log-in failed", msg);
		json_decref(root);
		return NULL;
	}
	if (!access || !*access) {
		fprintf(stderr, "sepayfs-login: the token endpoint %s answered HTTP 200 without an "
				"access token\n", o->token_url);
		set_outcome(out, 502, "Log-in failed", "SePay answered without an access token.");
		json_decref(root);
		return NULL;
	}
	if (!refresh || !*refresh) {
		fprintf(stderr, "sepayfs-login: the token endpoint %s answered without a refresh "
				"token, which sepayfs needs to stay logged in\n", o->token_url);
		set_outcome(out, 502, "Log-in failed", "SePay answered without a refresh token.");
		json_decref(root);
		return NULL;
	}
	return root;
}

/* Whether a space-separated scope list holds one scope. */
static bool has_scope(const char *list, const char *scope)
{
	size_t n = strlen(scope);
	for (const char *p = list; (p = strstr(p, scope)); p += n) {
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return true;
	}
	return false;
}

static int write_credentials(const struct options *o, const char *secret, json_t *answer)
{
	json_t *creds = json_object();
	int bad = !creds;
	if (creds) {
		bad |= json_object_set_new(creds, "client_id", json_string(o->client_id));
		bad |= json_object_set_new(creds, "client_secret", json_string(secret));
		bad |= json_object_set(creds, "refresh_token",
				       json_object_get(answer, "refresh_token"));
		bad |= json_object_set(creds, "access_token",
				       json_object_get(answer, "access_token"));
		bad |= json_object_set_new(creds, "token_url", json_string(o->token_url));
	}
	size_t need = bad ? 0 : json_dumpb(creds, NULL, 0, JSON_INDENT(2));
	char *text = need ? malloc(need + 1) : NULL;
	int rc = ENOMEM;
	if (text) {
		size_t len = json_dumpb(creds, text, need, JSON_INDENT(2));
		text[len] = '\n';
		rc = secret_file_write(o->credentials, text, len + 1);
		explicit_bzero(text, need + 1);
		free(text);
	}
	json_decref(creds);
	return rc;
}

/* This run's answer is an error from SePay: say so on the terminal and in
 * the browser.  (Only an error with this run's state gets here.) */
static void report_sepay_error(const struct callback *cb, struct outcome *result)
{
	char e_shown[MAX_SHOWN + 8], d_shown[MAX_SHOWN + 8], text[512];
	shown(cb->error, e_shown, sizeof(e_shown));
	shown(cb->error_description ? cb->error_description : "", d_shown, sizeof(d_shown));
	fprintf(stderr, "sepayfs-login: SePay did not authorize the log-in: %s%s%s%s\n",
		e_shown, *d_shown ? " (" : "", d_shown, *d_shown ? ")" : "");
	if (strcmp(cb->error, "access_denied") == 0)
		fprintf(stderr, "sepayfs-login: access was denied in the browser; run "
				"sepayfs-login again and allow access\n");
	snprintf(text, sizeof(text), "SePay answered %s%s%s%s; run sepayfs-login again to retry.",
		 e_shown, *d_shown ? " (" : "", d_shown, *d_shown ? ")" : "");
	set_outcome(result, 400, "Log-in failed", text);
}

/* This run's answer is a code: exchange it and write the credentials file.
 * 0 or EXIT_FLOW_FAILED; the browser's page in *result. */
static int complete_login(const struct options *o, const char *secret, const char *code,
			  const char *verifier, const char *redirect_uri, struct outcome *result)
{
	json_t *answer = exchange_code(o, secret, code, verifier, redirect_uri, result);
	if (!answer)
		return EXIT_FLOW_FAILED;
	const char *scope = json_string_value(json_object_get(answer, "scope"));
	if (scope && !has_scope(scope, "bank-account:read")) {
		char s_shown[MAX_SHOWN + 8];
		shown(scope, s_shown, sizeof(s_shown));
		fprintf(stderr, "sepayfs-login: warning: the granted scope \"%s\" lacks "
				"bank-account:read; sepayfs will be refused\n", s_shown);
	}
	int wrc = write_credentials(o, secret, answer);
	json_decref(answer);
	if (wrc) {
		fprintf(stderr, "sepayfs-login: cannot write credentials file %s: %s\n",
			o->credentials, strerror(wrc));
		set_outcome(result, 500, "Log-in failed", "The credentials file could not be "
			    "written; see the terminal.");
		return EXIT_FLOW_FAILED;
	}
	set_outcome(result, 200, "You are logged in", "You are logged in; you can close this "
		    "window.");
	return 0;
}

/* The fuzz target (tests/fuzz/fuzz_login.c) includes this file for its
 * parsing functions and brings its own entry point. */
#ifndef SEPAYFS_LOGIN_NO_MAIN
int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	/* No core dump and no ptrace by the same uid: memory holds the client
	 * secret, the code and the tokens. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	json_set_alloc_funcs(scrubbing_malloc, scrubbing_free);

	struct options o;
	int status = parse_args(argc, argv, &o);
	if (status >= 0)
		return status;
	if (!credentials_writable(o.credentials))
		return EXIT_FLOW_FAILED;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "sepayfs-login: cannot initialise libcurl\n");
		return EXIT_FLOW_FAILED;
	}
	status = EXIT_FLOW_FAILED;
	char *secret = read_secret(&o);
	char *url = NULL;
	int lfd = -1;
	pid_t browser = -1;
	struct client *clients = NULL;
	char state[2 * STATE_BYTES + 1];
	struct pkce pkce;
	char redirect_uri[64];
	if (!secret)
		goto out;
	if (!random_state(state, sizeof(state)) || !pkce_new(&pkce)) {
		fprintf(stderr, "sepayfs-login: cannot get random bytes: %s\n", strerror(errno));
		goto out;
	}
	/* 127.0.0.1, not localhost: RFC 8252 section 8.3, and the listener
	 * binds exactly that address. */
	snprintf(redirect_uri, sizeof(redirect_uri), "http://127.0.0.1:%ld/callback", o.port);
	if (!(url = authorize_url(&o, redirect_uri, state, pkce.challenge)) ||
	    !(clients = malloc(MAX_CLIENTS * sizeof(*clients)))) {
		fprintf(stderr, "sepayfs-login: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		clients[i] = (struct client){ .fd = -1 };

	/* Listen before anyone is sent to the URL, so the answer finds us. */
	lfd = listen_loopback(o.port);
	if (lfd < 0) {
		int e = errno;
		fprintf(stderr, "sepayfs-login: cannot listen on 127.0.0.1:%ld: %s\n", o.port,
			strerror(e));
		if (e == EADDRINUSE)
			fprintf(stderr, "sepayfs-login: is another sepayfs-login running? The port "
					"must be the one of the redirect URI registered with SePay "
					"(--port)\n");
		goto out;
	}
	printf("Open this URL in a browser to log in to SePay:\n%s\n", url);
	fflush(stdout);
	if (!o.no_browser)
		browser = open_browser(url);

	struct client *c = NULL;
	struct callback cb;
	struct waiter w = { .lfd = lfd, .state = state, .clients = clients };
	int rc = wait_for_callback(&w, now_ms() + o.timeout_s * 1000, &c, &cb);
	close(lfd);
	lfd = -1;
	if (rc == ETIMEDOUT) {
		fprintf(stderr, "sepayfs-login: no answer from the browser within %ld s; run "
				"sepayfs-login again (--timeout sets the wait)\n", o.timeout_s);
		goto out;
	} else if (rc) {
		fprintf(stderr, "sepayfs-login: waiting for the browser: %s\n", strerror(rc));
		goto out;
	}

	struct outcome result;
	if (cb.error && *cb.error)
		report_sepay_error(&cb, &result);
	else
		status = complete_login(&o, secret, cb.code, pkce.verifier, redirect_uri, &result);
	reply_page(c->fd, result.status, result.title, result.text);
	client_close(c); /* scrubs the code, in its request head */
	if (status == 0) {
		/* The hint names the file absolutely: a daemon in the background
		 * runs in /, where a relative path means something else. */
		char *absolute = realpath(o.credentials, NULL);
		printf("Logged in: credentials written to %s\n"
		       "Mount with: sepayfs -o credentials=%s MOUNTPOINT\n",
		       o.credentials, absolute ? absolute : o.credentials);
		free(absolute);
		if (fflush(stdout) != 0)
			status = EXIT_FLOW_FAILED;
	}
out:
	if (clients) {
		for (size_t i = 0; i < MAX_CLIENTS; i++)
			client_close(&clients[i]);
		free(clients);
	}
	if (lfd >= 0)
		close(lfd);
	if (browser > 0)
		waitpid(browser, NULL, WNOHANG);
	if (url)
		explicit_bzero(url, strlen(url)); /* the state */
	free(url);
	secret_free(secret);
	explicit_bzero(state, sizeof(state));
	explicit_bzero(&pkce, sizeof(pkce));
	curl_global_cleanup();
	return status;
}
#endif
