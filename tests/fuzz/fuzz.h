/* fuzz.h -- what the libFuzzer harnesses share: the entry point, a failed property, an input as a file. */
#ifndef JP_FUZZ_H
#define JP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property of the parser's contract does not hold: say which, and abort,
 * so that libFuzzer keeps the input as a crash like any sanitizer report. */
#define FUZZ_CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: ", __FILE__, \
		    __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

/* A memory file (memfd) holding exactly the n bytes at p, read from offset
 * 0: made once per harness in *fd, emptied and rewritten for each input.
 * The parsers take descriptors; a memory file costs no disk and cannot
 * fail a read. */
static inline int
fuzz_memfd(int *fd, const char *name, const void *p, size_t n)
{
	size_t done = 0;
	ssize_t w;

	if (*fd < 0 && (*fd = memfd_create(name, MFD_CLOEXEC)) < 0) {
		perror("memfd_create");
		abort();
	}
	if (ftruncate(*fd, 0) < 0 || lseek(*fd, 0, SEEK_SET) < 0) {
		perror("ftruncate");
		abort();
	}
	while (done < n) {
		w = pwrite(*fd, (const char *)p + done, n - done, (off_t)done);
		if (w <= 0) {
			perror("pwrite");
			abort();
		}
		done += (size_t)w;
	}
	return *fd;
}

/* The whole content of fd (n bytes), newly allocated (n + 1, NUL after). */
static inline uint8_t *
fuzz_slurp(int fd, size_t n)
{
	uint8_t *buf = malloc(n + 1);
	size_t done = 0;
	ssize_t r;

	if (buf == NULL)
		abort();
	while (done < n) {
		r = pread(fd, buf + done, n - done, (off_t)done);
		if (r <= 0) {
			perror("pread");
			abort();
		}
		done += (size_t)r;
	}
	buf[n] = '\0';
	return buf;
}

#endif
