/* fuzz_request.c -- libFuzzer harness: any bytes as a spool request file (request_decode), and its round trip through request_encode. */
#include "daemon/request.h"
#include "fuzz.h"

#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct request r, again;
	static char buf[REQUEST_MAX];
	char *in;
	int len;

	if (size > REQUEST_MAX)
		return 0;
	/* an exact copy: a read past the input is a read past the buffer */
	in = malloc(size ? size : 1);
	FUZZ_CHECK(in != NULL, "malloc");
	memcpy(in, data, size);
	memset(&r, 0xa5, sizeof(r));
	if (request_decode(in, size, &r) < 0) {
		free(in);
		return 0;
	}
	FUZZ_CHECK(memchr(r.kind, '\0', sizeof(r.kind)) != NULL &&
	    memchr(r.path, '\0', sizeof(r.path)) != NULL &&
	    memchr(r.room, '\0', sizeof(r.room)) != NULL,
	    "a decoded field is not terminated");
	FUZZ_CHECK(strcmp(r.kind, "session") == 0 || strcmp(r.kind, "file") == 0 ||
	    strcmp(r.kind, "retry") == 0, "kind `%s'", r.kind);

	/* what decodes encodes back to the same bytes, and decodes again
	 * to the same request */
	len = request_encode(&r, buf, sizeof(buf));
	FUZZ_CHECK(len >= 0, "a decoded request does not encode");
	FUZZ_CHECK((size_t)len == size && memcmp(buf, in, size) == 0,
	    "encoded to %d other bytes (%zu in)", len, size);
	memset(&again, 0x5a, sizeof(again));
	FUZZ_CHECK(request_decode(buf, (size_t)len, &again) == 0,
	    "the encoded request does not decode");
	FUZZ_CHECK(strcmp(r.kind, again.kind) == 0 &&
	    strcmp(r.path, again.path) == 0 && strcmp(r.room, again.room) == 0,
	    "decode(encode(r)) != r");
	free(in);
	return 0;
}
