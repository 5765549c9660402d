/* xml.c -- the few fields we read from S3's XML answers, without a parser library. */
#include "store/xml.h"

#include <stdint.h>
#include <string.h>

/* Does doc[i, len) start the tag named tag (after '<' or "</")? The name
 * must end there: <Part> must not match <PartNumber>. */
static int
xml_name_at(const char *doc, size_t len, size_t i, const char *tag)
{
	size_t n = strlen(tag);

	if (i + n >= len || memcmp(doc + i, tag, n) != 0)
		return 0;
	return doc[i + n] == '>' || doc[i + n] == '/' || doc[i + n] == ' ' ||
	    doc[i + n] == '\t' || doc[i + n] == '\r' || doc[i + n] == '\n';
}

int
xml_next(const char *doc, size_t len, size_t *pos, const char *tag,
    const char **inner, size_t *inner_len)
{
	size_t i, start, end;
	const char *gt;

	for (i = *pos; i < len; i++) {
		if (doc[i] == '<' && xml_name_at(doc, len, i + 1, tag))
			break;
	}
	if (i >= len)
		return -1;
	gt = memchr(doc + i, '>', len - i);
	if (gt == NULL)
		return -1;
	start = (size_t)(gt - doc) + 1;
	if (gt[-1] == '/') {            /* <tag/>: empty */
		*inner = doc + start;
		*inner_len = 0;
		*pos = start;
		return 0;
	}
	for (end = start; end + 1 < len; end++) {
		if (doc[end] == '<' && doc[end + 1] == '/' &&
		    xml_name_at(doc, len, end + 2, tag))
			break;
	}
	if (end + 1 >= len)
		return -1;
	*inner = doc + start;
	*inner_len = end - start;
	gt = memchr(doc + end, '>', len - end);
	*pos = gt != NULL ? (size_t)(gt - doc) + 1 : len;
	return 0;
}

/* Decode one entity at s[0] == '&' (at most n bytes); put the UTF-8 bytes
 * in out (4 bytes) and return the entity's length, or 0 when it is not
 * one we know. */
static size_t
xml_entity(const char *s, size_t n, char out[4], size_t *outlen)
{
	static const struct { const char *name; char c; } names[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' },
	};
	const char *semi;
	uint32_t cp = 0;
	size_t i, k;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		k = strlen(names[i].name);
		if (k <= n && memcmp(s, names[i].name, k) == 0) {
			out[0] = names[i].c;
			*outlen = 1;
			return k;
		}
	}
	if (n < 4 || s[1] != '#')
		return 0;
	semi = memchr(s, ';', n < 12 ? n : 12);
	if (semi == NULL)
		return 0;
	if (s[2] == 'x' || s[2] == 'X') {
		for (i = 3; s + i < semi; i++) {
			char c = s[i];
			int d = c >= '0' && c <= '9' ? c - '0' :
			    c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
			if (d < 0)
				return 0;
			cp = cp * 16 + (uint32_t)d;
		}
		if (i == 3)
			return 0;
	} else {
		for (i = 2; s + i < semi; i++) {
			if (s[i] < '0' || s[i] > '9')
				return 0;
			cp = cp * 10 + (uint32_t)(s[i] - '0');
		}
		if (i == 2)
			return 0;
	}
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (cp < 0x80) {
		out[0] = (char)cp;
		*outlen = 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		*outlen = 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		*outlen = 3;
	} else {
		out[0] = (char)(0xf0 | (cp >> 18));
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[3] = (char)(0x80 | (cp & 0x3f));
		*outlen = 4;
	}
	return (size_t)(semi - s) + 1;
}

int
xml_text(const char *doc, size_t len, const char *tag, char *out,
    size_t size)
{
	const char *inner;
	size_t inner_len, pos = 0, i, o = 0, k, elen;
	char ent[4];

	if (size == 0 || xml_next(doc, len, &pos, tag, &inner, &inner_len) < 0)
		return -1;
	for (i = 0; i < inner_len; ) {
		if (inner[i] == '&' &&
		    (k = xml_entity(inner + i, inner_len - i, ent, &elen)) > 0) {
			if (o + elen >= size)
				return -1;
			memcpy(out + o, ent, elen);
			o += elen;
			i += k;
			continue;
		}
		if (o + 1 >= size)
			return -1;
		out[o++] = inner[i++];
	}
	out[o] = '\0';
	return 0;
}

int
xml_escape(const char *s, char *out, size_t size)
{
	size_t o = 0, k;
	const char *rep;
	char one[2] = { 0, 0 };

	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		default: one[0] = *s; rep = one; break;
		}
		k = strlen(rep);
		if (o + k >= size)
			return -1;
		memcpy(out + o, rep, k);
		o += k;
	}
	if (size == 0)
		return -1;
	out[o] = '\0';
	return 0;
}
