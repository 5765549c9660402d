/* manifest.h -- manifest.json: probe results, outputs' sha256 + size, Jibri's metadata without secrets. */
#ifndef JP_MANIFEST_H
#define JP_MANIFEST_H

#include <jansson.h>

#include "daemon/job.h"

/* The manifest for a job (see job.h) whose probe and outputs
 * are known: recording_id, session_id, room_name, meeting_url, source
 * {path,size,mtime}, probe, no_audio, outputs{video,audio}{key,file,size,
 * sha256,content_type}, metadata (already sanitized when the job was
 * made), created_at, generator. Newly allocated, pretty JSON + newline. */
char *manifest_build(const struct job *j, int64_t now_ms);

#endif
