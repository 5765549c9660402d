/* fuzz_token.c -- libFuzzer harness: any bytes as a token given to `jibri-pipeline token --verify' (token_verify), as the claims of a token signed with the secret, and a token minted for a room from the input verified again. */
#include "api/token.h"
#include "fuzz.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* The host's configuration, as tests/unit/test_token.c sets it. The
 * tokens in seeds/token/ were minted with this secret by `JITSI_DOMAIN=
 * meet.example.com JITSI_JWT_SECRET=... jibri-pipeline token --room r1'
 * (and --moderator, --room '*'; JWT_TTL 8h, expired.jwt --ttl 60) at
 * 1796610887, the tampered, no-typ, alg-none and odd-claims ones made
 * from r1.jwt by hand, claims-*.json the payloads alone: FUZZ_TOKEN_NOW,
 * an hour later, is when every token is judged, so that they verify. */
#define FUZZ_TOKEN_SECRET "fuzz-jwt-secret-0123456789abcdef"
#define FUZZ_TOKEN_DOMAIN "meet.example.com"
#define FUZZ_TOKEN_NOW 1796614450LL
#define FUZZ_TOKEN_TTL (8 * 3600)

/* What `token --room' takes (cmd_token.c): 1 to 1023 bytes, none of
 * these, no spaces or control characters. */
#define FUZZ_TOKEN_ROOM_BAD "\"&'/:<>@"
#define FUZZ_TOKEN_ROOM_MAX 1023

/* {"alg":"HS256","typ":"JWT"}, base64url: the header of a signed payload */
#define FUZZ_TOKEN_HEAD "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

static struct config cfg;
static FILE *devnull;            /* where the reports are printed */

static void
setup(void)
{
	if (cfg.jwt_secret != NULL)
		return;
	if ((devnull = fopen("/dev/null", "w")) == NULL) {
		perror("/dev/null");
		abort();
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.jitsi_domain = (char *)FUZZ_TOKEN_DOMAIN;
	cfg.jwt_secret = (char *)FUZZ_TOKEN_SECRET;
	cfg.app_id = (char *)"reflector";
	cfg.jwt_issuer = (char *)"reflector";
	cfg.jwt_audience = (char *)"jitsi";
	cfg.jwt_ttl = FUZZ_TOKEN_TTL;
}

/* What goes to a terminal: UTF-8 (the report's own text is ASCII; a
 * --room may not be), no C0 or C1 control character, no DEL. */
static void
check_printable(const char *what, const char *s)
{
	const unsigned char *p;
	json_t *j = json_string(s);

	FUZZ_CHECK(j != NULL, "%s: not UTF-8: %s", what, s);
	json_decref(j);
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		FUZZ_CHECK(*p >= 0x20 && *p != 0x7f && !(p[0] == 0xc2 &&
		    p[1] >= 0x80 && p[1] <= 0x9f),
		    "%s: a control character (byte %zu): %s", what,
		    (size_t)(p - (const unsigned char *)s), s);
}

/* The verdict of the check named what, or -1 when there is none. */
static int
verdict_of(const struct token_report *rep, const char *what)
{
	size_t i;

	for (i = 0; i < rep->n; i++)
		if (strcmp(rep->checks[i].what, what) == 0)
			return (int)rep->checks[i].verdict;
	return -1;
}

/* What every report holds, whatever the token. */
static void
check_report(const struct token_report *rep, bool ok)
{
	const struct token_check *c;
	bool bad = false;
	size_t i;

	FUZZ_CHECK(ok == rep->accepted, "returned %d, accepted %d", ok,
	    rep->accepted);
	FUZZ_CHECK(rep->n >= 1 && rep->n <= TOKEN_CHECKS_MAX, "%zu checks",
	    rep->n);
	FUZZ_CHECK(rep->more == 0 || rep->n == TOKEN_CHECKS_MAX,
	    "%zu checks not kept with room for more", rep->more);
	for (i = 0; i < rep->n; i++) {
		c = &rep->checks[i];
		FUZZ_CHECK(c->what != NULL && c->what[0] != '\0',
		    "check %zu names nothing", i);
		check_printable("a check's name", c->what);
		FUZZ_CHECK(c->verdict == TOKEN_OK || c->verdict == TOKEN_NOTE ||
		    c->verdict == TOKEN_BAD, "%s: verdict %d", c->what,
		    (int)c->verdict);
		FUZZ_CHECK(memchr(c->text, '\0', sizeof(c->text)) != NULL,
		    "%s: text not terminated", c->what);
		FUZZ_CHECK(c->text[0] != '\0', "%s: no text", c->what);
		check_printable(c->what, c->text);
		if (c->verdict == TOKEN_BAD)
			bad = true;
	}
	/* a BAD check past TOKEN_CHECKS_MAX refuses the token unseen: the
	 * report then says there were more */
	FUZZ_CHECK(rep->accepted == !bad || (!rep->accepted && rep->more > 0),
	    "accepted %d with %s BAD check", rep->accepted, bad ? "a" : "no");
}

/* One token_verify, its report checked and printed. */
static bool
verify(const char *tok, const char *room, struct token_report *rep)
{
	bool ok;

	memset(rep, 0xa5, sizeof(*rep));
	ok = token_verify(&cfg, tok, room, FUZZ_TOKEN_NOW, rep);
	check_report(rep, ok);
	token_report_print(rep, devnull);
	return ok;
}

/* n bytes as base64url without padding (malloc'd). */
static char *
b64url(const void *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	int len, i;

	FUZZ_CHECK(out != NULL, "malloc");
	len = EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	for (i = 0; i < len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	return out;
}

/* Whether the claims (a JSON object) pass what Prosody asks of them, read
 * here apart from token.c: the oracle for a correctly signed token. */
static bool
claims_ok(const json_t *claims)
{
	const json_t *v, *ctx, *user, *feat;
	static const char *const strs[] = { "id", "name", "email", "avatar",
	    "affiliation" };
	const char *k;
	json_t *x;
	size_t i;

	v = json_object_get(claims, "iss");
	if (!json_is_string(v) || strcmp(json_string_value(v), "reflector"))
		return false;
	v = json_object_get(claims, "aud");
	if (!json_is_string(v) || strcmp(json_string_value(v), "jitsi"))
		return false;
	v = json_object_get(claims, "sub");
	if (!json_is_string(v) || (strcmp(json_string_value(v), "*") != 0 &&
	    strcasecmp(json_string_value(v), FUZZ_TOKEN_DOMAIN) != 0))
		return false;
	if (!json_is_string(json_object_get(claims, "room")))
		return false;
	v = json_object_get(claims, "nbf");
	if (v != NULL && (!json_is_number(v) ||
	    json_number_value(v) > (double)FUZZ_TOKEN_NOW))
		return false;
	v = json_object_get(claims, "exp");
	if (v != NULL && (!json_is_number(v) ||
	    json_number_value(v) <= (double)FUZZ_TOKEN_NOW))
		return false;
	if ((ctx = json_object_get(claims, "context")) == NULL)
		return true;
	if (!json_is_object(ctx))
		return false;
	if ((user = json_object_get(ctx, "user")) != NULL) {
		if (!json_is_object(user))
			return false;
		for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
			if ((v = json_object_get(user, strs[i])) != NULL &&
			    !json_is_string(v))
				return false;
		v = json_object_get(user, "moderator");
		if (v != NULL && !json_is_boolean(v) && !(json_is_string(v) &&
		    (strcmp(json_string_value(v), "true") == 0 ||
		    strcmp(json_string_value(v), "false") == 0)))
			return false;
	}
	if ((feat = json_object_get(ctx, "features")) != NULL) {
		if (!json_is_object(feat))
			return false;
		json_object_foreach((json_t *)feat, k, x)
			if (!json_is_boolean(x) && !(json_is_string(x) &&
			    (strcmp(json_string_value(x), "true") == 0 ||
			    strcmp(json_string_value(x), "false") == 0)))
				return false;
	}
	return true;
}

/* The input as the payload of a token signed HS256 with the secret:
 * typ, alg and the signature pass, and the verdict is the claims'. */
static void
signed_payload(const uint8_t *data, size_t size)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	struct token_report rep;
	json_t *claims;
	char *payload, *sig, *tok;
	size_t signed_len;
	bool ok;

	payload = b64url(data, size);
	signed_len = strlen(FUZZ_TOKEN_HEAD) + 1 + strlen(payload);
	tok = malloc(signed_len + 2 + 4 * EVP_MAX_MD_SIZE / 3 + 4);
	FUZZ_CHECK(tok != NULL, "malloc");
	snprintf(tok, signed_len + 1, "%s.%s", FUZZ_TOKEN_HEAD, payload);
	FUZZ_CHECK(HMAC(EVP_sha256(), FUZZ_TOKEN_SECRET,
	    (int)strlen(FUZZ_TOKEN_SECRET), (const unsigned char *)tok,
	    signed_len, mac, &maclen) != NULL, "HMAC");
	sig = b64url(mac, maclen);
	tok[signed_len] = '.';
	memcpy(tok + signed_len + 1, sig, strlen(sig) + 1);

	if (signed_len + 1 + strlen(sig) <= TOKEN_MAX) {
		ok = verify(tok, NULL, &rep);
		claims = json_loadb((const char *)data, size, 0, NULL);
		if (json_is_object(claims)) {
			FUZZ_CHECK(verdict_of(&rep, "format") == TOKEN_OK &&
			    verdict_of(&rep, "typ") == TOKEN_OK &&
			    verdict_of(&rep, "alg") == TOKEN_OK &&
			    verdict_of(&rep, "signature") == TOKEN_OK,
			    "a signed token refused for its form: %s", tok);
			FUZZ_CHECK(ok == claims_ok(claims), "accepted %d, the "
			    "claims say %d: %.*s", ok, !ok, (int)size,
			    (const char *)data);
		} else {
			FUZZ_CHECK(!ok && verdict_of(&rep, "format") ==
			    TOKEN_BAD, "a payload that is not a JSON object "
			    "accepted");
		}
		json_decref(claims);
	}
	free(sig);
	free(tok);
	free(payload);
}

/* Whether `token --room' takes room (cmd_token_room_ok, without --url). */
static bool
room_ok(const char *room)
{
	const unsigned char *p;
	json_t *j;

	if (room[0] == '\0' || strlen(room) > FUZZ_TOKEN_ROOM_MAX)
		return false;
	for (p = (const unsigned char *)room; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f || strchr(FUZZ_TOKEN_ROOM_BAD, *p))
			return false;
	/* token_mint refuses what is not UTF-8 */
	if ((j = json_string(room)) == NULL)
		return false;
	json_decref(j);
	return true;
}

/* A token minted for a room from the input (when `token --room' takes
 * it; else a fixed one), with the input as the holder's name when it is
 * UTF-8, verifies at the same time: accepted, for its room and with no
 * room, with the role it was minted with. */
static void
round_trip(const char *in, bool moderator)
{
	const char *room = room_ok(in) ? in : "fuzz-room";
	struct token_report rep;
	json_t *j = json_string(in);
	char err[512], *tok;

	tok = token_mint(&cfg, room, "0b5e4a1c-7f3d-4c2b-9a8e-6d1f2e3c4b5a",
	    j != NULL ? in : "Participant", moderator, FUZZ_TOKEN_NOW,
	    FUZZ_TOKEN_NOW + FUZZ_TOKEN_TTL, err, sizeof(err));
	json_decref(j);
	FUZZ_CHECK(tok != NULL, "token_mint for room `%s': %s", room, err);
	FUZZ_CHECK(strlen(tok) <= TOKEN_MAX, "a minted token of %zu bytes",
	    strlen(tok));
	FUZZ_CHECK(verify(tok, room, &rep), "a minted token refused for its "
	    "room `%s'", room);
	FUZZ_CHECK(rep.moderator == moderator, "minted as moderator %d, "
	    "verified as %d", moderator, rep.moderator);
	FUZZ_CHECK(verify(tok, NULL, &rep), "a minted token refused with no "
	    "room");
	free(tok);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct token_report rep;
	char *in;

	if (size > TOKEN_MAX + 16)
		return 0;
	setup();
	in = malloc(size + 1);
	FUZZ_CHECK(in != NULL, "malloc");
	memcpy(in, data, size);
	in[size] = '\0';

	/* as `token --verify' takes it: up to a NUL, with no room, with
	 * the room "*" and with a fixed room */
	verify(in, NULL, &rep);
	verify(in, "*", &rep);
	verify(in, "r1", &rep);

	signed_payload(data, size);
	round_trip(in, size % 2 == 1);
	free(in);
	return 0;
}
