/* filelock.h - a lifetime lock on one named resource inside a file, for
 * "one outbox-relay per outbox table".
 *
 * The lock is an open file description lock (fcntl F_OFD_SETLK) on one
 * byte of the database file itself, far above the bytes SQLite locks
 * (SQLite's lock bytes start at 0x40000000 and span 512 bytes; ours lie in
 * [0x50000000, 0x50000000 + 2^24)). Why not a lock file: the relay runs
 * against the application's own database and must not litter its
 * directory (which it may not be allowed to write). Why OFD and not POSIX
 * locks: closing any descriptor of a file drops every POSIX lock the
 * process holds on it, SQLite's included; an OFD lock belongs to our own
 * descriptor only and never interferes with SQLite's. Why not flock():
 * it locks the whole file, and one file may hold several outbox tables,
 * each with its own relay.
 *
 * The byte is chosen by a hash of the resource name (the table name):
 * two tables that hash alike would exclude each other's relays, a harmless
 * (and, with 2^24 slots, unlikely) false conflict. The kernel drops the
 * lock when the process dies, SIGKILL included: no stale lock is left.
 *
 * Ownership: a filelock owns its descriptor; filelock_release() closes it.
 */
#ifndef FILELOCK_H
#define FILELOCK_H

#include "diag.h"

typedef struct filelock {
	int fd;
	long long offset;
} filelock;

enum filelock_wait { FILELOCK_TRY = 0, FILELOCK_WAIT = 1 };

/* Take the lock for name in the file at path. Returns 0 when held; EXIT_NO
 * (1) when another process holds it (FILELOCK_TRY), with the holder's PID
 * in err's text when the kernel tells it; EXIT_TEMPFAIL when a wait was
 * interrupted by a signal; otherwise an open/lock error code with err set.
 * FILELOCK_WAIT blocks until the lock is free or a signal arrives. */
int filelock_take(filelock *l, const char *path, const char *name, enum filelock_wait wait,
		  errinfo *err);

/* A shared hold on name's byte, for "is anyone else using this file?":
 * every holder takes it for its lifetime and filelock_alone() asks. 0 when
 * held; an open/lock error code with err set. */
int filelock_share(filelock *l, const char *path, const char *name, errinfo *err);

/* 1 when no other process holds name's byte (shared or not), else 0.
 * Probes by upgrading the shared hold to a write lock and back: two
 * fcntl calls, never a wait. A failed downgrade keeps the write lock,
 * which only makes others' filelock_alone() answer 0. */
int filelock_alone(filelock *l);

/* Drop the lock and close its descriptor. Harmless on a lock not held. */
void filelock_release(filelock *l);

#endif
