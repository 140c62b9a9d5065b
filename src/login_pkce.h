/* login_pkce.h - sepayfs-login's PKCE (RFC 7636, S256) and random state.
 *
 * RFC 8252 asks loopback redirects for PKCE: whatever else reads the code
 * on its way to 127.0.0.1 cannot exchange it without the verifier, which
 * leaves the process only in the exchange.  SHA-256 is written here (FIPS
 * 180-4) because sepayfs-login links no crypto library of its own (the one
 * under libcurl is libcurl's), and a one-shot hash of a 43-byte verifier
 * needs no more. */
#ifndef SEPAYFS_LOGIN_PKCE_H
#define SEPAYFS_LOGIN_PKCE_H

#include <stdbool.h>
#include <stddef.h>

/* 32 random bytes make a 43-character verifier, the size RFC 7636
 * section 4.1 recommends. */
#define PKCE_VERIFIER_BYTES 32
#define SHA256_BYTES 32
/* Characters of n bytes in base64url without padding. */
#define B64URL_LEN(n) (((n) * 4 + 2) / 3)
/* The state: 128 random bits, written as hex. */
#define LOGIN_STATE_BYTES 16
#define LOGIN_STATE_LEN (2 * LOGIN_STATE_BYTES)

struct pkce {
	char verifier[B64URL_LEN(PKCE_VERIFIER_BYTES) + 1]; /* secret */
	char challenge[B64URL_LEN(SHA256_BYTES) + 1];       /* public: on the authorize URL */
};

/* A fresh verifier and its challenge; false when the kernel gave no
 * random bytes (getrandom's errno, if it set one).  Scrub it with
 * explicit_bzero when done. */
bool pkce_new(struct pkce *p);
/* A fresh state, LOGIN_STATE_LEN hex digits and a NUL in out. */
bool login_random_state(char out[LOGIN_STATE_LEN + 1]);

/* The pieces, for the tests and the fuzz target to check against others'. */
void sha256(const void *data, size_t len, unsigned char out[SHA256_BYTES]);
/* base64url without padding (RFC 4648 section 5); out has room for
 * B64URL_LEN(n) + 1 bytes. */
void base64url(const unsigned char *in, size_t n, char *out);
/* BASE64URL(SHA256(ASCII(verifier))); out has room for
 * B64URL_LEN(SHA256_BYTES) + 1 bytes. */
void pkce_challenge(const char *verifier, char *out);

#endif
