/* login_flow.h - the OAuth2 authorization-code flow of sepayfs-login (RFC
 * 6749 section 4.1, with a loopback redirect as RFC 8252 describes and
 * PKCE): the authorize URL the user opens, the browser started for it, and
 * what follows SePay's answer (the code exchanged at the token endpoint,
 * the credentials file written, or SePay's refusal reported).  Each step
 * says on stderr why it failed, and fills the page the browser is shown. */
#ifndef SEPAYFS_LOGIN_FLOW_H
#define SEPAYFS_LOGIN_FLOW_H

#include "login_callback.h"

#include <stdbool.h>
#include <sys/types.h>

struct login_options {
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

/* The browser's page about how the log-in ended. */
struct login_outcome {
	int status; /* its HTTP status */
	char title[64];
	char text[512];
};

/* The authorize URL, built with libcurl's URL API (it holds the state:
 * scrub it before freeing); NULL when out of memory or when
 * o->authorize_url is not a URL libcurl takes. */
char *login_authorize_url(const struct login_options *o, const char *redirect_uri,
			  const char *state, const char *challenge);

/* xdg-open on url when there is a display; its pid, or -1. */
pid_t login_open_browser(const char *url);

/* This run's answer is an error from SePay: say so on the terminal and in
 * the browser's page.  (Only an error with this run's state gets here.) */
void login_report_refusal(const struct callback *cb, struct login_outcome *result);

/* This run's answer is a code: exchange it (with the PKCE verifier) and
 * write the credentials file.  True when logged in. */
bool login_complete(const struct login_options *o, const char *secret, const char *code,
		    const char *verifier, const char *redirect_uri, struct login_outcome *result);

#endif
