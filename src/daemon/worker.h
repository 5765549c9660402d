/* worker.h -- the daemon: job table, worker threads, discovery doors, timers, signals. */
#ifndef JP_WORKER_H
#define JP_WORKER_H

#include "base/config.h"

/* Run the daemon in the foreground with cfg (taken over) until SIGTERM
 * or SIGINT: take the spool lock, load every job, take waiting requests,
 * watch RECORDINGS_DIR, run jobs on cfg->workers threads, reload the
 * configuration on SIGHUP (config_path as given to -c, may be NULL).
 * Tells systemd READY/STATUS/WATCHDOG/STOPPING. Returns the exit status. */
int worker_main(struct config *cfg, const char *config_path);

#endif
