/* fuzz_xml.c -- libFuzzer harness: any bytes as an S3 answer, read the way s3.c and store_s3.c read them (Error, InitiateMultipartUpload, ListParts, CompleteMultipartUpload), and xml_escape's round trip. */
#include "store/xml.h"
#include "base/util.h"
#include "fuzz.h"

#include <string.h>

/* xml_text, checked: on success the text is terminated inside out. */
static int
text(const char *doc, size_t len, const char *tag, char *out, size_t size)
{
	if (xml_text(doc, len, tag, out, size) < 0)
		return -1;
	FUZZ_CHECK(memchr(out, '\0', size) != NULL, "<%s> not terminated",
	    tag);
	return 0;
}

/* xml_next, checked: the element lies in doc and pos moves forward. */
static int
next(const char *doc, size_t len, size_t *pos, const char *tag,
    const char **inner, size_t *inner_len)
{
	size_t before = *pos;

	if (xml_next(doc, len, pos, tag, inner, inner_len) < 0)
		return -1;
	FUZZ_CHECK(*pos > before && *pos <= len, "<%s>: pos %zu -> %zu of %zu",
	    tag, before, *pos, len);
	FUZZ_CHECK(*inner >= doc && *inner_len <= len &&
	    (size_t)(*inner - doc) <= len - *inner_len,
	    "<%s>: content at %td+%zu of %zu", tag, *inner - doc, *inner_len,
	    len);
	return 0;
}

/* The fields s3.c and store_s3.c take, with their buffer sizes. */
static void
answers(const char *doc, size_t len)
{
	char code[64], message[256], id[1024], num[16], etag[128], size[24];
	char trunc[8], marker[16], other[1024];
	const char *inner;
	size_t inner_len, pos = 0;
	int64_t v;

	/* any answer: <Error><Code>…<Message>… */
	if (next(doc, len, &pos, "Error", &inner, &inner_len) == 0) {
		(void)text(doc, len, "Code", code, sizeof(code));
		(void)text(doc, len, "Message", message, sizeof(message));
	}
	/* InitiateMultipartUploadResult */
	(void)text(doc, len, "UploadId", id, sizeof(id));
	(void)text(doc, len, "Bucket", other, sizeof(other));
	(void)text(doc, len, "Key", other, sizeof(other));
	/* ListPartsResult: every <Part>, then whether there are more */
	pos = 0;
	while (next(doc, len, &pos, "Part", &inner, &inner_len) == 0) {
		if (text(inner, inner_len, "PartNumber", num, sizeof(num)) == 0)
			(void)util_parse_i64(num, &v);
		(void)text(inner, inner_len, "ETag", etag, sizeof(etag));
		if (text(inner, inner_len, "Size", size, sizeof(size)) == 0)
			(void)util_parse_i64(size, &v);
	}
	(void)text(doc, len, "IsTruncated", trunc, sizeof(trunc));
	(void)text(doc, len, "NextPartNumberMarker", marker, sizeof(marker));
	/* CompleteMultipartUploadResult */
	(void)text(doc, len, "Location", other, sizeof(other));
	(void)text(doc, len, "ETag", etag, sizeof(etag));
	/* a buffer of one byte holds the empty text only */
	(void)text(doc, len, "Code", code, 1);
}

/* Text escaped and put in an element reads back as itself. */
static void
round_trip(const char *s)
{
	size_t n = strlen(s), size = 6 * n + 1, len;
	char *esc = malloc(size), *doc = malloc(size + 16), *back = malloc(n + 1);

	FUZZ_CHECK(esc != NULL && doc != NULL && back != NULL, "malloc");
	FUZZ_CHECK(xml_escape(s, esc, size) == 0, "escape into %zu bytes", size);
	len = (size_t)snprintf(doc, size + 16, "<T>%s</T>", esc);
	FUZZ_CHECK(xml_escape(s, esc, strlen(esc)) < 0,
	    "escape fits without room for its NUL");
	FUZZ_CHECK(xml_text(doc, len, "T", back, n + 1) == 0,
	    "escaped text does not read back");
	FUZZ_CHECK(strcmp(back, s) == 0, "escaped text reads back changed");
	free(esc);
	free(doc);
	free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *doc, *s;

	/* an exact copy, not terminated: xml.c must stay inside len */
	doc = malloc(size ? size : 1);
	FUZZ_CHECK(doc != NULL, "malloc");
	memcpy(doc, data, size);
	answers(doc, size);
	free(doc);

	s = malloc(size + 1);
	FUZZ_CHECK(s != NULL, "malloc");
	memcpy(s, data, size);
	s[size] = '\0';
	round_trip(s);
	free(s);
	return 0;
}
