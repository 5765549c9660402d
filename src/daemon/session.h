/* session.h -- a Jibri session directory: media files, room name, metadata without secrets. */
#ifndef JP_SESSION_H
#define JP_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Whether name looks like a recording we process (.mp4, .mkv, .webm,
 * .mov, .m4v; not a dot-file, not one of our own temporary files). */
bool session_is_media_name(const char *name);

/* The media files directly in dir: regular files only, symlinks are never
 * followed (a link in a session dir may point anywhere). Sorted absolute
 * paths; *n set. NULL with errno when dir cannot be read. */
char **session_media_files(const char *dir, size_t *n);
void session_free_list(char **v, size_t n);

/* How many media files (regular, not links) the open directory dirfd
 * holds; -1 when it cannot be read. */
int session_count_media_at(int dirfd);

/* The room from a meeting URL: the last path segment, percent-decoded,
 * without query or fragment ("https://meet.example.com/tenant/MyRoom" ->
 * "MyRoom"). NULL when there is none. */
char *session_room_from_url(const char *url);

/* The room from Jibri's file name "<room>_<yyyy-MM-dd-HH-mm-ss>.<ext>";
 * NULL when the name does not have that shape. */
char *session_room_from_filename(const char *path);

/* A copy of metadata with secrets removed at any depth: upload_credentials
 * and any key whose name contains token, secret, password, credential,
 * authorization, api_key or apikey, or is jwt. New reference. */
json_t *session_sanitize(const json_t *metadata);

/* Make s safe as one component of a storage key and a file name: no '/',
 * '\\', control characters or invalid UTF-8 (each becomes '_'), not "",
 * "." or "..", at most 200 bytes (cut at a character boundary). Spaces,
 * quotes, '+', '%' and other unicode stay. Newly allocated. */
char *session_key_component(const char *s);

/* What the pipeline knows about a recording before it looks inside. */
struct session_info {
	char *session_dir;      /* the per-session directory, NULL when the
	                           file lies directly in RECORDINGS_DIR */
	char *session_id;       /* its name, else the file's stem */
	char *room_name;        /* meeting_url, else file name, else legacy
	                           room, else "unknown" */
	char *room_source;      /* "meeting_url", "file_name", "legacy",
	                           "none" */
	char *meeting_url;      /* from metadata.json, or NULL */
	json_t *metadata;       /* sanitized metadata.json, or NULL */
	char *metadata_error;   /* why metadata.json could not be used */
};

/* Fill info for the media file source (absolute). dirfd is its session
 * directory, opened and checked by the caller, whose metadata.json is
 * read through it; -1 for a file directly in RECORDINGS_DIR, which has
 * no session directory (its stem is the session id). legacy_room is the
 * second argument of the legacy finalize call, or NULL/"". Never fails:
 * missing or broken metadata.json is recorded in metadata_error. */
void session_load(const char *source, int dirfd, const char *legacy_room,
    struct session_info *info);
void session_info_free(struct session_info *info);

#endif
