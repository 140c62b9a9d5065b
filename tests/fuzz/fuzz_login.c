/* fuzz_login.c - sepayfs-login's loopback callback server: what anyone can
 * send to 127.0.0.1:PORT while it waits for SePay's answer.
 *
 * The input is the bytes one connection sent (cut to the MAX_REQUEST_HEAD
 * the server reads), given to login_callback.c, which parses them without
 * a socket.  Checked on every input:
 *   - callback_head_end() finds the blank line inside what was received,
 *     or nothing;
 *   - callback_parse() takes only a GET of /callback, and every parameter
 *     it gives is a NUL-terminated string inside the request;
 *   - callback_judge() ends the wait only for this run's exact state with a
 *     code or an error;
 *   - the terminal line about a refused callback is printable ASCII and
 *     bounded, and what the code and the state hold never changes it;
 *   - terminal_text() (the terminal's copy of an accepted error) gives bounded,
 *     valid UTF-8 without control characters; html_escaped() leaves no
 *     markup characters;
 *   - PKCE: the SHA-256 and base64url of the input match libcrypto's, when
 *     libcrypto.so.3 can be loaded (LLVMFuzzerInitialize checks the FIPS
 *     180-2 and RFC 7636 vectors in any case). */
#include "fuzz_common.h"
#include "login_callback.h"
#include "login_pkce.h"
#include "login_text.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The state this "run" sent; seeds carry it, so the fuzzer finds the
 * accepted paths too. */
static const char STATE[] = "0123456789abcdef0123456789abcdef";

/* libcrypto's, when it can be loaded: a second opinion on login_pkce.c's. */
static unsigned char *(*ref_sha256)(const unsigned char *d, size_t n, unsigned char *md);
static int (*ref_encode_block)(unsigned char *t, const unsigned char *f, int n);

static void check_vector(const char *in, size_t len, const char *hex)
{
	unsigned char d[SHA256_BYTES];
	char got[2 * SHA256_BYTES + 1];
	sha256(in, len, d);
	for (size_t i = 0; i < sizeof(d); i++)
		snprintf(got + 2 * i, 3, "%02x", d[i]);
	FUZZ_CHECK(strcmp(got, hex) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* FIPS 180-2 appendix B. */
	check_vector("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_vector("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_vector("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
		     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* RFC 7636 appendix B: these octets are the verifier, base64url-encoded;
	 * its S256 challenge is E9Melhoa... */
	static const unsigned char octets[32] = {
		116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186,
		22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
	};
	char verifier[B64URL_LEN(sizeof(octets)) + 1], challenge[B64URL_LEN(SHA256_BYTES) + 1];
	base64url(octets, sizeof(octets), verifier);
	FUZZ_CHECK(strcmp(verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == 0);
	pkce_challenge(verifier, challenge);
	FUZZ_CHECK(strcmp(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") == 0);

	void *lib = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
	if (lib) {
		*(void **)&ref_sha256 = dlsym(lib, "SHA256");
		*(void **)&ref_encode_block = dlsym(lib, "EVP_EncodeBlock");
	}
	if (!ref_sha256 || !ref_encode_block)
		fprintf(stderr, "fuzz_login: no libcrypto.so.3: SHA-256 checked on vectors only\n");
	return 0;
}

/* p is a string that lies wholly inside buf's size bytes. */
static bool inside(const char *p, const char *buf, size_t size)
{
	return p >= buf && p <= buf + size && strlen(p) <= (size_t)(buf + size - p);
}

static void check_shown(const char *s)
{
	char out[TERMINAL_TEXT_MAX + 8];
	terminal_text(s, out, sizeof(out));
	size_t n = strnlen(out, sizeof(out));
	FUZZ_CHECK(n < sizeof(out) && n <= TERMINAL_TEXT_MAX + 6);
	FUZZ_CHECK(utf8_valid(out));
	for (const unsigned char *p = (const unsigned char *)out; *p; p++) {
		FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
		FUZZ_CHECK(!(p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)); /* C1 */
	}
}

static void check_escaped(const char *s)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	html_escaped(&sb, s);
	FUZZ_CHECK(!strbuf_failed(&sb));
	FUZZ_CHECK(!sb.data || !memchr(sb.data, '<', sb.len));
	FUZZ_CHECK(!sb.data || !memchr(sb.data, '>', sb.len));
	FUZZ_CHECK(!sb.data || !memchr(sb.data, '"', sb.len));
	FUZZ_CHECK(!sb.data || !memchr(sb.data, '\'', sb.len));
	strbuf_release(&sb);
}

/* What a parsed request must look like. */
static void check_parsed(const uint8_t *data, size_t size, const char *buf, bool is_callback,
			 const struct callback *cb)
{
	const char *fields[] = { cb->code, cb->state, cb->error, cb->error_description };
	if (is_callback) {
		/* The request line was "GET /callback", then its end, a space or
		 * the query (a NUL byte ends the line early too). */
		FUZZ_CHECK(size >= 13 && memcmp(data, "GET /callback", 13) == 0);
		FUZZ_CHECK(size == 13 || memchr("? \r\n", data[13], 5));
	}
	for (size_t i = 0; i < 4; i++) {
		FUZZ_CHECK(is_callback || !fields[i]);
		if (!fields[i])
			continue;
		FUZZ_CHECK(inside(fields[i], buf, size));
		check_shown(fields[i]);
		check_escaped(fields[i]);
	}
}

static void check_verdict(const struct callback *cb)
{
	enum callback_verdict v = callback_judge(cb, STATE);
	bool right = cb->state && strcmp(cb->state, STATE) == 0;
	bool answer = (cb->code && *cb->code) || (cb->error && *cb->error);
	FUZZ_CHECK(v == (!right ? CALLBACK_FOREIGN : answer ? CALLBACK_ANSWER : CALLBACK_EMPTY));
	if (v != CALLBACK_FOREIGN)
		return;

	char line[256], blind[256];
	callback_describe_foreign(cb, line, sizeof(line));
	size_t n = strnlen(line, sizeof(line));
	FUZZ_CHECK(n < sizeof(line) && n <= 200);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(line[i] >= 0x20 && line[i] < 0x7f);
	/* Only whether there is a code and a state shows, never what they hold. */
	struct callback other = *cb;
	if (other.code && *other.code)
		other.code = "x";
	if (other.state)
		other.state = "s";
	callback_describe_foreign(&other, blind, sizeof(blind));
	FUZZ_CHECK(strcmp(line, blind) == 0);
}

/* SHA-256 and base64url against libcrypto. */
static void check_pkce_math(const uint8_t *data, size_t size)
{
	if (!ref_sha256 || !ref_encode_block)
		return;
	unsigned char mine[SHA256_BYTES], ref[SHA256_BYTES];
	sha256(data, size, mine);
	ref_sha256(data, size, ref);
	FUZZ_CHECK(memcmp(mine, ref, sizeof(mine)) == 0);

	char *b64 = malloc(B64URL_LEN(size) + 1);
	unsigned char *std = malloc(4 * ((size + 2) / 3) + 1);
	FUZZ_CHECK(b64 && std);
	base64url(data, size, b64);
	int n = ref_encode_block(std, data, (int)size);
	/* base64url is base64 with - and _ for + and /, without the padding. */
	while (n > 0 && std[n - 1] == '=')
		n--;
	for (int i = 0; i < n; i++)
		std[i] = std[i] == '+' ? '-' : std[i] == '/' ? '_' : std[i];
	FUZZ_CHECK(strlen(b64) == (size_t)n && memcmp(b64, std, (size_t)n) == 0);
	free(std);
	free(b64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* What one client's buffer holds; exactly sized, so ASan sees any
	 * read past it. */
	if (size > MAX_REQUEST_HEAD)
		size = MAX_REQUEST_HEAD;
	char *buf = malloc(size + 1);
	FUZZ_CHECK(buf);
	if (size)
		memcpy(buf, data, size);

	char *end = callback_head_end(buf, size);
	FUZZ_CHECK(buf[size] == '\0');
	if (end) {
		FUZZ_CHECK(end >= buf && end < buf + size);
		FUZZ_CHECK(strncmp(end, "\r\n\r\n", 4) == 0 || strncmp(end, "\n\n", 2) == 0);
	}

	struct callback cb;
	bool is_callback = callback_parse(buf, &cb);
	check_parsed(data, size, buf, is_callback, &cb);
	if (is_callback)
		check_verdict(&cb);
	check_pkce_math(data, size);
	free(buf);
	return 0;
}
