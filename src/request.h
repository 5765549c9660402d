/* request.h -- the spool's job requests: written by jibri-finalize, read by the daemon. */
#ifndef JP_REQUEST_H
#define JP_REQUEST_H
#endif
