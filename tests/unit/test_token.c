/* test_token.c -- room tokens: what token_mint signs (read back without libjwt), and every reason token_verify refuses one. */
#include "unit.h"
#include "base/config.h"
#include "base/util.h"
#include "api/token.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SECRET "test-jwt-secret-0123456789abcdef-0123"
#define DOMAIN "meet.example.com"

/* The configuration a token needs; the rest of struct config stays 0. */
static struct config
test_cfg(void)
{
	struct config c;

	memset(&c, 0, sizeof(c));
	c.jitsi_domain = (char *)DOMAIN;
	c.jwt_secret = (char *)SECRET;
	c.app_id = (char *)"reflector";
	c.jwt_issuer = (char *)"reflector";
	c.jwt_audience = (char *)"jitsi";
	c.jwt_ttl = 8 * 3600;
	return c;
}

static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

/* base64url (no padding) -> bytes, through OpenSSL's streaming decoder
 * (token.c uses EVP_DecodeBlock: the test reads tokens another way). */
static char *
b64url_decode(const char *s, size_t n, size_t *len)
{
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	char *b = xmalloc(n + 4), *out = xmalloc(n + 4);
	int got = 0, more = 0;
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (i % 4 != 0)
		b[i++] = '=';
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, (unsigned char *)out, &got,
	    (unsigned char *)b, (int)i) < 0 ||
	    EVP_DecodeFinal(ctx, (unsigned char *)out + got, &more) < 0) {
		free(out);
		out = NULL;
	} else {
		*len = (size_t)(got + more);
		out[*len] = '\0';
	}
	EVP_ENCODE_CTX_free(ctx);
	free(b);
	return out;
}

static char *
b64url_encode(const void *data, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);
	int len = EVP_EncodeBlock((unsigned char *)out, data, (int)n);
	int i;

	for (i = 0; i < len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	return out;
}

/* Part i (0 header, 1 payload) of a token as JSON. */
static json_t *
part(const char *tok, int i)
{
	const char *p = tok, *end;
	json_t *j;
	size_t len;
	char *raw;

	while (i-- > 0)
		p = strchr(p, '.') + 1;
	end = strchr(p, '.');
	raw = b64url_decode(p, (size_t)(end - p), &len);
	if (raw == NULL)
		return NULL;
	j = json_loadb(raw, len, 0, NULL);
	free(raw);
	return j;
}

/* A token made by hand: header and payload as given, HS256 under key. */
static char *
sign(const char *header, const char *payload, const char *key)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char *h = b64url_encode(header, strlen(header));
	char *p = b64url_encode(payload, strlen(payload));
	char *input = xasprintf("%s.%s", h, p), *sig, *tok;

	HMAC(EVP_sha256(), key, (int)strlen(key), (unsigned char *)input,
	    strlen(input), mac, &maclen);
	sig = b64url_encode(mac, maclen);
	tok = xasprintf("%s.%s", input, sig);
	free(h);
	free(p);
	free(input);
	free(sig);
	return tok;
}

/* The token's payload with key set to value (JSON text), re-signed with
 * key secret, or with the old signature kept when secret is NULL. */
static char *
edit(const char *tok, const char *key, const char *value, const char *secret)
{
	json_t *head = part(tok, 0), *claims = part(tok, 1);
	char *h, *c, *out;

	json_object_set_new(claims, key, json_loads(value, JSON_DECODE_ANY,
	    NULL));
	h = json_dumps(head, JSON_COMPACT);
	c = json_dumps(claims, JSON_COMPACT);
	if (secret != NULL) {
		out = sign(h, c, secret);
	} else {
		char *p = b64url_encode(c, strlen(c));
		const char *dot1 = strchr(tok, '.');

		out = xasprintf("%.*s.%s%s", (int)(dot1 - tok), tok, p,
		    strrchr(tok, '.'));
		free(p);
	}
	free(h);
	free(c);
	json_decref(head);
	json_decref(claims);
	return out;
}

static const struct token_check *
find(const struct token_report *rep, const char *what)
{
	size_t i;

	for (i = 0; i < rep->n; i++)
		if (strcmp(rep->checks[i].what, what) == 0)
			return &rep->checks[i];
	return NULL;
}

/* The verdict of check what (-1: not in the report). */
static int
verdict(const struct token_report *rep, const char *what)
{
	const struct token_check *c = find(rep, what);

	return c != NULL ? (int)c->verdict : -1;
}

/* Whether the text of check what holds needle. */
static bool
says(const struct token_report *rep, const char *what, const char *needle)
{
	const struct token_check *c = find(rep, what);

	if (c == NULL)
		return false;
	return strstr(c->text, needle) != NULL;
}

/* The number of BAD checks. */
static int
nbad(const struct token_report *rep)
{
	size_t i;
	int n = 0;

	for (i = 0; i < rep->n; i++)
		n += rep->checks[i].verdict == TOKEN_BAD;
	return n;
}

static char *
mint(const struct config *c, const char *room, bool moderator, int64_t now,
    int64_t exp)
{
	char err[512];
	char *tok = token_mint(c, room, "user-1", moderator ? "Moderator" :
	    "Participant", moderator, now, exp, err, sizeof(err));

	if (tok == NULL)
		fprintf(stderr, "  token_mint: %s\n", err);
	return tok;
}

static void
mint_header_and_claims(void)
{
	struct config c = test_cfg();
	int64_t now = 1736935200;
	char *tok = mint(&c, "Reflector-My-Room-UUID", true, now, now + 3600);
	json_t *head, *cl, *user, *feat, *want;

	CHECK(tok != NULL);
	if (tok == NULL)
		return;
	head = part(tok, 0);
	want = json_pack("{s:s, s:s}", "alg", "HS256", "typ", "JWT");
	CHECK(head != NULL && json_equal(head, want));
	json_decref(want);
	cl = part(tok, 1);
	CHECK(cl != NULL);
	CHECK_STR(json_string_value(json_object_get(cl, "iss")), "reflector");
	CHECK_STR(json_string_value(json_object_get(cl, "aud")), "jitsi");
	CHECK_STR(json_string_value(json_object_get(cl, "sub")), DOMAIN);
	CHECK_STR(json_string_value(json_object_get(cl, "room")),
	    "reflector-my-room-uuid");
	CHECK(json_is_integer(json_object_get(cl, "iat")));
	CHECK_INT(json_integer_value(json_object_get(cl, "iat")), now);
	CHECK_INT(json_integer_value(json_object_get(cl, "nbf")), now - 60);
	CHECK_INT(json_integer_value(json_object_get(cl, "exp")), now + 3600);
	CHECK_INT(json_object_size(cl), 8);
	user = json_object_get(json_object_get(cl, "context"), "user");
	CHECK_STR(json_string_value(json_object_get(user, "id")), "user-1");
	CHECK_STR(json_string_value(json_object_get(user, "name")), "Moderator");
	CHECK(json_is_true(json_object_get(user, "moderator")));
	CHECK_STR(json_string_value(json_object_get(user, "affiliation")),
	    "owner");
	feat = json_object_get(json_object_get(cl, "context"), "features");
	CHECK(json_is_true(json_object_get(feat, "recording")));
	CHECK(json_is_false(json_object_get(feat, "livestreaming")));
	json_decref(head);
	json_decref(cl);
	free(tok);

	tok = mint(&c, "room", false, now, now + 60);
	cl = part(tok, 1);
	user = json_object_get(json_object_get(cl, "context"), "user");
	CHECK(json_is_false(json_object_get(user, "moderator")));
	CHECK_STR(json_string_value(json_object_get(user, "affiliation")),
	    "member");
	CHECK_STR(json_string_value(json_object_get(user, "name")),
	    "Participant");
	json_decref(cl);
	free(tok);
}

/* Signed with the secret as given: our own HMAC agrees with libjwt's. */
static void
mint_signature(void)
{
	struct config c = test_cfg();
	char *tok = mint(&c, "room", false, 1736935200, 1736935200 + 60);
	char *again, *h, *p;

	/* re-sign the same bytes: the parts as they are in the token */
	h = xstrndup(tok, (size_t)(strchr(tok, '.') - tok));
	p = xstrndup(strchr(tok, '.') + 1, (size_t)(strrchr(tok, '.') -
	    strchr(tok, '.') - 1));
	{
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int maclen = 0;
		char *input = xasprintf("%s.%s", h, p), *sig;

		HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
		    (unsigned char *)input, strlen(input), mac, &maclen);
		sig = b64url_encode(mac, maclen);
		again = xasprintf("%s.%s", input, sig);
		free(input);
		free(sig);
	}
	CHECK_STR(tok, again);
	free(again);
	free(h);
	free(p);
	free(tok);
}

static void
mint_refuses(void)
{
	struct config c = test_cfg();
	char err[512];
	char *tok;

	c.jwt_secret = NULL;
	tok = token_mint(&c, "r", "u", "n", false, 100, 200, err, sizeof(err));
	CHECK(tok == NULL);
	CHECK(strstr(err, "JITSI_JWT_SECRET") != NULL);
	c = test_cfg();
	c.jitsi_domain = NULL;
	tok = token_mint(&c, "r", "u", "n", false, 100, 200, err, sizeof(err));
	CHECK(tok == NULL);
	CHECK(strstr(err, "JITSI_DOMAIN") != NULL);
	c = test_cfg();
	tok = token_mint(&c, "r", "u", "n", false, 100, 100, err, sizeof(err));
	CHECK(tok == NULL);
	CHECK(strstr(err, "exp") != NULL);
	tok = token_mint(&c, "", "u", "n", false, 100, 200, err, sizeof(err));
	CHECK(tok == NULL);
	tok = token_mint(&c, "r", "u", "bad \xff utf-8", false, 100, 200, err,
	    sizeof(err));
	CHECK(tok == NULL);
	CHECK(strstr(err, "UTF-8") != NULL);
}

/* No JITSI_JWT_ISSUER: the app id; no audience: "jitsi". */
static void
mint_defaults(void)
{
	struct config c = test_cfg();
	char *tok;
	json_t *cl;

	c.jwt_issuer = NULL;
	c.jwt_audience = NULL;
	c.app_id = (char *)"myapp";
	tok = mint(&c, "r", false, 100, 200);
	cl = part(tok, 1);
	CHECK_STR(json_string_value(json_object_get(cl, "iss")), "myapp");
	CHECK_STR(json_string_value(json_object_get(cl, "aud")), "jitsi");
	json_decref(cl);
	free(tok);
}

static void
url(void)
{
	struct config c = test_cfg();
	char *u = token_url(&c, "reflector-room-1", "aa.bb.c-_");

	CHECK_STR(u, "https://meet.example.com/reflector-room-1?jwt=aa.bb.c-_");
	free(u);
	u = token_url(&c, "a b/c", "x+y=");
	CHECK_STR(u, "https://meet.example.com/a%20b%2Fc?jwt=x%2By%3D");
	free(u);
	c.jitsi_domain = NULL;
	CHECK(token_url(&c, "r", "t") == NULL);
}

/* Minted and judged in the same second: accepted, the role as minted. */
static void
verify_fresh(void)
{
	struct config c = test_cfg();
	struct token_report rep;
	int64_t now = now_s();
	char *tok = mint(&c, "Room-A", true, now, now + c.jwt_ttl);

	CHECK(token_verify(&c, tok, "room-a", now, &rep));
	CHECK(rep.accepted);
	CHECK(rep.moderator);
	CHECK_INT(nbad(&rep), 0);
	CHECK_INT(verdict(&rep, "signature"), TOKEN_OK);
	CHECK_INT(verdict(&rep, "room"), TOKEN_OK);
	CHECK(token_verify(&c, tok, "ROOM-A", now, &rep));
	CHECK(token_verify(&c, tok, NULL, now, &rep));
	free(tok);
	tok = mint(&c, "room-a", false, now, now + 60);
	CHECK(token_verify(&c, tok, "room-a", now, &rep));
	CHECK(!rep.moderator);
	free(tok);
}

/* Whether token_verify refuses tok for the one reason what, and for no
 * other. */
static bool
refused_for(const struct config *c, const char *tok, const char *room,
    int64_t now, const char *what)
{
	struct token_report rep;

	return !token_verify(c, tok, room, now, &rep) &&
	    verdict(&rep, what) == TOKEN_BAD && nbad(&rep) == 1;
}

static void
verify_wrong_secret(void)
{
	struct config c = test_cfg(), other = test_cfg();
	struct token_report rep;
	int64_t now = now_s();
	char *tok;

	other.jwt_secret = (char *)"another-secret-0123456789abcdef-0123";
	tok = mint(&other, "r", false, now, now + 600);
	CHECK(refused_for(&c, tok, "r", now, "signature"));
	/* the claims are still read and judged */
	token_verify(&c, tok, "r", now, &rep);
	CHECK_INT(verdict(&rep, "room"), TOKEN_OK);
	CHECK_INT(verdict(&rep, "exp"), TOKEN_OK);
	c.jwt_secret = NULL;
	CHECK(!token_verify(&c, tok, "r", now, &rep));
	CHECK(says(&rep, "signature", "JITSI_JWT_SECRET"));
	free(tok);
}

static void
verify_times(void)
{
	struct config c = test_cfg();
	struct token_report rep;
	int64_t now = now_s();
	char *tok, *str_exp;

	tok = mint(&c, "r", false, now - 7200, now - 3600);
	CHECK(refused_for(&c, tok, "r", now, "exp"));
	token_verify(&c, tok, "r", now, &rep);
	CHECK(says(&rep, "exp", "expired 1h ago"));
	free(tok);
	/* exp == now: expired, no leeway */
	tok = mint(&c, "r", false, now - 600, now);
	CHECK(refused_for(&c, tok, "r", now, "exp"));
	free(tok);
	/* nbf in the future (made 2 minutes ahead: nbf = now + 60) */
	tok = mint(&c, "r", false, now + 120, now + 3600);
	CHECK(refused_for(&c, tok, "r", now, "nbf"));
	free(tok);
	/* nbf == now: valid */
	tok = mint(&c, "r", false, now + 60, now + 3600);
	CHECK(token_verify(&c, tok, "r", now, &rep));
	free(tok);
	/* exp must be a number, as luajwtjitsi wants it */
	tok = mint(&c, "r", false, now, now + 3600);
	str_exp = edit(tok, "exp", "\"9999999999\"", SECRET);
	CHECK(refused_for(&c, str_exp, "r", now, "exp"));
	free(str_exp);
	free(tok);
}

/* A payload changed after signing: the signature fails, the changed
 * claims are still shown. */
static void
verify_tampered(void)
{
	struct config c = test_cfg();
	struct token_report rep;
	int64_t now = now_s();
	char *tok = mint(&c, "room-a", false, now, now + 600);
	char *bad = edit(tok, "room", "\"room-b\"", NULL);

	CHECK(refused_for(&c, bad, "room-b", now, "signature"));
	token_verify(&c, bad, "room-b", now, &rep);
	CHECK_INT(verdict(&rep, "room"), TOKEN_OK);
	CHECK(says(&rep, "room", "room-b"));
	free(bad);
	/* a moderator flag slipped in */
	bad = edit(tok, "context", "{\"user\":{\"moderator\":true}}", NULL);
	CHECK(refused_for(&c, bad, "room-a", now, "signature"));
	free(bad);
	/* one character of the signature changed */
	bad = xstrdup(tok);
	bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A';
	CHECK(refused_for(&c, bad, "room-a", now, "signature"));
	free(bad);
	free(tok);
}

/* Minted under another issuer, audience or domain: refused for that. */
static void
verify_claims(void)
{
	static const struct {
		const char *what;
		size_t field;                  /* a char * in struct config */
		const char *value;
	} wrong[] = {
		{ "iss", offsetof(struct config, jwt_issuer), "someone-else" },
		{ "aud", offsetof(struct config, jwt_audience), "not-jitsi" },
		{ "sub", offsetof(struct config, jitsi_domain),
		    "other.example.com" },
	};
	struct config c = test_cfg(), other;
	struct token_report rep;
	int64_t now = now_s();
	size_t i;
	char *tok;

	for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		other = test_cfg();
		*(const char **)((char *)&other + wrong[i].field) =
		    wrong[i].value;
		tok = mint(&other, "r", false, now, now + 600);
		CHECK(refused_for(&c, tok, "r", now, wrong[i].what));
		token_verify(&c, tok, "r", now, &rep);
		CHECK(says(&rep, wrong[i].what, wrong[i].value));
		free(tok);
	}

	tok = mint(&c, "room-a", false, now, now + 600);
	CHECK(refused_for(&c, tok, "room-b", now, "room"));
	free(tok);

	/* "*": any room */
	tok = mint(&c, "*", false, now, now + 600);
	CHECK(token_verify(&c, tok, "room-b", now, &rep));
	free(tok);

	/* no room claim at all; no exp is only noted */
	tok = sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    "{\"iss\":\"reflector\",\"aud\":\"jitsi\",\"sub\":\"" DOMAIN "\"}",
	    SECRET);
	CHECK(refused_for(&c, tok, NULL, now, "room"));
	token_verify(&c, tok, NULL, now, &rep);
	CHECK_INT(verdict(&rep, "exp"), TOKEN_NOTE);
	free(tok);
}

/* What the fuzzer found: the report is printed to a terminal, so a claim
 * with DEL, a payload that is not JSON (jansson's message quotes it) and
 * absurd times must all come out printable and whole. */
static bool
printable(const struct token_report *rep)
{
	const unsigned char *p;
	size_t i;

	for (i = 0; i < rep->n; i++)
		for (p = (const unsigned char *)rep->checks[i].text; *p; p++)
			if (*p < 0x20 || *p == 0x7f)
				return false;
	return true;
}

static void
verify_hostile_values(void)
{
	struct config c = test_cfg();
	struct token_report rep;
	int64_t now = now_s();
	char *tok;

	tok = sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    "{\"iss\":\"reflector\",\"aud\":\"jitsi\",\"sub\":\"" DOMAIN
	    "\",\"room\":\"r\",\"context\":{\"user\":{\"name\":\"a\x7f"
	    "\\u001b[2Jb\"}}}", SECRET);
	token_verify(&c, tok, "r", now, &rep);
	CHECK(printable(&rep));
	free(tok);
	tok = sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    "\x1b[31m not json \x7f", SECRET);
	CHECK(!token_verify(&c, tok, "r", now, &rep));
	CHECK(printable(&rep));
	free(tok);
	tok = sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    "{\"iss\":\"reflector\",\"aud\":\"jitsi\",\"sub\":\"" DOMAIN
	    "\",\"room\":\"r\",\"nbf\":1e300,\"exp\":-1e300}", SECRET);
	CHECK(!token_verify(&c, tok, "r", now, &rep));
	CHECK_INT(verdict(&rep, "nbf"), TOKEN_BAD);
	CHECK_INT(verdict(&rep, "exp"), TOKEN_BAD);
	CHECK(printable(&rep));
	free(tok);
}

#define GOOD_CLAIMS(extra) \
	"{\"iss\":\"reflector\",\"aud\":\"jitsi\",\"sub\":\"" DOMAIN "\"," \
	"\"room\":\"r\"" extra "}"

static void
verify_header(void)
{
	struct config c = test_cfg();
	struct token_report rep;
	char *tok;

	tok = sign("{\"alg\":\"HS256\"}", GOOD_CLAIMS(""), SECRET);
	CHECK(refused_for(&c, tok, "r", now_s(), "typ"));
	free(tok);
	tok = sign("{\"alg\":\"HS256\",\"typ\":\"JWS\"}", GOOD_CLAIMS(""),
	    SECRET);
	CHECK(refused_for(&c, tok, "r", now_s(), "typ"));
	free(tok);
	tok = sign("{\"alg\":\"none\",\"typ\":\"JWT\"}", GOOD_CLAIMS(""),
	    SECRET);
	CHECK(!token_verify(&c, tok, "r", now_s(), &rep));
	CHECK_INT(verdict(&rep, "alg"), TOKEN_BAD);
	CHECK_INT(verdict(&rep, "signature"), TOKEN_BAD);
	free(tok);
	tok = sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", GOOD_CLAIMS(""),
	    SECRET);
	CHECK(token_verify(&c, tok, "r", now_s(), &rep));
	free(tok);
}

static void
verify_malformed(void)
{
	static const char *const bad[] = {
		"", "abc", "a.b", "a.b.c.d", "!!!.e30.x", "e30.!!!.x",
		"eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.x",     /* payload "not json" */
		"W10.e30.x",                                /* header [] */
		"e.e30.x",                                  /* 1 char: no byte */
	};
	struct config c = test_cfg();
	struct token_report rep;
	char *big;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!token_verify(&c, bad[i], NULL, now_s(), &rep));
		CHECK_INT(verdict(&rep, "format"), TOKEN_BAD);
	}
	big = xmalloc(TOKEN_MAX + 2);
	memset(big, 'e', TOKEN_MAX + 1);
	big[TOKEN_MAX + 1] = '\0';
	CHECK(!token_verify(&c, big, NULL, now_s(), &rep));
	CHECK_INT(verdict(&rep, "format"), TOKEN_BAD);
	free(big);
}

/* context.user: strings and booleans, never null; who is a moderator. */
static void
verify_user_types(void)
{
	struct config c = test_cfg();
	struct token_report rep;
	char *tok;

	tok = sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", GOOD_CLAIMS(
	    ",\"context\":{\"user\":{\"name\":null,\"id\":7}}"), SECRET);
	CHECK(!token_verify(&c, tok, "r", now_s(), &rep));
	CHECK_INT(verdict(&rep, "context.user.name"), TOKEN_BAD);
	CHECK_INT(verdict(&rep, "context.user.id"), TOKEN_BAD);
	free(tok);
	tok = sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", GOOD_CLAIMS(
	    ",\"context\":{\"user\":{\"moderator\":\"true\"}}"), SECRET);
	CHECK(token_verify(&c, tok, "r", now_s(), &rep));
	CHECK(rep.moderator);
	free(tok);
	tok = sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", GOOD_CLAIMS(
	    ",\"context\":{\"user\":{\"affiliation\":\"moderator\","
	    "\"moderator\":false}}"), SECRET);
	CHECK(token_verify(&c, tok, "r", now_s(), &rep));
	CHECK(rep.moderator);
	free(tok);
	tok = sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", GOOD_CLAIMS(
	    ",\"context\":{\"user\":{\"moderator\":\"yes\"},"
	    "\"features\":{\"recording\":null}}"), SECRET);
	CHECK(!token_verify(&c, tok, "r", now_s(), &rep));
	CHECK_INT(verdict(&rep, "context.user.moderator"), TOKEN_BAD);
	CHECK_INT(verdict(&rep, "context.features"), TOKEN_BAD);
	CHECK(!rep.moderator);
	free(tok);
}

/* The printed report: one line per check, the verdict last, no secret. */
static void
report_print(void)
{
	struct config c = test_cfg(), other = test_cfg();
	struct token_report rep;
	int64_t now = now_s();
	char *tok, *text = NULL;
	size_t size = 0;
	FILE *f;

	other.jwt_secret = (char *)"another-secret-0123456789abcdef-0123";
	tok = mint(&other, "r", false, now - 7200, now - 3600);
	token_verify(&c, tok, "r", now, &rep);
	f = open_memstream(&text, &size);
	token_report_print(&rep, f);
	fclose(f);
	CHECK(strstr(text, "BAD  signature: ") != NULL);
	CHECK(strstr(text, "BAD  exp: ") != NULL);
	CHECK(strstr(text, "OK   iss: \"reflector\"\n") != NULL);
	CHECK(strstr(text, "refused: Prosody would not accept this token "
	    "(signature, exp)\n") != NULL);
	CHECK(strstr(text, SECRET) == NULL);
	CHECK(strstr(text, other.jwt_secret) == NULL);
	free(text);
	free(tok);
}

UNIT_MAIN("token", T(mint_header_and_claims), T(mint_signature),
    T(mint_refuses), T(mint_defaults), T(url), T(verify_fresh),
    T(verify_wrong_secret), T(verify_times), T(verify_tampered),
    T(verify_claims), T(verify_header), T(verify_malformed), T(verify_hostile_values),
    T(verify_user_types), T(report_print))
