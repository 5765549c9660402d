/* test_s3.c -- the pure parts of the S3 backend: key encoding, part sizes, ETags, XML fields, error classes, endpoints. */
#include "unit.h"
#include "base/util.h"
#include "store/s3.h"
#include "store/store.h"
#include "store/xml.h"

/* s3_encode of in (keep_slash: a key; else a query value) into a buffer
 * of size bytes: rc, and the buffer. */
static const struct encode_case {
	const char *in;
	bool keep_slash;
	size_t size;
	int rc;
	const char *want;
} encode_cases[] = {
	{ "room a/sess/recording.mp4", true, 256, 0,
	    "room%20a/sess/recording.mp4" },
	/* everything but the unreserved set, UTF-8 byte by byte */
	{ "a+b=c&d?e#f%g'h\"i~j.k_l-m", true, 256, 0,
	    "a%2Bb%3Dc%26d%3Fe%23f%25g%27h%22i~j.k_l-m" },
	{ "Zo\xc3\xab", true, 256, 0, "Zo%C3%AB" },
	/* query values: the slash too */
	{ "rec/x y/", false, 256, 0, "rec%2Fx%20y%2F" },
	{ "", false, 256, 0, "" },
	/* too small: refused, terminated, and nothing cut short in it (a
	 * prefix of an UploadId is another UploadId) */
	{ "abc", true, 3, -1, "" },
	{ " ", true, 3, -1, "" },
	{ " ", true, 4, 0, "%20" },
	{ "abc", true, 4, 0, "abc" },
};

static void
encode_keys(void)
{
	const struct encode_case *c;
	char out[256];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(encode_cases) / sizeof(encode_cases[0]); i++) {
		c = &encode_cases[i];
		memset(out, 'x', sizeof(out));
		rc = s3_encode(c->in, c->keep_slash, out, c->size);
		if (rc != c->rc || strcmp(out, c->want) != 0)
			fprintf(stderr, "  `%s' in %zu bytes: %d, want %d\n",
			    c->in, c->size, rc, c->rc);
		CHECK_INT(rc, c->rc);
		CHECK_STR(out, c->want);
	}
	out[0] = 'x';
	CHECK_INT(s3_encode("", true, out, 0), -1);
	CHECK_INT(out[0], 'x');         /* size 0: nothing written */
}

/* An UploadId of 1000 bytes (S3 allows 1 KiB; some servers use most of
 * it) with bytes that need %XX: the whole of it, in a buffer of
 * S3_ENCODED_MAX, and in s3_encode_dup's string. */
static void
encode_long(void)
{
	char id[1001], want[3001], *out, *dup;
	size_t i, w = 0, n = sizeof(id) - 1, size = S3_ENCODED_MAX(n);

	for (i = 0; i < n; i++) {
		id[i] = "+/=Ab9"[i % 6];
		if (id[i] == '+' || id[i] == '/' || id[i] == '=') {
			snprintf(want + w, sizeof(want) - w, "%%%02X", id[i]);
			w += 3;
		} else {
			want[w++] = id[i];
		}
	}
	id[n] = '\0';
	want[w] = '\0';
	CHECK_INT(w, 166 * 12 + 9 + 1);         /* 166 x "+/=Ab9", "+/=A" */

	out = xmalloc(size);
	CHECK_INT(s3_encode(id, false, out, size), 0);
	CHECK_STR(out, want);
	/* exactly the room it needs, and one byte less */
	CHECK_INT(s3_encode(id, false, out, w + 1), 0);
	CHECK_STR(out, want);
	CHECK_INT(s3_encode(id, false, out, w), -1);
	CHECK_STR(out, "");
	/* the 400 bytes the callers used to have: refused, never a prefix */
	CHECK_INT(s3_encode(id, false, out, 400), -1);
	CHECK_STR(out, "");
	free(out);
	dup = s3_encode_dup(id, false);
	CHECK_STR(dup, want);
	free(dup);

	/* the worst case fills S3_ENCODED_MAX exactly */
	memset(id, ' ', n);
	dup = s3_encode_dup(id, false);
	CHECK_INT(strlen(dup), 3 * n);
	CHECK_INT(strncmp(dup, "%20%20", 6), 0);
	CHECK_STR(dup + 3 * n - 3, "%20");
	free(dup);
	out = xmalloc(size);
	CHECK_INT(s3_encode(id, false, out, size), 0);
	CHECK_INT(strlen(out), 3 * n);
	CHECK_INT(s3_encode(id, false, out, size - 1), -1);
	CHECK_STR(out, "");
	free(out);
}

/* keys and key prefixes: what a URL parser would fold or file:// escape */
static const struct clean_case {
	const char *in;
	bool clean;
} clean_cases[] = {
	{ "room/session/recording.mp4", true },
	{ "a", true },
	{ ".hidden/..x/x..", true },
	{ "", false },
	{ "/abs", false },
	{ "trailing/", false },
	{ "a//b", false },
	{ "a/./b", false },
	{ "a/../b", false },
	{ "..", false },
};

static void
clean_keys(void)
{
	const struct clean_case *c;
	size_t i;

	for (i = 0; i < sizeof(clean_cases) / sizeof(clean_cases[0]); i++) {
		c = &clean_cases[i];
		if (util_relpath_clean(c->in) != c->clean)
			fprintf(stderr, "  `%s': clean %d, want %d\n", c->in,
			    !c->clean, c->clean);
		CHECK(util_relpath_clean(c->in) == c->clean);
	}
}

static void
part_sizes(void)
{
	const uint64_t mib = 1 << 20;

	CHECK_INT(s3_part_size(100 * mib, 16 * mib), 16 * mib);
	/* below S3's minimum: raised */
	CHECK_INT(s3_part_size(100 * mib, 1 * mib), 5 * mib);
	/* exactly 10,000 parts still fit */
	CHECK_INT(s3_part_size(10000 * 16 * mib, 16 * mib), 16 * mib);
	/* one byte more: grown, in whole MiB, to at most 10,000 parts */
	CHECK_INT(s3_part_size(10000 * 16 * mib + 1, 16 * mib), 17 * mib);
	{
		uint64_t size = 1000ULL * 1000 * 1000 * 1000;  /* 1 TB */
		uint64_t p = s3_part_size(size, 16 * mib);

		CHECK((size + p - 1) / p <= S3_MAX_PARTS);
		CHECK(p % mib == 0);
	}
	CHECK_INT(s3_part_size(S3_MAX_OBJECT, 16 * mib) <= S3_MAX_PART, 1);
	CHECK_INT(s3_part_size(S3_MAX_OBJECT + 1, 16 * mib), 0);
}

static void
multipart_etag(void)
{
	const char *two[] = { "0cc175b9c0f1b6a831c399e269772661",
	    "92EB5FFEE6AE2FEC3AD71C777531578F" };
	const char *bad[] = { "0cc175b9c0f1b6a831c399e269772661", "xyz" };
	char out[S3_ETAG_MAX];

	/* md5(md5("a") || md5("b")), computed with Python's hashlib */
	CHECK_INT(s3_multipart_etag(two, 2, out), 0);
	CHECK_STR(out, "96e024ba2074fe77e8e965ba43a704be-2");
	CHECK_INT(s3_multipart_etag(bad, 2, out), -1);
}

static void
xml_fields(void)
{
	static const char err[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	    "<Error><Code>SignatureDoesNotMatch</Code><Message>a &amp; b "
	    "&lt;c&gt; &quot;d&quot; &#233;&#x20AC;</Message><Empty/>"
	    "</Error>";
	static const char parts[] = "<ListPartsResult xmlns=\"http://s3."
	    "amazonaws.com/doc/2006-03-01/\"><IsTruncated>false</IsTruncated>"
	    "<Part><PartNumber>1</PartNumber><ETag>&quot;aa&quot;</ETag>"
	    "<Size>5</Size></Part>\n<Part>\n<PartNumber>2</PartNumber>"
	    "<ETag>\"bb\"</ETag><Size>6</Size></Part></ListPartsResult>";
	char out[128];
	const char *inner;
	size_t len, pos = 0;
	int n = 0;

	CHECK_INT(xml_text(err, sizeof(err) - 1, "Code", out, sizeof(out)), 0);
	CHECK_STR(out, "SignatureDoesNotMatch");
	CHECK_INT(xml_text(err, sizeof(err) - 1, "Message", out,
	    sizeof(out)), 0);
	CHECK_STR(out, "a & b <c> \"d\" \xc3\xa9\xe2\x82\xac");
	CHECK_INT(xml_text(err, sizeof(err) - 1, "Empty", out, sizeof(out)),
	    0);
	CHECK_STR(out, "");
	CHECK_INT(xml_text(err, sizeof(err) - 1, "Missing", out, sizeof(out)),
	    -1);
	/* does not fit: refused */
	CHECK_INT(xml_text(err, sizeof(err) - 1, "Code", out, 5), -1);
	/* <Part> is not <PartNumber> */
	while (xml_next(parts, sizeof(parts) - 1, &pos, "Part", &inner,
	    &len) == 0) {
		n++;
		CHECK_INT(xml_text(inner, len, "PartNumber", out, sizeof(out)),
		    0);
		CHECK_INT(out[0] - '0', n);
		CHECK_INT(xml_text(inner, len, "ETag", out, sizeof(out)), 0);
		CHECK_STR(out, n == 1 ? "\"aa\"" : "\"bb\"");
	}
	CHECK_INT(n, 2);
	/* truncated documents end the walk */
	pos = 0;
	CHECK_INT(xml_next("<Part><PartNumber>1</Part", 25, &pos, "Part",
	    &inner, &len), -1);
	CHECK_INT(xml_escape("a\"b'<&>", out, sizeof(out)), 0);
	CHECK_STR(out, "a&quot;b&apos;&lt;&amp;&gt;");
	CHECK_INT(xml_escape("&&&", out, 6), -1);
}

/* How the outcome of a request is handled: curl's result, the HTTP
 * status, the S3 error code of the body. */
static const struct classify_case {
	CURLcode cc;
	long status;
	const char *code;
	enum s3_class want;
} classify_cases[] = {
	{ CURLE_OK, 200, "", S3_OK },
	/* a 200 whose body is an <Error> (CompleteMultipartUpload) */
	{ CURLE_OK, 200, "InternalError", S3_TRANSIENT },
	{ CURLE_OK, 200, "InvalidPart", S3_FATAL },
	{ CURLE_OK, 503, "SlowDown", S3_TRANSIENT },
	{ CURLE_OK, 500, "", S3_TRANSIENT },
	{ CURLE_OK, 502, "", S3_TRANSIENT },
	{ CURLE_OK, 504, "", S3_TRANSIENT },
	{ CURLE_OK, 429, "", S3_TRANSIENT },
	/* a server without the feature: asking again changes nothing */
	{ CURLE_OK, 501, "NotImplemented", S3_FATAL },
	{ CURLE_OK, 501, "", S3_FATAL },
	{ CURLE_OK, 405, "MethodNotAllowed", S3_FATAL },
	{ CURLE_OK, 400, "RequestTimeout", S3_TRANSIENT },
	{ CURLE_OK, 403, "SignatureDoesNotMatch", S3_FATAL },
	{ CURLE_OK, 403, "AccessDenied", S3_FATAL },
	{ CURLE_OK, 404, "NoSuchBucket", S3_FATAL },
	{ CURLE_OK, 400, "BadDigest", S3_DIGEST },
	{ CURLE_OK, 400, "XAmzContentSHA256Mismatch", S3_DIGEST },
	{ CURLE_COULDNT_CONNECT, 0, "", S3_TRANSIENT },
	{ CURLE_OPERATION_TIMEDOUT, 0, "", S3_TRANSIENT },
	{ CURLE_RECV_ERROR, 0, "", S3_TRANSIENT },
	{ CURLE_GOT_NOTHING, 0, "", S3_TRANSIENT },
	{ CURLE_PEER_FAILED_VERIFICATION, 0, "", S3_FATAL },
	{ CURLE_ABORTED_BY_CALLBACK, 0, "", S3_CANCELLED },
};

static void
classify(void)
{
	const struct classify_case *c;
	enum s3_class got;
	size_t i;

	for (i = 0; i < sizeof(classify_cases) / sizeof(classify_cases[0]);
	    i++) {
		c = &classify_cases[i];
		got = s3_classify(c->cc, c->status, c->code);
		if (got != c->want)
			fprintf(stderr, "  curl %d, HTTP %ld, `%s': class %d, "
			    "want %d\n", (int)c->cc, c->status, c->code,
			    (int)got, (int)c->want);
		CHECK_INT(got, c->want);
	}
}

/* The store options of a bucket at endpoint. */
static struct store_options
cfg_with(const char *endpoint, bool path_style, const char *token)
{
	struct store_options o = {
		.s3_bucket = "my-bucket",
		.s3_prefix = "",
		.s3_endpoint = endpoint,
		.s3_region = "eu-west-1",
		.s3_path_style = path_style,
		.access_key = "AKID",
		.secret_key = "SECRET",
		.session_token = token,
	};

	return o;
}

static void
targets(void)
{
	struct s3_target t;
	struct store_options c;
	char err[256];

	c = cfg_with(NULL, false, NULL);
	CHECK_INT(s3_target_init(&t, &c, err, sizeof(err)), 0);
	CHECK_STR(t.base, "https://my-bucket.s3.eu-west-1.amazonaws.com");
	CHECK_STR(t.path, "");
	CHECK_STR(t.sigv4, "aws:amz:eu-west-1:s3");
	CHECK_STR(t.userpwd, "AKID:SECRET");
	CHECK(t.token_hdr == NULL);
	s3_target_free(&t);

	c = cfg_with("http://127.0.0.1:7480/", true, "TOKEN");
	CHECK_INT(s3_target_init(&t, &c, err, sizeof(err)), 0);
	CHECK_STR(t.base, "http://127.0.0.1:7480");
	CHECK_STR(t.path, "/my-bucket");
	CHECK_STR(t.token_hdr, "x-amz-security-token: TOKEN");
	s3_target_free(&t);

	c = cfg_with("https://s3.example.net:8443", false, NULL);
	CHECK_INT(s3_target_init(&t, &c, err, sizeof(err)), 0);
	CHECK_STR(t.base, "https://my-bucket.s3.example.net:8443");
	s3_target_free(&t);

	c = cfg_with("http://[::1]:7480", true, NULL);
	CHECK_INT(s3_target_init(&t, &c, err, sizeof(err)), 0);
	CHECK_STR(t.base, "http://[::1]:7480");
	s3_target_free(&t);

	/* an address cannot carry the bucket name */
	c = cfg_with("http://10.0.0.1:7480", false, NULL);
	CHECK_INT(s3_target_init(&t, &c, err, sizeof(err)), -1);
	CHECK(strstr(err, "S3_PATH_STYLE") != NULL);
	/* a path would have to be part of every signature */
	c = cfg_with("http://s3.example.net/s3", true, NULL);
	CHECK_INT(s3_target_init(&t, &c, err, sizeof(err)), -1);
	CHECK(strstr(err, "S3_ENDPOINT") != NULL);
	c = cfg_with("http://s3.example.net:port", true, NULL);
	CHECK_INT(s3_target_init(&t, &c, err, sizeof(err)), -1);
	c = cfg_with("ftp://s3.example.net", true, NULL);
	CHECK_INT(s3_target_init(&t, &c, err, sizeof(err)), -1);
}

UNIT_MAIN("s3", T(encode_keys), T(encode_long), T(clean_keys), T(part_sizes), T(multipart_etag),
    T(xml_fields), T(classify), T(targets))
