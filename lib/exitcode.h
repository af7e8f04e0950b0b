/* exitcode.h - the one exit-status table every tool uses (DESIGN.md).
 *
 * Library functions that can fail return one of these codes (0 = success)
 * so a tool's main() can pass the result straight to exit().
 */
#ifndef EXITCODE_H
#define EXITCODE_H

enum exitcode {
	EXIT_OK = 0,
	EXIT_NO = 1,           /* a check answered no */
	EXIT_USAGE = 64,       /* usage error */
	EXIT_DATAERR = 65,     /* bad input data */
	EXIT_NOINPUT = 66,     /* input file missing */
	EXIT_UNAVAILABLE = 69, /* broker or endpoint unavailable */
	EXIT_SOFTWARE = 70,    /* internal error */
	EXIT_CANTCREAT = 73,   /* cannot create the database or output */
	EXIT_IOERR = 74,       /* I/O error */
	EXIT_TEMPFAIL = 75,    /* temporary failure: retry later */
	EXIT_NOPERM = 77,      /* permission denied */
	EXIT_CONFIG = 78       /* configuration error */
};

/* The status for a failed open() of an input file, from its errno:
 * missing (ENOENT, ENOTDIR) 66, permission (EACCES, EPERM) 77, else 74. */
int exitcode_for_open(int err);

/* A short English meaning of a code, for messages; never NULL. */
const char *exitcode_meaning(int code);

#endif
