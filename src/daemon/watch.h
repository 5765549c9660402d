/* watch.h -- recursive inotify over RECORDINGS_DIR, quiet-time timer, rescan on overflow. */
#ifndef JP_WATCH_H
#define JP_WATCH_H

#include <stddef.h>
#include <stdint.h>

/* Finds recordings that never got a finalize call (Jibri or the host
 * crashed): media files (session_is_media_name) anywhere below root that
 * have been quiet — no inotify event, same size and mtime — for
 * stable_ms. Symlinks are never followed, neither to directories nor to
 * files. Single-threaded: call everything from the daemon's loop. */
struct watch;

/* Watch root recursively and scan it once (every media file found becomes
 * a candidate whose quiet time counts from its mtime). NULL with a
 * message when root cannot be watched. */
struct watch *watch_open(const char *root, int64_t stable_ms, char *err,
    size_t errlen);
void watch_close(struct watch *w);

/* The inotify descriptor to poll for input. */
int watch_fd(const struct watch *w);

/* Read and apply pending inotify events; a queue overflow triggers a full
 * rescan. */
void watch_handle(struct watch *w);

/* Forget everything and scan the whole tree again. */
void watch_rescan(struct watch *w);

/* Call take(path, ctx) for every candidate that has been quiet long
 * enough (each is then forgotten until it changes again). Returns the
 * milliseconds until the next candidate may become due, or -1 when none
 * is waiting. now_mono: util_mono_ms(). */
int64_t watch_poll(struct watch *w, int64_t now_mono,
    void (*take)(const char *path, void *ctx), void *ctx);

/* Stop tracking path (its job was made through another door). */
void watch_forget(struct watch *w, const char *path);

/* Number of directories watched and candidates waiting (status). */
size_t watch_dirs(const struct watch *w);
size_t watch_candidates(const struct watch *w);

#endif
