/* hash.c -- SHA-256 and HMAC-SHA256 (OpenSSL), hex encoded. */
#include "base/hash.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

struct hash_sha256 {
	EVP_MD_CTX *ctx;
};

struct hash_sha256 *
hash_sha256_new(void)
{
	struct hash_sha256 *h = xmalloc(sizeof(*h));

	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		abort();
	return h;
}

void
hash_sha256_update(struct hash_sha256 *h, const void *data, size_t n)
{
	EVP_DigestUpdate(h->ctx, data, n);
}

void
hash_sha256_final(struct hash_sha256 *h, unsigned char md[32], char *hex)
{
	unsigned char buf[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_DigestFinal_ex(h->ctx, buf, &len);
	if (md != NULL)
		memcpy(md, buf, 32);
	if (hex != NULL)
		util_hex(buf, 32, hex);
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void
hash_sha256_hex(const void *data, size_t n, char hex[HASH_HEX_LEN])
{
	unsigned char md[32];

	EVP_Digest(data, n, md, NULL, EVP_sha256(), NULL);
	util_hex(md, 32, hex);
}

int
hash_sha256_file(const char *path, char hex[HASH_HEX_LEN], uint64_t *size)
{
	enum { BUFSZ = 1 << 20 };
	struct hash_sha256 *h;
	unsigned char *buf;
	uint64_t total = 0;
	ssize_t n;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	buf = xmalloc(BUFSZ);
	h = hash_sha256_new();
	while ((n = read(fd, buf, BUFSZ)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			saved = errno;
			hash_sha256_final(h, NULL, NULL);
			free(buf);
			close(fd);
			errno = saved;
			return -1;
		}
		hash_sha256_update(h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	hash_sha256_final(h, NULL, hex);
	free(buf);
	close(fd);
	if (size != NULL)
		*size = total;
	return 0;
}

void
hash_hmac_sha256_hex(const char *key, size_t keylen, const void *data,
    size_t n, char hex[HASH_HEX_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	HMAC(EVP_sha256(), key, (int)keylen, data, n, md, &len);
	util_hex(md, 32, hex);
	OPENSSL_cleanse(md, sizeof(md));
}

int
hash_equal_ct(const char *expected, const char *given)
{
	size_t elen = strlen(expected), glen = strlen(given), i;
	unsigned char diff = (unsigned char)(elen != glen);

	for (i = 0; i < elen; i++)
		diff |= (unsigned char)(expected[i] ^ (i < glen ? given[i] : 0));
	return diff == 0;
}
