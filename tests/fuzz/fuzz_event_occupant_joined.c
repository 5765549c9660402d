/* fuzz_event_occupant_joined.c -- libFuzzer harness: any bytes as the body of POST .../event-sync/events/occupant/joined (event_parse, EVENT_OCCUPANT_JOINED). */
#include "fuzz_event.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_event_body(EVENT_OCCUPANT_JOINED, data, size);
	return 0;
}
