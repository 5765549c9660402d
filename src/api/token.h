/* token.h -- Jitsi room tokens (JWT, HS256, libjwt): minting them, the URLs that carry them, and judging one as Prosody would. */
#ifndef JP_TOKEN_H
#define JP_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/config.h"

/* Seconds a token is valid before it was made (nbf = iat - this):
 * Prosody's token check allows no clock skew, and a host whose clock runs
 * a little ahead of Prosody's would otherwise mint tokens that Prosody
 * refuses as "not yet valid" for their first seconds. */
#define TOKEN_NBF_SKEW 60

/* The longest token token_verify looks at. A token rides in a URL and an
 * XMPP stanza; ours are about 600 bytes. */
#define TOKEN_MAX 16384

/*
 * Mint a room token for room (stored lower-case in the "room" claim: Prosody
 * compares it with the MUC node, which is lower-case), signed HS256 with
 * JITSI_JWT_SECRET. Header {"alg":"HS256","typ":"JWT"}; claims iss
 * (JITSI_JWT_ISSUER, else JITSI_APP_ID), aud (JITSI_JWT_AUDIENCE, else
 * "jitsi"), sub (JITSI_DOMAIN), room, iat = now, nbf = now - TOKEN_NBF_SKEW,
 * exp, context.user {id: user_id, name, moderator, affiliation: "owner" for
 * a moderator, else "member"} and context.features {recording: true,
 * livestreaming: false}. now and exp are Unix seconds and exp must be later
 * than now. Returns the token (free() it), or NULL with err saying why:
 * JITSI_JWT_SECRET or JITSI_DOMAIN not set, a missing or non-UTF-8 argument
 * (quoted), exp not after now, or libjwt's failure.
 */
char *token_mint(const struct config *cfg, const char *room,
    const char *user_id, const char *name, bool moderator, int64_t now,
    int64_t exp, char *err, size_t errlen);

/* The meeting URL that carries a token:
 * https://{JITSI_DOMAIN}/{room_name}?jwt={token}, room_name and token
 * percent-encoded (a token of base64url parts and dots comes out as it
 * went in). NULL when JITSI_DOMAIN is not set; else newly allocated
 * (free() it). */
char *token_url(const struct config *cfg, const char *room_name,
    const char *token);

/* How one check of token_verify came out. */
enum token_verdict {
	TOKEN_OK = 0,      /* as Prosody wants it */
	TOKEN_NOTE,        /* Prosody accepts it, but it is worth knowing */
	TOKEN_BAD,         /* Prosody refuses the token for this */
};

/* One check: what was looked at, its value, and the verdict with why. */
struct token_check {
	const char *what;              /* "typ", "signature", "context.user.name" */
	enum token_verdict verdict;
	char text[320];                /* the value as found, then for a NOTE
	                                  or BAD what is wrong and what to do */
};

#define TOKEN_CHECKS_MAX 32

/* Everything token_verify found, in the order Prosody looks. */
struct token_report {
	struct token_check checks[TOKEN_CHECKS_MAX];
	size_t n;
	size_t more;                   /* checks made past TOKEN_CHECKS_MAX,
	                                  not kept */
	bool accepted;                 /* no check is TOKEN_BAD */
	bool moderator;                /* Prosody would make the holder a
	                                  moderator (context.user.moderator
	                                  true or "true", or affiliation owner
	                                  or moderator) */
};

/*
 * Judge token as Prosody's token check (mod_auth_token, token/util,
 * luajwtjitsi) would at Unix time now, with this host's configuration:
 * three base64url parts with JSON objects; header typ "JWT" and alg
 * "HS256"; the HS256 signature under JITSI_JWT_SECRET; iss equal to the
 * configured issuer and aud to the configured audience (what Prosody's
 * asap_accepted_issuers / asap_accepted_audiences must hold); sub equal
 * to JITSI_DOMAIN (or "*"); a room claim, and when room is not NULL the
 * two compared lower-case ("*" in the token matches any room); nbf <= now
 * and exp > now with no leeway, both numbers; context.user and
 * context.features with strings and booleans where Jitsi expects them and
 * never null. Every check is made, also after one failed (the claims are
 * read from the unverified payload), so the report names every problem.
 * Fills rep; returns rep->accepted.
 */
bool token_verify(const struct config *cfg, const char *token,
    const char *room, int64_t now, struct token_report *rep);

/* Print rep, one line per check ("exp  1700000000 (…): OK" or with what is
 * wrong), then a last line with the verdict. Never prints the secret. */
void token_report_print(const struct token_report *rep, FILE *f);

#endif
