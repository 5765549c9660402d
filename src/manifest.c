/* manifest.c -- manifest.json: probe results, outputs' sha256 + size, Jibri's metadata without secrets. */
#include "manifest.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static void
copy(json_t *dst, const char *dkey, const json_t *src, const char *skey)
{
	json_t *v = json_object_get(src, skey);

	if (v != NULL && !json_is_null(v))
		json_object_set(dst, dkey, v);
}

char *
manifest_build(const json_t *job, int64_t now_ms)
{
	json_t *m = json_object(), *src = json_object(), *outs = json_object();
	json_t *outputs, *o;
	char ts[UTIL_ISO_LEN];
	const char *k;
	char *text, *with_nl;

	copy(m, "recording_id", job, "id");
	copy(m, "session_id", job, "session_id");
	copy(m, "room_name", job, "room_name");
	copy(m, "meeting_url", job, "meeting_url");
	copy(src, "path", job, "source");
	copy(src, "size", job, "source_size");
	copy(src, "mtime", job, "source_mtime");
	copy(src, "discovered_by", job, "discovered_by");
	json_object_set_new(m, "source", src);
	copy(m, "probe", job, "probe");
	json_object_set_new(m, "no_audio",
	    json_boolean(json_is_true(json_object_get(job, "no_audio"))));
	outputs = json_object_get(job, "outputs");
	json_object_foreach(outputs, k, o) {
		json_t *e;
		if (strcmp(k, "manifest") == 0)
			continue;
		e = json_object();
		copy(e, "key", o, "key");
		copy(e, "file", o, "file");
		copy(e, "size", o, "size");
		copy(e, "sha256", o, "sha256");
		copy(e, "content_type", o, "content_type");
		json_object_set_new(outs, k, e);
	}
	json_object_set_new(m, "outputs", outs);
	copy(m, "metadata", job, "metadata");
	copy(m, "metadata_error", job, "metadata_error");
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
