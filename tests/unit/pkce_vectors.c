/* pkce_vectors.c - reads lines of hex; prints the SHA-256 (hex), the
 * base64url and, for input without NUL, the S256 challenge of each, as
 * sepayfs-login computes them, for test_login.py to check against
 * Python's hashlib and base64. */
#include "login_pkce.h"

#include <stdio.h>
#include <string.h>

static int hex_digit(char c)
{
	const char *digits = "0123456789abcdef";
	const char *p = c ? strchr(digits, c) : NULL;
	return p ? (int)(p - digits) : -1;
}

int main(void)
{
	static char line[1 << 21];
	static unsigned char in[1 << 20];
	while (fgets(line, sizeof(line), stdin)) {
		size_t n = 0;
		for (char *p = line; n < sizeof(in) - 1 && hex_digit(p[0]) >= 0 &&
				     hex_digit(p[1]) >= 0; p += 2)
			in[n++] = (unsigned char)(hex_digit(p[0]) * 16 + hex_digit(p[1]));
		unsigned char d[SHA256_BYTES];
		sha256(in, n, d);
		for (size_t i = 0; i < sizeof(d); i++)
			printf("%02x", d[i]);
		static char b64[B64URL_LEN(sizeof(in)) + 1];
		base64url(in, n, b64);
		char challenge[B64URL_LEN(SHA256_BYTES) + 1] = "-";
		in[n] = 0;
		if (strlen((char *)in) == n)
			pkce_challenge((char *)in, challenge);
		printf(" %s %s\n", *b64 ? b64 : "-", challenge);
	}
	return 0;
}
