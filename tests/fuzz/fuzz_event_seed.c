/* fuzz_event_seed.c -- libFuzzer harness: any bytes as the body of POST /v1/jitsi/events (event_parse, EVENT_SEED). */
#include "fuzz_event.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_event_body(EVENT_SEED, data, size);
	return 0;
}
