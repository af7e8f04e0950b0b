/* dbwatch.c - see dbwatch.h. */
#include "dbwatch.h"
#include "exitcode.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

int dbwatch_open(dbwatch *w, const char *path, errinfo *err)
{
	char dir[PATH_MAX], base[PATH_MAX];
	w->fd = -1;
	if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir ||
	    snprintf(base, sizeof base, "%s", path) >= (int)sizeof base)
		return errinfo_set(err, EXIT_USAGE, "%s: path too long to watch", path);
	const char *b = basename(base);
	const char *d = dirname(dir);
	if (snprintf(w->base, sizeof w->base, "%s", b) >= (int)sizeof w->base ||
	    snprintf(w->wal, sizeof w->wal, "%s-wal", b) >= (int)sizeof w->wal)
		return errinfo_set(err, EXIT_USAGE, "%s: name too long to watch", path);
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return errinfo_set(err, EXIT_SOFTWARE, "inotify: %s", strerror(errno));
	if (inotify_add_watch(fd, d, IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO) < 0) {
		int e = errno;
		close(fd);
		return errinfo_set(err, EXIT_SOFTWARE, "%s: cannot watch: %s", d, strerror(e));
	}
	w->fd = fd;
	return 0;
}

int dbwatch_fd(const dbwatch *w)
{
	return w->fd;
}

int dbwatch_drain(dbwatch *w)
{
	/* Aligned as the kernel's records are. */
	char ev_buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int hit = 0;
	if (w->fd < 0)
		return 0;
	for (;;) {
		ssize_t n = read(w->fd, ev_buf, sizeof ev_buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EAGAIN: nothing more */
		for (char *p = ev_buf; p < ev_buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				hit = 1; /* lost events: assume ours were among them */
			else if (ev->len && (strcmp(ev->name, w->base) == 0 || strcmp(ev->name, w->wal) == 0))
				hit = 1;
			p += sizeof *ev + ev->len;
		}
	}
	return hit;
}

void dbwatch_close(dbwatch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}
