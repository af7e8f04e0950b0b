/* diag.c - see diag.h */
#include "diag.h"
#include "exitcode.h"
#include "utf8.h"

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

const char *diag_arg(const char *s, char out[DIAG_ARG_MAX])
{
	size_t n = strlen(s);
	if (n <= 64) {
		memcpy(out, s, n + 1);
		return out;
	}
	n = 64;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--; /* not inside a UTF-8 sequence */
	memcpy(out, s, n);
	memcpy(out + n, "...", 4);
	return out;
}

/* Copy s to d (room for cap bytes, NUL included), control bytes, C1
 * controls and invalid UTF-8 written as \xHH. */
static void terminal_safe(char *d, size_t cap, const char *s)
{
	size_t o = 0, n = strlen(s);
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t len = 1;
		int esc = p[i] < 0x20 || p[i] == 0x7F;
		if (p[i] >= 0x80) {
			len = p[i] >= 0xF0 ? 4 : p[i] >= 0xE0 ? 3 : 2;
			if (len > n - i || !utf8_valid((const char *)p + i, len) ||
			    (p[i] == 0xC2 && p[i + 1] < 0xA0)) /* U+0080-009F */
				esc = 1, len = 1;
		}
		size_t need = esc ? 4 : len;
		if (o + need >= cap)
			break;
		if (esc) {
			static const char hex[] = "0123456789abcdef";
			d[o++] = '\\';
			d[o++] = 'x';
			d[o++] = hex[p[i] >> 4];
			d[o++] = hex[p[i] & 15];
		} else {
			memcpy(d + o, p + i, len);
			o += len;
		}
		i += len;
	}
	d[o] = '\0';
}

/* One fprintf per message so concurrent writers to stderr do not interleave
 * within a line. */
static void emit(const char *kind, const char *file, unsigned long line,
		 const char *suffix, const char *fmt, va_list ap)
{
	char msg[1024], where[300] = "", all[1400], safe[2048];
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (file && line)
		snprintf(where, sizeof where, "%s:%lu: ", file, line);
	else if (file)
		snprintf(where, sizeof where, "%s: ", file);
	snprintf(all, sizeof all, "%s%s%s%s", where, msg, suffix ? ": " : "", suffix ? suffix : "");
	terminal_safe(safe, sizeof safe, all);
	fprintf(stderr, "%s: %s%s\n", prog, kind, safe);
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
