/* fuzz_event_occupant_left.c -- libFuzzer harness: any bytes as the body of POST .../event-sync/events/occupant/left (event_parse, EVENT_OCCUPANT_LEFT). */
#include "fuzz_event.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_event_body(EVENT_OCCUPANT_LEFT, data, size);
	return 0;
}
