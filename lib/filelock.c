/* filelock.c - see filelock.h. */
#include "filelock.h"
#include "exitcode.h"
#include "fnv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define LOCK_BASE 0x50000000LL
#define LOCK_SLOTS (1LL << 24)

/* FNV-1a: stable across runs and builds, which the lock byte must be. */
static long long slot_of(const char *name)
{
	uint64_t h = fnv1a(FNV1A_START, name, strlen(name));
	return LOCK_BASE + (long long)(h % (uint64_t)LOCK_SLOTS);
}

/* The one byte of name, type F_RDLCK, F_WRLCK or F_UNLCK. */
static struct flock slot_range(short type, long long offset)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = offset;
	fl.l_len = 1;
	return fl;
}

/* A descriptor of path for name's lock (a write lock needs one open for
 * writing), l->fd still -1; or -1 with err set. */
static int open_for(filelock *l, const char *path, const char *name, errinfo *err)
{
	l->fd = -1;
	l->offset = slot_of(name);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		errinfo_set(err, exitcode_for_open(e), "%s: %s", path, strerror(e));
	}
	return fd;
}

int filelock_take(filelock *l, const char *path, const char *name, enum filelock_wait wait,
		  errinfo *err)
{
	int fd = open_for(l, path, name, err);
	if (fd < 0)
		return err->code;
	struct flock fl = slot_range(F_WRLCK, l->offset);
	for (;;) {
		if (fcntl(fd, wait == FILELOCK_WAIT ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == 0)
			break;
		int e = errno;
		if (e == EINTR && wait == FILELOCK_WAIT) {
			close(fd);
			return errinfo_set(err, EXIT_TEMPFAIL, "%s: interrupted while waiting for the lock",
					   path);
		}
		if (e == EINTR)
			continue;
		if (e == EAGAIN || e == EACCES) {
			/* Ask who holds it, for the message; OFD locks report pid -1. */
			struct flock q = fl;
			int have_pid = fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK && q.l_pid > 0;
			close(fd);
			if (have_pid)
				return errinfo_set(err, EXIT_NO, "%s: held by process %ld", path,
						   (long)q.l_pid);
			return errinfo_set(err, EXIT_NO, "%s: held by another process", path);
		}
		close(fd);
		return errinfo_set(err, e == ENOLCK ? EXIT_TEMPFAIL : EXIT_IOERR,
				   "%s: cannot lock: %s", path, strerror(e));
	}
	l->fd = fd;
	return 0;
}

static int set_lock(int fd, short type, long long offset)
{
	struct flock fl = slot_range(type, offset);
	int rc;
	while ((rc = fcntl(fd, F_OFD_SETLK, &fl)) != 0 && errno == EINTR)
		;
	return rc;
}

int filelock_share(filelock *l, const char *path, const char *name, errinfo *err)
{
	int fd = open_for(l, path, name, err);
	if (fd < 0)
		return err->code;
	/* A shared hold waits for no one: only a probe's brief write lock
	 * can refuse it, and then a retry gets it. */
	for (int i = 0; set_lock(fd, F_RDLCK, l->offset) != 0; i++) {
		int e = errno;
		if ((e != EAGAIN && e != EACCES) || i == 100) {
			close(fd);
			return errinfo_set(err, e == ENOLCK ? EXIT_TEMPFAIL : EXIT_IOERR,
					   "%s: cannot lock: %s", path, strerror(e));
		}
		usleep(1000);
	}
	l->fd = fd;
	return 0;
}

int filelock_alone(filelock *l)
{
	if (l->fd < 0 || set_lock(l->fd, F_WRLCK, l->offset) != 0)
		return 0;
	(void)set_lock(l->fd, F_RDLCK, l->offset);
	return 1;
}

void filelock_release(filelock *l)
{
	if (l->fd >= 0)
		close(l->fd); /* closing the description drops its OFD locks */
	l->fd = -1;
}
