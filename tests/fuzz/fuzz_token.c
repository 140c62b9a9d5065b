/* fuzz_token.c - a token endpoint's answer, as a refresh reads it.
 *
 * The input is the body of a POST /oauth/token answer.  Its expires_in and
 * its access token (a JWT or not) go through auth_expires_at(), which must
 * give a time within ten years of now, or the JWT's own exp. */
#include "fuzz_common.h"

#include "auth.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const int64_t now = 1784000000;
	json_t *root = json_loadb((const char *)data, size, 0, NULL);
	const char *token = json_string_value(json_object_get(root, "access_token"));
	if (!token)
		token = "";
	int64_t jwt = auth_jwt_expiry(token);
	FUZZ_CHECK(jwt >= 0);
	int64_t at = auth_expires_at(json_object_get(root, "expires_in"), token, now);
	FUZZ_CHECK(at == jwt || (at > now && at <= now + 10LL * 366 * 24 * 3600));
	json_decref(root);
	return 0;
}
