/* cli.c - see cli.h */
#include "cli.h"
#include "diag.h"
#include "exitcode.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef VERSION
#define VERSION "0.0.0"
#endif

void cli_start(const char *argv0)
{
	diag_init(argv0);
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
			/* The placeholder keeps the fd taken, and is opened the
			 * wrong way round for stdin and stdout: reading fd 0 or
			 * writing fd 1 then fails (EBADF) instead of quietly
			 * reading nothing or throwing data away. The readers say
			 * "standard input is closed" (66), the writers fail with
			 * 74. Only stderr gets a working /dev/null: there is no
			 * one left to tell. */
			int mode = fd == 0 ? O_WRONLY : fd == 1 ? O_RDONLY : O_WRONLY;
			int nfd = open("/dev/null", mode);
			if (nfd < 0)
				exit(EXIT_SOFTWARE);
			if (nfd != fd) /* open() returns the lowest free fd */
				exit(EXIT_SOFTWARE);
		}
	}
	signal(SIGPIPE, SIG_IGN);
}

static void exit_after_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		diag_error("writing output: %s", outbuf_strerror(errno));
		exit(EXIT_IOERR);
	}
	exit(EXIT_OK);
}

void cli_version(void) { printf("%s %s\n", diag_prog(), VERSION); }

int cli_common_option(int opt, const char *usage, const char *help)
{
	switch (opt) {
	case 'q':
		diag_verbosity = -1;
		return 0;
	case 'v':
		diag_verbosity++;
		return 0;
	case 'h':
		fputs(usage, stdout);
		fputs(help, stdout);
		exit_after_stdout();
		return 0;
	case 'V':
		cli_version();
		exit_after_stdout();
		return 0;
	default:
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	diag_error("%s", msg);
	fputs(usage, stderr);
	return EXIT_USAGE;
}

int cli_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return -1;
	uint64_t v = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (*s)
		return -1;
	*out = v;
	return 0;
}

static int split_number(const char *s, uint64_t *v, const char **unit)
{
	char digits[32];
	size_t n = 0;
	while (s[n] >= '0' && s[n] <= '9') {
		if (n + 1 >= sizeof digits)
			return -1;
		digits[n] = s[n];
		n++;
	}
	if (n == 0)
		return -1;
	digits[n] = '\0';
	*unit = s + n;
	return cli_parse_uint(digits, UINT64_MAX / 1024 / 1024 / 1024, v);
}

int cli_parse_size(const char *s, size_t max, size_t *out)
{
	uint64_t v;
	const char *unit;
	if (!s || split_number(s, &v, &unit) != 0)
		return -1;
	uint64_t mult = 1;
	if (!strcmp(unit, "K") || !strcmp(unit, "k") || !strcmp(unit, "KiB"))
		mult = 1024;
	else if (!strcmp(unit, "M") || !strcmp(unit, "m") || !strcmp(unit, "MiB"))
		mult = 1024 * 1024;
	else if (!strcmp(unit, "G") || !strcmp(unit, "g") || !strcmp(unit, "GiB"))
		mult = 1024 * 1024 * 1024;
	else if (*unit)
		return -1;
	v *= mult;
	if (v > max)
		return -1;
	*out = (size_t)v;
	return 0;
}

int cli_parse_duration_ms(const char *s, uint64_t *ms)
{
	uint64_t v;
	const char *unit;
	if (!s || split_number(s, &v, &unit) != 0)
		return -1;
	if (!strcmp(unit, "ms"))
		*ms = v;
	else if (!*unit || !strcmp(unit, "s"))
		*ms = v * 1000;
	else if (!strcmp(unit, "m"))
		*ms = v * 60000;
	else if (!strcmp(unit, "h"))
		*ms = v * 3600000;
	else if (!strcmp(unit, "d"))
		*ms = v * 86400000;
	else
		return -1;
	return 0;
}

int cli_parse_backoff(const char *s, uint64_t *min_ms, uint64_t *max_ms)
{
	char lo_text[64];
	const char *comma = s ? strchr(s, ',') : NULL;
	if (!comma || (size_t)(comma - s) >= sizeof lo_text)
		return -1;
	memcpy(lo_text, s, (size_t)(comma - s));
	lo_text[comma - s] = '\0';
	uint64_t lo, hi;
	if (cli_parse_duration_ms(lo_text, &lo) != 0 || cli_parse_duration_ms(comma + 1, &hi) != 0 ||
	    lo == 0 || hi < lo)
		return -1;
	*min_ms = lo;
	*max_ms = hi;
	return 0;
}

int cli_finish_output(outbuf *o, int status)
{
	int rc = outbuf_close(o);
	int err = o->err;
	if (rc != 0 && err == EPIPE)
		return status;
	if (rc != 0) {
		if (status) /* the failure that stopped the run was reported */
			return status;
		diag_error("writing output: %s", outbuf_error_text(o));
		return EXIT_IOERR;
	}
	return status;
}

int cli_bad_value(const char *usage, const char *why, const char *arg)
{
	char a[DIAG_ARG_MAX];
	if (arg)
		return cli_usage_error(usage, "%s: %s", why, diag_arg(arg, a));
	return cli_usage_error(usage, "%s", why);
}

volatile sig_atomic_t cli_stop;

static void on_stop_signal(int sig)
{
	cli_stop = sig;
}

void cli_catch_stop(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal; /* no SA_RESTART: waits end early */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int cli_parse_timeout_ms(const char *s, uint64_t *ms)
{
	return cli_parse_duration_ms(s, ms) == 0 && *ms <= (uint64_t)INT_MAX * 1000 ? 0 : -1;
}
