/* fuzz_recording_complete.c -- libFuzzer harness: any bytes as a POST /v1/jibri/recording-complete body (event_parse_recording), and the event it becomes (event_from_recording). */
#include "fuzz_event.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct recording_complete rc;
	struct event ev;
	json_t *el, *d;
	char err[256];
	char *in;

	if (size > FUZZ_EVENT_MAX)
		return 0;
	in = fuzz_event_copy(data, size);
	memset(&rc, 0xa5, sizeof(rc));
	if (event_parse_recording(in, size, &rc, err, sizeof(err)) < 0) {
		fuzz_event_err(err);
		FUZZ_CHECK(rc.room_name == NULL && rc.recording_file == NULL &&
		    rc.recording_status == NULL && rc.timestamp == NULL,
		    "a refused body left a field set");
		free(in);
		return 0;
	}
	FUZZ_CHECK(rc.room_name != NULL && rc.recording_file != NULL &&
	    rc.recording_file[0] != '\0', "a field is missing");
	event_from_recording(&rc, FUZZ_EVENT_JOB, FUZZ_EVENT_RECV, &ev);
	fuzz_event_check(&ev);
	FUZZ_CHECK(fuzz_event_same(ev.dedup_key, "recording:" FUZZ_EVENT_JOB) &&
	    fuzz_event_same(ev.room, rc.room_name), "dedup key or room");
	/* the file and the job are in its data as they were given */
	el = json_loads(ev.element, 0, NULL);
	d = json_object_get(el, "data");
	FUZZ_CHECK(fuzz_event_same(json_string_value(json_object_get(d,
	    "recording_file")), rc.recording_file) &&
	    fuzz_event_same(json_string_value(json_object_get(d, "job_id")),
	    FUZZ_EVENT_JOB), "data of %s", ev.element);
	json_decref(el);
	event_free(&ev);
	event_recording_free(&rc);
	free(in);
	return 0;
}
