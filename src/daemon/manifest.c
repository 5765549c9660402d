/* manifest.c -- manifest.json: probe results, outputs' sha256 + size, Jibri's metadata without secrets. */
#include "daemon/manifest.h"
#include "base/jsonx.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

char *
manifest_build(const struct job *j, int64_t now_ms)
{
	json_t *m = json_object(), *src = json_object(), *outs = json_object();
	char ts[UTIL_ISO_LEN];
	char *text, *with_nl;
	int o;

	jsonx_set_str(m, "recording_id", j->id);
	jsonx_set_str(m, "session_id", j->session_id);
	jsonx_set_str(m, "room_name", j->room_name);
	jsonx_set_str(m, "meeting_url", j->meeting_url);
	jsonx_set_str(src, "path", j->source);
	if (j->probed) {
		json_object_set_new(src, "size", json_integer(j->source_size));
		json_object_set_new(src, "mtime", json_integer(j->source_mtime));
	}
	jsonx_set_str(src, "discovered_by", j->discovered_by);
	json_object_set_new(m, "source", src);
	if (j->probe != NULL)
		json_object_set_new(m, "probe", json_deep_copy(j->probe));
	json_object_set_new(m, "no_audio", json_boolean(j->no_audio));
	if (j->salvaged) {
		/* rebuilt from a file without index: what was found, and how */
		json_object_set_new(m, "salvaged", json_true());
		if (j->salvage != NULL)
			json_object_set_new(m, "salvage",
			    json_deep_copy(j->salvage));
	}
	for (o = 0; o < JOB_NOUT; o++) {
		const struct job_file *f = &j->outputs[o];
		json_t *e;
		if (o == JOB_OUT_MANIFEST || !f->made)
			continue;
		e = json_object();
		jsonx_set_str(e, "key", f->key);
		jsonx_set_str(e, "file", f->file);
		json_object_set_new(e, "size", json_integer(f->size));
		jsonx_set_str(e, "sha256", f->sha256);
		jsonx_set_str(e, "content_type", f->content_type);
		json_object_set_new(outs, job_outputs[o].name, e);
	}
	json_object_set_new(m, "outputs", outs);
	if (j->metadata != NULL)
		json_object_set_new(m, "metadata", json_deep_copy(j->metadata));
	jsonx_set_str(m, "metadata_error", j->metadata_error);
	if (json_is_array(j->event_participants)) {
		json_object_set_new(m, "participants",
		    json_deep_copy(j->event_participants));
		jsonx_set_str(m, "participants_source", "meeting_events");
	}
	json_object_set_new(m, "created_at",
	    json_string(util_iso8601_ms(now_ms, ts)));
	json_object_set_new(m, "generator",
	    json_string("jibri-pipeline " JP_VERSION));
	text = json_dumps(m, JSON_INDENT(2));
	json_decref(m);
	if (text == NULL)
		abort();
	with_nl = xasprintf("%s\n", text);
	free(text);
	return with_nl;
}
