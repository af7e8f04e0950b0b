/* inject_enospc.c - LD_PRELOAD shim: make writes to chosen files fail with
 * ENOSPC after a byte budget, to test "disk full" paths without a full
 * disk (the idea of jq's src/inject_errors.c).
 *
 *   INJECT_ENOSPC_SUFFIX  writes to files whose path ends with this fail
 *                         (e.g. "-wal"); unset: the shim does nothing
 *   INJECT_ENOSPC_AFTER   bytes allowed before the first failure (default 0)
 *
 * The file behind a descriptor is found with /proc/self/fd, so no open()
 * needs wrapping. Built by the bats setup with cc -shared -fPIC; it is not
 * a program, so it lives outside tests/helpers/. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static long long spent;

static int targeted(int fd)
{
	const char *suffix = getenv("INJECT_ENOSPC_SUFFIX");
	if (!suffix || !*suffix)
		return 0;
	char link[64], path[4096];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	size_t ls = strlen(suffix);
	return (size_t)n >= ls && strcmp(path + n - ls, suffix) == 0;
}

/* 1 if this write must fail: the budget is spent (or would be). */
static int deny(int fd, size_t n)
{
	if (!targeted(fd))
		return 0;
	const char *after = getenv("INJECT_ENOSPC_AFTER");
	long long budget = after ? atoll(after) : 0;
	if (spent + (long long)n > budget) {
		errno = ENOSPC;
		return 1;
	}
	spent += (long long)n;
	return 0;
}

ssize_t write(int fd, const void *p, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);
	if (!real)
		real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	return deny(fd, n) ? -1 : real(fd, p, n);
}

ssize_t pwrite(int fd, const void *p, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	if (!real)
		real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	return deny(fd, n) ? -1 : real(fd, p, n, off);
}

ssize_t pwrite64(int fd, const void *p, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	if (!real)
		real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
	return deny(fd, n) ? -1 : real(fd, p, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	static ssize_t (*real)(int, const struct iovec *, int);
	if (!real)
		real = (ssize_t (*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
	size_t n = 0;
	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return deny(fd, n) ? -1 : real(fd, iov, cnt);
}
