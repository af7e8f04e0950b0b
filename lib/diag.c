/* diag.c - see diag.h */
#include "diag.h"
#include "exitcode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int diag_verbosity = 0;
static const char *prog = "outbox-tools";

const char *exitcode_meaning(int code)
{
	switch (code) {
	case EXIT_OK: return "success";
	case EXIT_NO: return "check answered no";
	case EXIT_USAGE: return "usage error";
	case EXIT_DATAERR: return "bad input data";
	case EXIT_NOINPUT: return "input file missing";
	case EXIT_UNAVAILABLE: return "service unavailable";
	case EXIT_SOFTWARE: return "internal error";
	case EXIT_CANTCREAT: return "cannot create output";
	case EXIT_IOERR: return "I/O error";
	case EXIT_TEMPFAIL: return "temporary failure";
	case EXIT_NOPERM: return "permission denied";
	case EXIT_CONFIG: return "configuration error";
	default: return "unknown status";
	}
}

int exitcode_for_open(int err)
{
	if (err == ENOENT || err == ENOTDIR)
		return EXIT_NOINPUT;
	if (err == EACCES || err == EPERM)
		return EXIT_NOPERM;
	return EXIT_IOERR;
}

int errinfo_set(errinfo *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof err->text, fmt, ap);
	va_end(ap);
	err->code = code;
	return code;
}

void errinfo_prefix(errinfo *err, const char *fmt, ...)
{
	char pre[256], old[sizeof err->text];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, err->text, sizeof old);
	/* Truncation is acceptable here: the message stays NUL-terminated. */
	size_t n = strlen(pre);
	if (n > sizeof err->text - 3)
		n = sizeof err->text - 3;
	memcpy(err->text, pre, n);
	memcpy(err->text + n, ": ", 2);
	size_t room = sizeof err->text - n - 3, m = strlen(old);
	if (m > room)
		m = room;
	memcpy(err->text + n + 2, old, m);
	err->text[n + 2 + m] = '\0';
}

void errinfo_clear(errinfo *err)
{
	err->code = 0;
	err->text[0] = '\0';
}

void diag_init(const char *argv0)
{
	if (argv0 && *argv0) {
		const char *slash = strrchr(argv0, '/');
		prog = slash ? slash + 1 : argv0;
	}
}

const char *diag_prog(void) { return prog; }

/* One fprintf per message so concurrent writers to stderr do not interleave
 * within a line. */
static void emit(const char *kind, const char *file, unsigned long line,
		 const char *suffix, const char *fmt, va_list ap)
{
	char msg[1024], where[300] = "";
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (file && line)
		snprintf(where, sizeof where, "%s:%lu: ", file, line);
	else if (file)
		snprintf(where, sizeof where, "%s: ", file);
	fprintf(stderr, "%s: %s%s%s%s%s\n", prog, kind, where, msg,
		suffix ? ": " : "", suffix ? suffix : "");
}

#define EMIT(kind, file, line, suffix)                   \
	do {                                             \
		int saved_errno = errno;                 \
		va_list ap;                              \
		va_start(ap, fmt);                       \
		emit(kind, file, line, suffix, fmt, ap); \
		va_end(ap);                              \
		errno = saved_errno;                     \
	} while (0)

void diag_error(const char *fmt, ...) { EMIT("error: ", NULL, 0, NULL); }
void diag_warn(const char *fmt, ...)
{
	if (diag_verbosity >= 0)
		EMIT("warning: ", NULL, 0, NULL);
}

void diag_syserr(const char *fmt, ...)
{
	const char *why = strerror(errno);
	EMIT("error: ", NULL, 0, why);
}

void diag_input_error(const char *file, unsigned long line, const char *fmt, ...)
{
	EMIT("error: ", file, line, NULL);
}

void diag_input_warn(const char *file, unsigned long line, const char *fmt, ...)
{
	if (diag_verbosity >= 0)
		EMIT("warning: ", file, line, NULL);
}

void diag_info(const char *fmt, ...)
{
	if (diag_verbosity >= 0)
		EMIT("", NULL, 0, NULL);
}

void diag_debug(const char *fmt, ...)
{
	if (diag_verbosity >= 1)
		EMIT("debug: ", NULL, 0, NULL);
}

void diag_errinfo(const errinfo *err) { diag_error("%s", err->text); }
