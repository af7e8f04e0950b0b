/* sqlerr.h - SQLite results as the exit-status table reads them, one rule
 * for every module that talks to SQLite (outbox, admin, relay, dedupe):
 *   SQLITE_BUSY, SQLITE_LOCKED, SQLITE_INTERRUPT  75 (try again later)
 *   SQLITE_FULL, SQLITE_IOERR                     74 (disk full, I/O error)
 *   SQLITE_NOTADB, SQLITE_CORRUPT                 74 (not a database)
 *   SQLITE_READONLY, SQLITE_CANTOPEN              73
 *   SQLITE_PERM, SQLITE_AUTH                      77
 *   anything else                                 70
 * Nothing is kept; the message is written into the caller's errinfo.
 */
#ifndef SQLERR_H
#define SQLERR_H

#include "diag.h"

typedef struct sqlite3 sqlite3;

/* The exit status for result code rc. */
int sqlerr_exitcode(int rc);

/* Fill err with "PATH: WHAT: reason" for rc on connection db (NULL when
 * there is none) and return the exit status. */
int sqlerr_fail(sqlite3 *db, int rc, const char *path, const char *what, errinfo *err);

#endif
