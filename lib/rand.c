/* rand.c - see rand.h */
#include "rand.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#define POOL_SIZE 4096

/* One pool per thread, so callers on different threads never hand out the
 * same bytes and need no lock. */
static _Thread_local unsigned char pool[POOL_SIZE];
static _Thread_local size_t pool_left; /* unread bytes at the pool's end */

/* A forked child must not reuse the parent's buffered bytes: two
 * processes would then generate the same ids. The child handler runs in
 * the only thread the child has, which is the one whose pool matters. */
static void drop_pool_in_child(void)
{
	pool_left = 0;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int atfork_failed;

static void register_atfork(void)
{
	if (pthread_atfork(NULL, NULL, drop_pool_in_child) != 0)
		atfork_failed = 1;
}

/* getrandom() until n bytes are in p. A short read is possible for large
 * requests and on signals; ENOSYS and others are failures, and there is
 * deliberately no fallback to a weaker source. */
static int fill(unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = getrandom(p, n, 0);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int rand_bytes(void *p, size_t n)
{
	unsigned char *out = p;
	if (pthread_once(&atfork_once, register_atfork) != 0 || atfork_failed) {
		/* Without the fork guard the pool is unsafe: go unbuffered. */
		return fill(out, n);
	}
	if (n >= POOL_SIZE / 2)
		return fill(out, n); /* large requests would just churn the pool */
	while (n > 0) {
		if (pool_left == 0) {
			if (fill(pool, POOL_SIZE) != 0)
				return -1;
			pool_left = POOL_SIZE;
		}
		size_t k = n < pool_left ? n : pool_left;
		unsigned char *src = pool + (POOL_SIZE - pool_left);
		memcpy(out, src, k);
		/* Bytes handed out are wiped so that they cannot leak later
		 * through a core dump or a fork that races the handler. */
		memset(src, 0, k);
		pool_left -= k;
		out += k;
		n -= k;
	}
	return 0;
}
