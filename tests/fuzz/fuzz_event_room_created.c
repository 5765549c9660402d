/* fuzz_event_room_created.c -- libFuzzer harness: any bytes as the body of POST .../event-sync/events/room/created (event_parse, EVENT_ROOM_CREATED). */
#include "fuzz_event.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_event_body(EVENT_ROOM_CREATED, data, size);
	return 0;
}
