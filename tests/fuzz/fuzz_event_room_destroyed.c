/* fuzz_event_room_destroyed.c -- libFuzzer harness: any bytes as the body of POST .../event-sync/events/room/destroyed (event_parse, EVENT_ROOM_DESTROYED). */
#include "fuzz_event.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_event_body(EVENT_ROOM_DESTROYED, data, size);
	return 0;
}
