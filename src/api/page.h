/* page.h -- the status page (GET /): one read-only HTML document of the queue, progress, recent recordings, failures, disk headroom and the endpoint's counts. */
#ifndef JP_PAGE_H
#define JP_PAGE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/* What the page shows besides the metrics it reads itself (disk free
 * and size, event and request counts, the journal: metrics.h, set by
 * the endpoint's collector just before). */
struct page_view {
	const json_t *jobs;          /* job summaries, oldest first, as GET
	                                /v1/recordings has them; NULL: the
	                                pipeline is not running here */
	const char *host;            /* this host's name */
	const char *recordings_dir;  /* RECORDINGS_DIR, STATE_DIR */
	const char *state_dir;
	bool disk_full;              /* below DISK_MIN_FREE, nothing to free */
	bool events;                 /* DATABASE_URL set: events are taken */
	int64_t now_ms;              /* wall clock */
	int64_t mono_ms;             /* monotonic: for the upload rates */
};

/* The newest finished recordings shown. */
#define PAGE_RECENT 20
/* The page holds at most this much HTML; past it, it ends early with a
 * note (thousands of failed jobs). */
#define PAGE_HTML_MAX (4 * 1024 * 1024)
/* Seconds between the page's own reloads (<meta http-equiv=refresh>). */
#define PAGE_REFRESH 5

/*
 * The page as one HTML document (malloc'd): no script, no external
 * asset (the CSS is inline), reloading itself every PAGE_REFRESH
 * seconds. Every string that comes from outside -- room names, session
 * ids, paths, errors, URLs -- is HTML-escaped; a link is made only of
 * an http, https, s3 or file URL.
 *
 * Upload rates and ETAs come from what earlier renders saw of the same
 * job (bytes stored then and now): the first view of an upload shows
 * its bytes without a rate. Any thread; renders are serialised only
 * around that memory.
 */
char *page_render(const struct page_view *v);

/* s with & < > " ' as entities and control characters dropped, appended
 * to b (what every untrusted string on the page goes through). */
struct buf;
void page_escape(struct buf *b, const char *s);

#endif
