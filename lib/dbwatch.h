/* dbwatch.h - wake up when a SQLite database file changes.
 *
 * Another process committing to the database writes its WAL file (or, in
 * rollback-journal mode, the database file). dbwatch watches the
 * directory that holds them with inotify and reports a change when a
 * write to either is closed or modified, or when either is created or
 * renamed into place. Watching the directory, not the files, survives
 * the WAL file being deleted and created again, which SQLite does when
 * the last connection closes.
 *
 * Our own writes wake us too; the caller treats a wake-up only as "look
 * again", never as proof that something changed.
 *
 * Ownership: a dbwatch owns its inotify descriptor and the names it
 * copied; dbwatch_close() releases them.
 */
#ifndef DBWATCH_H
#define DBWATCH_H

#include "diag.h"

typedef struct dbwatch {
	int fd;          /* inotify descriptor, -1 when not watching */
	char base[256];  /* the database file's name within its directory */
	char wal[260];   /* base + "-wal" */
} dbwatch;

/* Start watching the database at path. 0, or an exit code with err set;
 * a caller may go on without (polling only) after a failure. */
int dbwatch_open(dbwatch *w, const char *path, errinfo *err);

/* The descriptor to poll for POLLIN, or -1. */
int dbwatch_fd(const dbwatch *w);

/* Read every pending notification without blocking; 1 if one concerned
 * the database or its WAL, else 0. */
int dbwatch_drain(dbwatch *w);

void dbwatch_close(dbwatch *w);

#endif
