/* manifest.c -- manifest.json: probe results, outputs' sha256 + size, Jibri's metadata without secrets. */
#include "daemon/manifest.h"
#include "base/jsonx.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

char *
manifest_build(const json_t *job, int64_t now_ms)
{
	json_t *m = json_object(), *src = json_object(), *outs = json_object();
	json_t *outputs, *o;
	char ts[UTIL_ISO_LEN];
	const char *k;
	char *text, *with_nl;

	jsonx_copy(m, "recording_id", job, "id");
	jsonx_copy(m, "session_id", job, "session_id");
	jsonx_copy(m, "room_name", job, "room_name");
	jsonx_copy(m, "meeting_url", job, "meeting_url");
	jsonx_copy(src, "path", job, "source");
	jsonx_copy(src, "size", job, "source_size");
	jsonx_copy(src, "mtime", job, "source_mtime");
	jsonx_copy(src, "discovered_by", job, "discovered_by");
	json_object_set_new(m, "source", src);
	jsonx_copy(m, "probe", job, "probe");
	json_object_set_new(m, "no_audio",
	    json_boolean(json_is_true(json_object_get(job, "no_audio"))));
	outputs = json_object_get(job, "outputs");
	json_object_foreach(outputs, k, o) {
		json_t *e;
		if (strcmp(k, "manifest") == 0)
			continue;
		e = json_object();
		jsonx_copy(e, "key", o, "key");
		jsonx_copy(e, "file", o, "file");
		jsonx_copy(e, "size", o, "size");
		jsonx_copy(e, "sha256", o, "sha256");
		jsonx_copy(e, "content_type", o, "content_type");
		json_object_set_new(outs, k, e);
	}
	json_object_set_new(m, "outputs", outs);
	jsonx_copy(m, "metadata", job, "metadata");
	jsonx_copy(m, "metadata_error", job, "metadata_error");
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
