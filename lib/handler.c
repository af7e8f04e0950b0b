/* handler.c - see handler.h. */
#include "handler.h"
#include "base64.h"
#include "buf.h"
#include "cehttp.h"
#include "cekafka.h"
#include "cepost.h"
#include "exitcode.h"
#include "timefmt.h"
#include "utf8.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define KILL_GRACE_MS 5000
#define KEY_ENV_MAX 4096 /* larger keys are not put in KAFKA_KEY */

struct exec_handler {
	char *command;
	uint64_t timeout_ms;
};

/* "NAME=value" strings, one after another in b; offsets in off. */
struct envb {
	buf b;
	size_t off[128];
	size_t n;
};

static int env_add(struct envb *e, const char *name, const char *v, size_t vn)
{
	if (e->n == sizeof e->off / sizeof e->off[0])
		return 0; /* more than 128 attributes: the rest are left out */
	/* A value with a NUL cannot be an environment string: cut it there. */
	const char *nul = memchr(v, '\0', vn);
	if (nul)
		vn = (size_t)(nul - v);
	e->off[e->n] = e->b.len;
	if (buf_puts(&e->b, name) || buf_putc(&e->b, '=') || buf_append(&e->b, v, vn) ||
	    buf_putc(&e->b, '\0'))
		return -1;
	e->n++;
	return 0;
}

static int env_attr(struct envb *e, const char *name, const ce_attr *a)
{
	if (!a->value.p)
		return 0;
	buf v = BUF_INIT(1u << 20);
	int rc = ce_attr_value(a, &v) == 0 ? env_add(e, name, v.data ? v.data : "", v.len) : -1;
	buf_free(&v);
	return rc;
}

static int build_env(struct envb *e, const consume_event *ev, size_t n)
{
	const cloudevent *ce = ev->ev;
	char num[64];
	int rc = env_attr(e, "CE_SPECVERSION", &ce->specversion);
	rc = rc ? rc : env_attr(e, "CE_ID", &ce->id);
	rc = rc ? rc : env_attr(e, "CE_SOURCE", &ce->source);
	rc = rc ? rc : env_attr(e, "CE_TYPE", &ce->type);
	rc = rc ? rc : env_attr(e, "CE_SUBJECT", &ce->subject);
	rc = rc ? rc : env_attr(e, "CE_TIME", &ce->time);
	rc = rc ? rc : env_attr(e, "CE_DATACONTENTTYPE", &ce->datacontenttype);
	rc = rc ? rc : env_attr(e, "CE_DATASCHEMA", &ce->dataschema);
	for (size_t i = 0; i < ce->n_ext && !rc; i++) {
		char name[300] = "CE_";
		size_t k = 3;
		/* Extension names are [a-z0-9]+ (checked by ce_parse). */
		for (size_t j = 1; j + 1 < ce->ext[i].name.n && k + 1 < sizeof name; j++)
			name[k++] = (char)toupper((unsigned char)ce->ext[i].name.p[j]);
		name[k] = '\0';
		/* TRACEPARENT below is the consumer's own span; the event's
		 * extension keeps its CE_ name. */
		rc = env_attr(e, name, &ce->ext[i]);
	}
	char tp[TRACEPARENT_LEN + 1];
	traceparent_format(&ev->hop, tp);
	rc = rc ? rc : env_add(e, "TRACEPARENT", tp, strlen(tp));
	if (!rc && ev->tracestate)
		rc = env_add(e, "TRACESTATE", ev->tracestate, ev->tracestate_len);
	rc = rc ? rc : env_add(e, "KAFKA_TOPIC", ev->topic, strlen(ev->topic));
	snprintf(num, sizeof num, "%" PRId32, ev->partition);
	rc = rc ? rc : env_add(e, "KAFKA_PARTITION", num, strlen(num));
	snprintf(num, sizeof num, "%" PRId64, ev->offset);
	rc = rc ? rc : env_add(e, "KAFKA_OFFSET", num, strlen(num));
	if (!rc && ev->key && ev->key_len > KEY_ENV_MAX) {
		/* A huge key would make the environment too large to start the
		 * handler at all (E2BIG): give its length instead. */
		snprintf(num, sizeof num, "%zu", ev->key_len);
		rc = env_add(e, "KAFKA_KEY_LENGTH", num, strlen(num));
	} else if (!rc && ev->key) {
		if (utf8_valid(ev->key, ev->key_len) && !memchr(ev->key, '\0', ev->key_len)) {
			rc = env_add(e, "KAFKA_KEY", ev->key, ev->key_len);
		} else {
			buf k = BUF_INIT(4u << 20);
			rc = base64_encode(&k, ev->key, ev->key_len) ? -1
								      : env_add(e, "KAFKA_KEY_BASE64", k.data ? k.data : "", k.len);
			buf_free(&k);
		}
	}
	if (!rc && ev->timestamp_ms >= 0) {
		snprintf(num, sizeof num, "%" PRId64, ev->timestamp_ms);
		rc = env_add(e, "KAFKA_TIMESTAMP", num, strlen(num));
	}
	snprintf(num, sizeof num, "%zu", n);
	rc = rc ? rc : env_add(e, "EVENT_COUNT", num, strlen(num));
	snprintf(num, sizeof num, "%u", ev->attempt);
	rc = rc ? rc : env_add(e, "EVENT_ATTEMPT", num, strlen(num));
	return rc;
}

/* The environment for the child: ours, minus the names we set. */
static char **make_envp(struct envb *e)
{
	size_t n_env = 0;
	while (environ[n_env])
		n_env++;
	char **envp = calloc(n_env + e->n + 1, sizeof *envp);
	if (!envp)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n_env; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		int ours = 0;
		for (size_t j = 0; j < e->n && !ours; j++) {
			const char *s = e->b.data + e->off[j];
			ours = strncmp(s, environ[i], nl) == 0 && s[nl] == '=';
		}
		/* The event's own variables never leak in from our environment,
		 * nor does our trace state (the event's context replaces it). */
		if (!ours && !(nl > 3 && strncmp(environ[i], "CE_", 3) == 0) &&
		    !(nl == 10 && strncmp(environ[i], "TRACESTATE", 10) == 0))
			envp[k++] = environ[i];
	}
	for (size_t j = 0; j < e->n; j++)
		envp[k++] = e->b.data + e->off[j];
	envp[k] = NULL;
	return envp;
}

static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

/* Wait for the child until deadline (epoch us; 0 = forever). 1 exited
 * (*wstatus set), 0 timed out. */
static int wait_child(pid_t pid, int pidfd, int64_t deadline, int *wstatus)
{
	for (;;) {
		pid_t r = waitpid(pid, wstatus, WNOHANG);
		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return 1; /* not our child any more: treat as gone */
		int ms = 1000;
		if (deadline) {
			int64_t left = (deadline - timefmt_now_us()) / 1000;
			if (left <= 0)
				return 0;
			if (left < ms)
				ms = (int)left;
		}
		if (pidfd >= 0) {
			struct pollfd p = { pidfd, POLLIN, 0 };
			poll(&p, 1, ms);
		} else {
			/* No pidfd (old kernel): look again every 10 ms. */
			struct pollfd p = { -1, 0, 0 };
			poll(&p, 0, ms < 10 ? ms : 10);
		}
	}
}

static enum consume_result exec_handle(void *self, const consume_event *ev, size_t n, char *why,
				       size_t why_cap, int *stop_code)
{
	struct exec_handler *x = self;
	struct envb e;
	memset(&e, 0, sizeof e);
	buf_init(&e.b, 64u << 20);
	(void)stop_code;
	if (build_env(&e, ev, n) != 0) {
		buf_free(&e.b);
		snprintf(why, why_cap, "environment too large");
		return CONSUME_RETRY;
	}
	char **envp = make_envp(&e);
	int pfd[2];
	if (!envp || pipe2(pfd, O_CLOEXEC) != 0) {
		free(envp);
		buf_free(&e.b);
		snprintf(why, why_cap, "cannot start the handler: %s", strerror(errno));
		return CONSUME_RETRY;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* The child: events on stdin, signals as a shell expects them,
		 * and a process group of its own, so that a timeout ends the
		 * command's children too, not only the shell. */
		signal(SIGPIPE, SIG_DFL);
		setpgid(0, 0);
		/* A consumer killed with -9 cannot record what its handler does
		 * from then on: the handler goes with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		if (dup2(pfd[0], STDIN_FILENO) < 0)
			_exit(126);
		execve("/bin/sh", (char *[]){ "sh", "-c", x->command, NULL }, envp);
		_exit(127);
	}
	int saved = errno;
	close(pfd[0]);
	free(envp);
	buf_free(&e.b);
	if (pid < 0) {
		close(pfd[1]);
		snprintf(why, why_cap, "cannot start the handler: %s", strerror(saved));
		return CONSUME_RETRY;
	}
	setpgid(pid, pid); /* also here: no race with the child's own call */
	int pidfd = pidfd_of(pid);
	int64_t deadline = x->timeout_ms ? timefmt_now_us() + (int64_t)x->timeout_ms * 1000 : 0;
	/* Feed the events; a handler that does not read them is fine (EPIPE). */
	fcntl(pfd[1], F_SETFL, O_NONBLOCK);
	int timed_out = 0;
	for (size_t i = 0; i < n && !timed_out; i++) {
		const char *parts[2] = { ev[i].json, "\n" };
		size_t lens[2] = { ev[i].json_len, 1 };
		for (int k = 0; k < 2 && !timed_out; k++) {
			size_t off = 0;
			while (off < lens[k]) {
				ssize_t w = write(pfd[1], parts[k] + off, lens[k] - off);
				if (w > 0) {
					off += (size_t)w;
					continue;
				}
				if (w < 0 && errno == EINTR)
					continue;
				if (w < 0 && errno == EAGAIN) {
					int ms = 1000;
					if (deadline) {
						int64_t left = (deadline - timefmt_now_us()) / 1000;
						if (left <= 0) {
							timed_out = 1;
							break;
						}
						ms = left < ms ? (int)left : ms;
					}
					struct pollfd p[2] = { { pfd[1], POLLOUT, 0 }, { pidfd, POLLIN, 0 } };
					poll(p, pidfd >= 0 ? 2 : 1, ms);
					continue;
				}
				i = n; /* EPIPE or other: the handler stopped reading */
				k = 2;
				break;
			}
		}
	}
	close(pfd[1]);
	int ws = 0;
	if (timed_out || !wait_child(pid, pidfd, deadline, &ws)) {
		kill(-pid, SIGTERM);
		if (!wait_child(pid, pidfd, timefmt_now_us() + KILL_GRACE_MS * 1000, &ws)) {
			kill(-pid, SIGKILL);
			wait_child(pid, pidfd, 0, &ws);
		}
		kill(-pid, SIGKILL); /* whatever of the group is left */
		if (pidfd >= 0)
			close(pidfd);
		snprintf(why, why_cap, "handler timed out after %" PRIu64 " ms", x->timeout_ms);
		return CONSUME_RETRY;
	}
	if (pidfd >= 0)
		close(pidfd);
	if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
		return CONSUME_OK;
	if (WIFEXITED(ws)) {
		snprintf(why, why_cap, "handler exited with status %d", WEXITSTATUS(ws));
		return WEXITSTATUS(ws) == EXIT_DATAERR ? CONSUME_DEAD : CONSUME_RETRY;
	}
	snprintf(why, why_cap, "handler killed by signal %d", WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
	return CONSUME_RETRY;
}

static void exec_close(void *self)
{
	struct exec_handler *x = self;
	if (x)
		free(x->command);
	free(x);
}

int handler_exec_new(consume_handler *h, const char *command, uint64_t timeout_ms, errinfo *err)
{
	struct exec_handler *x = calloc(1, sizeof *x);
	if (!x || !(x->command = strdup(command))) {
		free(x);
		return errinfo_set(err, EXIT_SOFTWARE, "out of memory");
	}
	x->timeout_ms = timeout_ms;
	h->handle = exec_handle;
	h->close = exec_close;
	h->self = x;
	return 0;
}

struct post_handler {
	cehttp *h;
	int structured;
	buf scratch;
	cekafka_msg msg;
};

static enum consume_result post_handle(void *self, const consume_event *ev, size_t n, char *why,
				       size_t why_cap, int *stop_code)
{
	struct post_handler *p = self;
	for (size_t i = 0; i < n; i++) {
		errinfo e;
		if (cekafka_encode(&p->msg, ev[i].json, ev[i].json_len,
				   p->structured ? CEKAFKA_STRUCTURED : CEKAFKA_BINARY, &p->scratch, &e) != 0) {
			snprintf(why, why_cap, "%s", e.text);
			return CONSUME_DEAD;
		}
		char tp[TRACEPARENT_LEN + 1];
		traceparent_format(&ev[i].hop, tp);
		cehttp_header extra[1] = { { "traceparent", tp } };
		cehttp_outcome out;
		cehttp_result r = cepost_send(p->h, &p->msg, p->structured, ev[i].json, ev[i].json_len,
					      extra, 1, &out, &e);
		if (r == CEHTTP_OK)
			continue;
		snprintf(why, why_cap, "%s", e.text);
		/* Wrong credentials (401/403) or a redirect (the URL is wrong) are
		 * not the event's fault: stop rather than dead-letter everything. */
		if (r == CEHTTP_PERMANENT && (out.auth || (out.status >= 300 && out.status < 400))) {
			*stop_code = out.auth ? EXIT_NOPERM : EXIT_CONFIG;
			return CONSUME_STOP;
		}
		/* A batch is all or nothing: earlier events of it are posted again
		 * on a retry (the receiver sees them at least once). */
		return r == CEHTTP_RETRY ? CONSUME_RETRY : CONSUME_DEAD;
	}
	return CONSUME_OK;
}

static void post_close(void *self)
{
	struct post_handler *p = self;
	if (!p)
		return;
	cehttp_free(p->h);
	buf_free(&p->scratch);
	free(p);
}

int handler_post_new(consume_handler *h, const char *url, int structured, uint64_t timeout_ms,
		     errinfo *err)
{
	struct post_handler *p = calloc(1, sizeof *p);
	if (!p)
		return errinfo_set(err, EXIT_SOFTWARE, "out of memory");
	buf_init(&p->scratch, 256u << 20);
	p->structured = structured;
	cehttp_options opt = { url, NULL, 0, (long)timeout_ms };
	int rc = cehttp_new(&p->h, &opt, err);
	if (rc) {
		buf_free(&p->scratch);
		free(p);
		return rc;
	}
	h->handle = post_handle;
	h->close = post_close;
	h->self = p;
	return 0;
}
