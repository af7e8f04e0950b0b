/* sqlerr.c - see sqlerr.h. */
#include "sqlerr.h"
#include "exitcode.h"

#include <errno.h>
#include <sqlite3.h>
#include <string.h>

int sqlerr_exitcode(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_INTERRUPT:
		return EXIT_TEMPFAIL;
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return EXIT_IOERR;
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
		return EXIT_CANTCREAT;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return EXIT_NOPERM;
	default:
		return EXIT_SOFTWARE;
	}
}

int sqlerr_fail(sqlite3 *db, int rc, const char *path, const char *what, errinfo *err)
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	int sys = db ? sqlite3_system_errno(db) : 0;
	int code = sqlerr_exitcode(rc);
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return errinfo_set(err, code, "%s: %s: database is locked", path, what);
	case SQLITE_INTERRUPT:
		return errinfo_set(err, code, "%s: %s: interrupted", path, what);
	case SQLITE_FULL:
		return errinfo_set(err, code, "%s: %s: disk full", path, what);
	case SQLITE_IOERR:
		if (sys == ENOSPC)
			return errinfo_set(err, code, "%s: %s: disk full", path, what);
		return errinfo_set(err, code, "%s: %s: I/O error: %s", path, what,
				   sys ? strerror(sys) : msg);
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return errinfo_set(err, code,
				   "%s: not an outbox database (file is not a database or is corrupt)",
				   path);
	case SQLITE_READONLY:
		return errinfo_set(err, code, "%s: %s: database is read-only (%s)", path, what, msg);
	case SQLITE_CANTOPEN:
		return errinfo_set(err, code, "%s: %s: cannot open the database: %s", path, what,
				   sys ? strerror(sys) : msg);
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return errinfo_set(err, code, "%s: %s: permission denied (%s)", path, what, msg);
	case SQLITE_NOMEM:
		return errinfo_set(err, code, "%s: %s: out of memory", path, what);
	default:
		return errinfo_set(err, code, "%s: %s: %s", path, what, msg);
	}
}
