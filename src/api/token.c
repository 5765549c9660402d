/* token.c -- Jitsi room tokens (JWT, HS256, libjwt): minting them, the URLs that carry them, and judging one as Prosody would. */
#include "api/token.h"

#include "base/util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/*
 * Minting is libjwt's: it writes the header, base64url-encodes and signs.
 * Judging a token cannot be left to libjwt: jwt_decode says yes or EINVAL,
 * and an operator asking why Prosody refuses a token wants every reason,
 * also the claims of a token whose signature is wrong. Worse, libjwt
 * 1.10's EINVAL is the same for a wrong signature and for a correctly
 * signed token whose typ is not "JWT", so it cannot even name the one
 * reason right. So the token is taken apart here (base64url through
 * OpenSSL's base64 decoder, JSON through jansson), the signature checked
 * as luajwtjitsi checks it (HMAC-SHA256 of the first two parts as they
 * are, compared in constant time; OpenSSL), and each claim judged the way
 * Prosody's token check (luajwtjitsi, token/util.lib.lua) does.
 */

/* A claim value quoted in a report line is cut to this many bytes. */
#define TOKEN_QUOTE_MAX 96

/* The issuer and audience our tokens carry and Prosody must accept. */
static const char *
token_issuer(const struct config *cfg)
{
	return cfg->jwt_issuer != NULL ? cfg->jwt_issuer : cfg->app_id;
}

static const char *
token_audience(const struct config *cfg)
{
	return cfg->jwt_audience != NULL ? cfg->jwt_audience : "jitsi";
}

/* Whether s is valid UTF-8 (jansson refuses a string that is not). */
static bool
token_utf8_ok(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

char *
token_mint(const struct config *cfg, const char *room, const char *user_id,
    const char *name, bool moderator, int64_t now, int64_t exp, char *err,
    size_t errlen)
{
	const char *args[3][2] = { { "room", room }, { "user id", user_id },
	    { "name", name } };
	char *lower = NULL, *claims_text = NULL, *tok = NULL, *p;
	json_t *claims = NULL;
	json_error_t jerr;
	jwt_t *jwt = NULL;
	size_t keylen, i;
	int rc;

	if (cfg->jwt_secret == NULL || cfg->jwt_secret[0] == '\0') {
		snprintf(err, errlen, "JITSI_JWT_SECRET is not set: room tokens "
		    "are signed with it (Prosody's app_secret)");
		return NULL;
	}
	if (cfg->jitsi_domain == NULL || cfg->jitsi_domain[0] == '\0') {
		snprintf(err, errlen, "JITSI_DOMAIN is not set: room tokens "
		    "carry it as their sub claim");
		return NULL;
	}
	for (i = 0; i < 3; i++) {
		if (args[i][1] == NULL || (i < 2 && args[i][1][0] == '\0')) {
			snprintf(err, errlen, "token: no %s given", args[i][0]);
			return NULL;
		}
		if (!token_utf8_ok(args[i][1])) {
			snprintf(err, errlen, "token: %s `%s' is not valid UTF-8",
			    args[i][0], args[i][1]);
			return NULL;
		}
	}
	if (exp <= now) {
		snprintf(err, errlen, "token: exp %lld is not after iat %lld: "
		    "the token could never be used", (long long)exp,
		    (long long)now);
		return NULL;
	}
	keylen = strlen(cfg->jwt_secret);
	if (keylen > INT_MAX) {
		snprintf(err, errlen, "JITSI_JWT_SECRET is longer than %d bytes",
		    INT_MAX);
		return NULL;
	}

	lower = xstrdup(room);
	for (p = lower; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	claims = json_pack_ex(&jerr, 0, "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, "
	    "s:{s:{s:s, s:s, s:b, s:s}, s:{s:b, s:b}}}",
	    "iss", token_issuer(cfg), "aud", token_audience(cfg),
	    "sub", cfg->jitsi_domain, "room", lower,
	    "iat", (json_int_t)now, "nbf", (json_int_t)(now - TOKEN_NBF_SKEW),
	    "exp", (json_int_t)exp,
	    "context",
	    "user", "id", user_id, "name", name, "moderator", (int)moderator,
	    "affiliation", moderator ? "owner" : "member",
	    "features", "recording", 1, "livestreaming", 0);
	if (claims == NULL) {
		snprintf(err, errlen, "token: cannot build the claims: %s",
		    jerr.text);
		goto out;
	}
	claims_text = json_dumps(claims, JSON_COMPACT);
	if (claims_text == NULL) {
		snprintf(err, errlen, "token: cannot write the claims");
		goto out;
	}
	if ((rc = jwt_new(&jwt)) != 0 ||
	    (rc = jwt_set_alg(jwt, JWT_ALG_HS256,
	    (const unsigned char *)cfg->jwt_secret, (int)keylen)) != 0 ||
	    (rc = jwt_add_header(jwt, "typ", "JWT")) != 0 ||
	    (rc = jwt_add_grants_json(jwt, claims_text)) != 0) {
		snprintf(err, errlen, "token: libjwt: %s", strerror(rc));
		goto out;
	}
	/* libjwt 1.10 writes typ by itself too; set above all the same,
	 * since Prosody refuses a token without it */
	if ((tok = jwt_encode_str(jwt)) == NULL)
		snprintf(err, errlen, "token: libjwt cannot encode: %s",
		    strerror(errno));
out:
	jwt_free(jwt);          /* wipes its copy of the key */
	free(claims_text);
	json_decref(claims);
	free(lower);
	return tok;
}

/* Append s to the buffer at *w, percent-encoding all but RFC 3986's
 * unreserved characters. The buffer must hold 3 * strlen(s) more. */
static void
token_pct(char **w, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			*(*w)++ = (char)c;
		} else {
			*(*w)++ = '%';
			*(*w)++ = hex[c >> 4];
			*(*w)++ = hex[c & 15];
		}
	}
}

char *
token_url(const struct config *cfg, const char *room_name, const char *token)
{
	size_t dlen;
	char *url, *w;

	if (cfg->jitsi_domain == NULL)
		return NULL;
	dlen = strlen(cfg->jitsi_domain);
	url = xmalloc(sizeof("https:///?jwt=") + dlen +
	    3 * (strlen(room_name) + strlen(token)));
	w = url;
	memcpy(w, "https://", 8);
	w += 8;
	memcpy(w, cfg->jitsi_domain, dlen);
	w += dlen;
	*w++ = '/';
	token_pct(&w, room_name);
	memcpy(w, "?jwt=", 5);
	w += 5;
	token_pct(&w, token);
	*w = '\0';
	return url;
}

/* --- judging a token ------------------------------------------------------ */

/* Add one check to rep (printf-style text). A BAD one makes the token
 * refused even when the report has no room left to show it. */
static void token_add(struct token_report *rep, const char *what,
    enum token_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
token_add(struct token_report *rep, const char *what, enum token_verdict v,
    const char *fmt, ...)
{
	struct token_check *c;
	va_list ap;

	if (v == TOKEN_BAD)
		rep->accepted = false;
	if (rep->n >= TOKEN_CHECKS_MAX) {
		rep->more++;
		return;
	}
	c = &rep->checks[rep->n++];
	c->what = what;
	c->verdict = v;
	va_start(ap, fmt);
	vsnprintf(c->text, sizeof(c->text), fmt, ap);
	va_end(ap);
}

/* A JSON value as the report quotes it: compact JSON, ASCII only (a
 * claim is untrusted text: no control characters reach the terminal),
 * cut to TOKEN_QUOTE_MAX bytes. jansson escapes all but DEL, which JSON
 * allows as it is: that one is escaped here. */
static const char *
token_quote(const json_t *v, char *buf, size_t size)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT |
	    JSON_ENSURE_ASCII), *e, *p, *w;
	size_t dels = 0;

	if (s == NULL) {
		util_strlcpy(buf, "?", size);
		return buf;
	}
	for (p = s; *p != '\0'; p++)
		dels += *p == 0x7f;
	if (dels > 0) {
		e = xmalloc(strlen(s) + 5 * dels + 1);
		for (p = s, w = e; *p != '\0'; p++) {
			if (*p == 0x7f) {
				memcpy(w, "\\u007f", 6);
				w += 6;
			} else {
				*w++ = *p;
			}
		}
		*w = '\0';
		free(s);
		s = e;
	}
	if (strlen(s) > TOKEN_QUOTE_MAX && size > TOKEN_QUOTE_MAX + 4) {
		memcpy(buf, s, TOKEN_QUOTE_MAX);
		memcpy(buf + TOKEN_QUOTE_MAX, "...", 4);
	} else {
		util_strlcpy(buf, s, size);
	}
	free(s);
	return buf;
}

/* A span of seconds as "7h59m3s", "2d", "45s". secs is a difference
 * of NumericDates, which may be any JSON number: a span past 9e15 s (285
 * million years, exact in a double and in an int64_t) is shown as that,
 * since a double past int64_t's range does not convert to one. */
static const char *
token_span(double secs, char *buf, size_t size)
{
	static const struct { int64_t secs; char unit; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};
	size_t i, len = 0;
	int64_t n, s;

	buf[0] = '\0';
	if (secs < 0)
		secs = -secs;
	s = secs < 9e15 ? (int64_t)secs : (int64_t)9e15;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		n = s / units[i].secs;
		s %= units[i].secs;
		if (n > 0 && len < size)
			len += (size_t)snprintf(buf + len, size - len, "%lld%c",
			    (long long)n, units[i].unit);
	}
	if (buf[0] == '\0')
		util_strlcpy(buf, "0s", size);
	return buf;
}

/* A NumericDate as "1700000000 (2023-11-14T22:13:20.000Z)". */
static const char *
token_when(const json_t *v, char *buf, size_t size)
{
	char iso[UTIL_ISO_LEN], num[TOKEN_QUOTE_MAX + 8];
	double d = json_number_value(v);

	token_quote(v, num, sizeof(num));
	/* years 1970 to 9999: what gmtime and the format can show */
	if (d >= 0 && d < 253402300800.0)
		snprintf(buf, size, "%s (%s)", num,
		    util_iso8601_ms((int64_t)(d * 1000), iso));
	else
		snprintf(buf, size, "%s", num);
	return buf;
}

/* Decode a base64url part of n bytes (no padding, as JWS writes it) into a
 * NUL-terminated buffer (free() it); NULL when it is not base64url. */
static unsigned char *
token_b64url(const char *s, size_t n, size_t *len)
{
	size_t padded = (n + 3) / 4 * 4, i;
	unsigned char *out;
	char *b;
	char c;

	if (n % 4 == 1 || padded > INT_MAX)
		return NULL;
	b = xmalloc(padded + 1);
	for (i = 0; i < n; i++) {
		c = s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9'))
			b[i] = c;
		else if (c == '-')
			b[i] = '+';
		else if (c == '_')
			b[i] = '/';
		else {
			free(b);
			return NULL;
		}
	}
	/* 'A' is six zero bits: the padding decodes to bytes cut off below */
	for (; i < padded; i++)
		b[i] = 'A';
	out = xmalloc(padded / 4 * 3 + 1);
	if (EVP_DecodeBlock(out, (const unsigned char *)b, (int)padded) < 0) {
		free(b);
		free(out);
		return NULL;
	}
	free(b);
	*len = n / 4 * 3 + (n % 4 != 0 ? n % 4 - 1 : 0);
	out[*len] = '\0';
	return out;
}

/* One part of the token as a JSON object, or NULL after adding a BAD
 * "format" check naming the part and the problem. */
static json_t *
token_part(struct token_report *rep, const char *part, const char *s,
    size_t n)
{
	unsigned char *raw;
	json_error_t jerr;
	json_t *j;
	size_t len;
	char *p;

	if ((raw = token_b64url(s, n, &len)) == NULL) {
		token_add(rep, "format", TOKEN_BAD, "the %s is not base64url "
		    "(A-Z a-z 0-9 - _ without padding)", part);
		return NULL;
	}
	j = json_loadb((const char *)raw, len, 0, &jerr);
	free(raw);
	if (j == NULL) {
		/* jansson's message quotes the text near the error: any
		 * bytes of the part, and the report goes to a terminal */
		for (p = jerr.text; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
				*p = '?';
	}
	if (j == NULL || !json_is_object(j)) {
		token_add(rep, "format", TOKEN_BAD, "the %s is not a JSON "
		    "object%s%s", part, j == NULL ? ": " : "",
		    j == NULL ? jerr.text : "");
		json_decref(j);
		return NULL;
	}
	return j;
}

/* A string claim that must equal want (want NULL: cannot be judged,
 * because key is not configured). Prosody compares iss and aud exactly. */
static void
token_check_equal(struct token_report *rep, const json_t *claims,
    const char *name, const char *want, const char *key, const char *why)
{
	const json_t *v = json_object_get(claims, name);
	char q[TOKEN_QUOTE_MAX + 8];

	if (v == NULL) {
		token_add(rep, name, TOKEN_BAD, "missing: Prosody refuses a "
		    "token without it (want \"%s\", %s)", want ? want : "?",
		    key);
	} else if (!json_is_string(v)) {
		token_add(rep, name, TOKEN_BAD, "%s: must be a string",
		    token_quote(v, q, sizeof(q)));
	} else if (want == NULL) {
		token_add(rep, name, TOKEN_BAD, "%s: cannot be checked: %s is "
		    "not set", token_quote(v, q, sizeof(q)), key);
	} else if (strcmp(json_string_value(v), want) != 0) {
		token_add(rep, name, TOKEN_BAD, "%s: not \"%s\" (%s; %s)",
		    token_quote(v, q, sizeof(q)), want, key, why);
	} else {
		token_add(rep, name, TOKEN_OK, "%s", token_quote(v, q,
		    sizeof(q)));
	}
}

static void
token_check_sub(struct token_report *rep, const struct config *cfg,
    const json_t *claims)
{
	const json_t *v = json_object_get(claims, "sub");
	char q[TOKEN_QUOTE_MAX + 8];

	if (v == NULL) {
		token_add(rep, "sub", TOKEN_BAD, "missing: want JITSI_DOMAIN "
		    "\"%s\"", cfg->jitsi_domain ? cfg->jitsi_domain : "?");
	} else if (!json_is_string(v)) {
		token_add(rep, "sub", TOKEN_BAD, "%s: must be a string",
		    token_quote(v, q, sizeof(q)));
	} else if (strcmp(json_string_value(v), "*") == 0) {
		token_add(rep, "sub", TOKEN_OK, "\"*\" (any domain)");
	} else if (cfg->jitsi_domain == NULL) {
		token_add(rep, "sub", TOKEN_BAD, "%s: cannot be checked: "
		    "JITSI_DOMAIN is not set", token_quote(v, q, sizeof(q)));
	} else if (strcasecmp(json_string_value(v), cfg->jitsi_domain) != 0) {
		token_add(rep, "sub", TOKEN_BAD, "%s: not JITSI_DOMAIN \"%s\" "
		    "(with enable_domain_verification Prosody compares them)",
		    token_quote(v, q, sizeof(q)), cfg->jitsi_domain);
	} else {
		token_add(rep, "sub", TOKEN_OK, "%s", token_quote(v, q,
		    sizeof(q)));
	}
}

static void
token_check_room(struct token_report *rep, const json_t *claims,
    const char *room)
{
	const json_t *v = json_object_get(claims, "room");
	char q[TOKEN_QUOTE_MAX + 8];
	const char *s;

	if (v == NULL) {
		token_add(rep, "room", TOKEN_BAD, "missing: Prosody requires "
		    "it (asap_require_room_claim)");
		return;
	}
	token_quote(v, q, sizeof(q));
	if (!json_is_string(v)) {
		token_add(rep, "room", TOKEN_BAD, "%s: must be a string", q);
		return;
	}
	s = json_string_value(v);
	if (strcmp(s, "*") == 0)
		token_add(rep, "room", TOKEN_OK, "\"*\" (any room)");
	else if (room == NULL)
		token_add(rep, "room", TOKEN_OK, "%s (not compared: no --room "
		    "given)", q);
	else if (strcasecmp(s, room) != 0)
		token_add(rep, "room", TOKEN_BAD, "%s: not the room `%s' "
		    "(compared lower-case)", q, room);
	else
		token_add(rep, "room", TOKEN_OK, "%s", q);
}

/* iat, nbf and exp: numbers when present (luajwtjitsi), nbf <= now and
 * exp > now, no leeway. */
static void
token_check_times(struct token_report *rep, const json_t *claims,
    int64_t now)
{
	const json_t *v;
	char w[2 * TOKEN_QUOTE_MAX], span[48];
	double d;

	if ((v = json_object_get(claims, "iat")) == NULL)
		token_add(rep, "iat", TOKEN_NOTE, "missing (Prosody does not "
		    "use it)");
	else if (!json_is_number(v))
		token_add(rep, "iat", TOKEN_NOTE, "%s: not a number (Prosody "
		    "does not use it)", token_quote(v, w, sizeof(w)));
	else
		token_add(rep, "iat", TOKEN_OK, "%s", token_when(v, w,
		    sizeof(w)));

	if ((v = json_object_get(claims, "nbf")) == NULL) {
		token_add(rep, "nbf", TOKEN_OK, "missing (valid at once)");
	} else if (!json_is_number(v)) {
		token_add(rep, "nbf", TOKEN_BAD, "%s: must be a number",
		    token_quote(v, w, sizeof(w)));
	} else if ((d = json_number_value(v)) > (double)now) {
		token_add(rep, "nbf", TOKEN_BAD, "%s: not valid yet, for "
		    "another %s (Prosody allows no clock skew)",
		    token_when(v, w, sizeof(w)),
		    token_span(d - (double)now + 0.999, span,
		    sizeof(span)));
	} else {
		token_add(rep, "nbf", TOKEN_OK, "%s", token_when(v, w,
		    sizeof(w)));
	}

	if ((v = json_object_get(claims, "exp")) == NULL) {
		token_add(rep, "exp", TOKEN_NOTE, "missing: the token never "
		    "expires");
	} else if (!json_is_number(v)) {
		token_add(rep, "exp", TOKEN_BAD, "%s: must be a number",
		    token_quote(v, w, sizeof(w)));
	} else if ((d = json_number_value(v)) <= (double)now) {
		token_add(rep, "exp", TOKEN_BAD, "%s: expired %s ago",
		    token_when(v, w, sizeof(w)),
		    token_span((double)now - d, span,
		    sizeof(span)));
	} else {
		token_add(rep, "exp", TOKEN_OK, "%s, valid for another %s",
		    token_when(v, w, sizeof(w)),
		    token_span(d - (double)now, span,
		    sizeof(span)));
	}
}

/* A boolean as Jitsi reads one: true/false, or the strings "true" and
 * "false" (Prosody's modules compare with both). -1: neither. */
static int
token_bool(const json_t *v)
{
	if (json_is_boolean(v))
		return json_is_true(v);
	if (json_is_string(v) && strcmp(json_string_value(v), "true") == 0)
		return 1;
	if (json_is_string(v) && strcmp(json_string_value(v), "false") == 0)
		return 0;
	return -1;
}

/* The members of context.user that must be strings when present, named
 * as the report names them (a check's "what" points into this table,
 * never into the token's JSON, which is freed before the report is
 * read). */
static const char *const token_user_strings[] = {
	"context.user.id", "context.user.name", "context.user.email",
	"context.user.avatar", "context.user.affiliation",
};

/* context.user: the strings Jitsi shows and keeps, the moderator flag;
 * none of them null (Prosody's modules index and concatenate them). */
static void
token_check_user(struct token_report *rep, const json_t *user)
{
	char q[TOKEN_QUOTE_MAX + 8];
	const json_t *v;
	const char *key;
	size_t i;
	int b;

	for (i = 0; i < sizeof(token_user_strings) / sizeof(*token_user_strings);
	    i++) {
		key = token_user_strings[i] + strlen("context.user.");
		if ((v = json_object_get(user, key)) == NULL)
			continue;
		if (json_is_null(v))
			token_add(rep, token_user_strings[i], TOKEN_BAD, "null: "
			    "write a string or leave it out");
		else if (!json_is_string(v))
			token_add(rep, token_user_strings[i], TOKEN_BAD, "%s: "
			    "must be a string", token_quote(v, q, sizeof(q)));
		else
			token_add(rep, token_user_strings[i], TOKEN_OK, "%s",
			    token_quote(v, q, sizeof(q)));
	}
	if ((v = json_object_get(user, "affiliation")) != NULL &&
	    json_is_string(v) &&
	    (strcmp(json_string_value(v), "owner") == 0 ||
	    strcmp(json_string_value(v), "moderator") == 0))
		rep->moderator = true;
	if ((v = json_object_get(user, "moderator")) == NULL)
		return;
	if ((b = token_bool(v)) < 0) {
		token_add(rep, "context.user.moderator", TOKEN_BAD, "%s: must "
		    "be true or false", token_quote(v, q, sizeof(q)));
		return;
	}
	token_add(rep, "context.user.moderator", TOKEN_OK, "%s",
	    token_quote(v, q, sizeof(q)));
	if (b)
		rep->moderator = true;
}

static void
token_check_features(struct token_report *rep, const json_t *features)
{
	char kq[TOKEN_QUOTE_MAX + 8], vq[TOKEN_QUOTE_MAX + 8];
	const char *key;
	json_t *v, *k;

	json_object_foreach((json_t *)features, key, v) {
		k = json_string(key);
		token_quote(k, kq, sizeof(kq));
		json_decref(k);
		token_quote(v, vq, sizeof(vq));
		if (token_bool(v) >= 0)
			token_add(rep, "context.features", TOKEN_OK, "%s: %s",
			    kq, vq);
		else
			token_add(rep, "context.features", TOKEN_BAD, "%s: %s: "
			    "must be true or false", kq, vq);
	}
}

static void
token_check_context(struct token_report *rep, const json_t *claims)
{
	const json_t *ctx = json_object_get(claims, "context"), *user, *feat;

	if (ctx == NULL) {
		token_add(rep, "context", TOKEN_NOTE, "missing: the holder "
		    "joins with no name, id or moderator rights from the token");
		return;
	}
	if (!json_is_object(ctx)) {
		token_add(rep, "context", TOKEN_BAD, "must be an object");
		return;
	}
	user = json_object_get(ctx, "user");
	if (user == NULL)
		token_add(rep, "context.user", TOKEN_NOTE, "missing: the holder "
		    "joins with no name, id or moderator rights from the token");
	else if (!json_is_object(user))
		token_add(rep, "context.user", TOKEN_BAD, "must be an object");
	else
		token_check_user(rep, user);
	feat = json_object_get(ctx, "features");
	if (feat != NULL && !json_is_object(feat))
		token_add(rep, "context.features", TOKEN_BAD, "must be an "
		    "object");
	else if (feat != NULL)
		token_check_features(rep, feat);
}

/* Whether sig (siglen bytes of base64url) is the HS256 signature of the
 * first signed_len bytes of token under secret. The computed MAC is
 * wiped: for a forged payload it is the signature that would make it
 * pass. */
static bool
token_signature_ok(const char *secret, const char *token, size_t signed_len,
    const char *sig, size_t siglen)
{
	unsigned char mac[EVP_MAX_MD_SIZE], *given;
	unsigned int maclen = 0;
	size_t keylen = strlen(secret), glen;
	bool ok;

	if (keylen > INT_MAX || (given = token_b64url(sig, siglen, &glen)) ==
	    NULL)
		return false;
	ok = HMAC(EVP_sha256(), secret, (int)keylen,
	    (const unsigned char *)token, signed_len, mac, &maclen) != NULL &&
	    glen == maclen && CRYPTO_memcmp(mac, given, maclen) == 0;
	explicit_bzero(mac, sizeof(mac));
	free(given);
	return ok;
}

/* typ, alg and the signature over the first signed_len bytes of token
 * (header.payload). */
static void
token_check_head(struct token_report *rep, const struct config *cfg,
    const json_t *head, const char *token, size_t signed_len)
{
	const json_t *typ = json_object_get(head, "typ");
	const json_t *alg = json_object_get(head, "alg");
	const char *sig = token + signed_len + 1;
	char q[TOKEN_QUOTE_MAX + 8];
	bool hs256;

	if (typ == NULL)
		token_add(rep, "typ", TOKEN_BAD, "missing: Prosody wants "
		    "\"typ\":\"JWT\" in the header");
	else if (!json_is_string(typ) ||
	    strcmp(json_string_value(typ), "JWT") != 0)
		token_add(rep, "typ", TOKEN_BAD, "%s: Prosody wants \"JWT\"",
		    token_quote(typ, q, sizeof(q)));
	else
		token_add(rep, "typ", TOKEN_OK, "\"JWT\"");

	hs256 = json_is_string(alg) &&
	    strcmp(json_string_value(alg), "HS256") == 0;
	if (alg == NULL)
		token_add(rep, "alg", TOKEN_BAD, "missing: want \"HS256\"");
	else if (!hs256)
		token_add(rep, "alg", TOKEN_BAD, "%s: want \"HS256\" (Prosody "
		    "checks with its one algorithm, HS256 for app_secret)",
		    token_quote(alg, q, sizeof(q)));
	else
		token_add(rep, "alg", TOKEN_OK, "\"HS256\"");

	if (cfg->jwt_secret == NULL || cfg->jwt_secret[0] == '\0')
		token_add(rep, "signature", TOKEN_BAD, "cannot be checked: "
		    "JITSI_JWT_SECRET is not set");
	else if (!hs256)
		token_add(rep, "signature", TOKEN_BAD, "not checked: alg is "
		    "not HS256");
	else if (token_signature_ok(cfg->jwt_secret, token, signed_len, sig,
	    strlen(sig)))
		token_add(rep, "signature", TOKEN_OK, "HS256 under "
		    "JITSI_JWT_SECRET");
	else
		token_add(rep, "signature", TOKEN_BAD, "does not match "
		    "JITSI_JWT_SECRET: signed with another secret (Prosody's "
		    "app_secret must be the same), or changed after signing");
}

bool
token_verify(const struct config *cfg, const char *token, const char *room,
    int64_t now, struct token_report *rep)
{
	const char *dot1, *dot2;
	json_t *head = NULL, *claims = NULL;
	size_t len;

	memset(rep, 0, sizeof(*rep));
	rep->accepted = true;
	len = strnlen(token, TOKEN_MAX + 1);
	if (len > TOKEN_MAX) {
		token_add(rep, "format", TOKEN_BAD, "longer than %d bytes: not "
		    "a room token", TOKEN_MAX);
		return false;
	}
	dot1 = strchr(token, '.');
	dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
	if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL) {
		token_add(rep, "format", TOKEN_BAD, "not header.payload."
		    "signature (three base64url parts separated by dots)");
		return false;
	}
	head = token_part(rep, "header", token, (size_t)(dot1 - token));
	claims = token_part(rep, "payload", dot1 + 1,
	    (size_t)(dot2 - dot1 - 1));
	if (head != NULL && claims != NULL)
		token_add(rep, "format", TOKEN_OK, "header.payload.signature");
	if (head != NULL)
		token_check_head(rep, cfg, head, token,
		    (size_t)(dot2 - token));
	if (claims != NULL) {
		token_check_equal(rep, claims, "iss", token_issuer(cfg),
		    "JITSI_JWT_ISSUER", "Prosody accepts the issuers in "
		    "asap_accepted_issuers, by default only its app_id");
		token_check_equal(rep, claims, "aud", token_audience(cfg),
		    "JITSI_JWT_AUDIENCE", "Prosody accepts the audiences in "
		    "asap_accepted_audiences");
		token_check_sub(rep, cfg, claims);
		token_check_room(rep, claims, room);
		token_check_times(rep, claims, now);
		token_check_context(rep, claims);
	}
	json_decref(head);
	json_decref(claims);
	if (claims != NULL)
		token_add(rep, "role", TOKEN_OK, "%s", rep->moderator ?
		    "moderator" : "participant");
	return rep->accepted;
}

void
token_report_print(const struct token_report *rep, FILE *f)
{
	static const char *const names[] = { "OK", "NOTE", "BAD" };
	const struct token_check *c;
	bool first = true;
	size_t i;

	for (i = 0; i < rep->n; i++) {
		c = &rep->checks[i];
		fprintf(f, "%-4s %s: %s\n", names[c->verdict], c->what, c->text);
	}
	if (rep->more > 0)
		fprintf(f, "     (%zu more checks not shown)\n", rep->more);
	if (rep->accepted) {
		fprintf(f, "accepted: Prosody would let the holder in as a %s\n",
		    rep->moderator ? "moderator" : "participant");
		return;
	}
	fprintf(f, "refused: Prosody would not accept this token (");
	for (i = 0; i < rep->n; i++) {
		c = &rep->checks[i];
		if (c->verdict != TOKEN_BAD)
			continue;
		fprintf(f, "%s%s", first ? "" : ", ", c->what);
		first = false;
	}
	fprintf(f, "%s)\n", rep->more > 0 ? ", ..." : "");
}
