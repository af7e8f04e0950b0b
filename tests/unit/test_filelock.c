/* test_filelock.c - shared holds and the "am I alone?" probe, across two
 * processes (OFD locks do not conflict within one description). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitcode.h"
#include "filelock.h"
#include "unit.h"

static char path[] = "/tmp/test_filelock.XXXXXX";

/* A child that takes a shared hold on name, says so on the pipe, and keeps
 * it until killed. */
static pid_t sharer(const char *name)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		filelock l;
		errinfo e;
		char ok = filelock_share(&l, path, name, &e) == 0 ? 'y' : 'n';
		if (write(p[1], &ok, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	char c = 0;
	if (pid < 0 || read(p[0], &c, 1) != 1 || c != 'y') {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* 1 when a child process cannot take name's byte exclusively: someone
 * holds it. */
static int held_by_someone(const char *name)
{
	pid_t pid = fork();
	if (pid == 0) {
		filelock b;
		errinfo e;
		_exit(filelock_take(&b, path, name, FILELOCK_TRY, &e) == EXIT_NO ? 0 : 1);
	}
	int st = -1;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Our shared hold on "users", then another process's on other_name. */
static pid_t share_with(filelock *l, const char *other_name)
{
	errinfo e;
	CHECK_INT(filelock_share(l, path, "users", &e), 0);
	pid_t other = sharer(other_name);
	CHECK(other > 0);
	return other;
}

static void test_alone_until_another_shares(void)
{
	filelock l;
	errinfo e;
	CHECK_INT(filelock_share(&l, path, "users", &e), 0);
	CHECK_INT(filelock_alone(&l), 1);
	CHECK_INT(filelock_alone(&l), 1); /* the probe gives the hold back */
	filelock_release(&l);
	pid_t other = share_with(&l, "users");
	CHECK_INT(filelock_alone(&l), 0);
	stop(other);
	/* the failed probe kept our own shared hold */
	CHECK_INT(held_by_someone("users"), 1);
	/* the kernel dropped the dead process's hold */
	CHECK_INT(filelock_alone(&l), 1);
	filelock_release(&l);
	CHECK_INT(held_by_someone("users"), 0);
	CHECK_INT(filelock_alone(&l), 0); /* not held: never alone */
}

static void test_other_names_do_not_count(void)
{
	filelock l;
	pid_t other = share_with(&l, "someone else");
	CHECK_INT(filelock_alone(&l), 1);
	stop(other);
	filelock_release(&l);
}

/* A shared hold coexists with another's; an exclusive lifetime lock on the
 * same name (filelock_take) is refused while anyone shares it. */
static void test_share_and_take(void)
{
	filelock a;
	stop(share_with(&a, "users"));
	CHECK_INT(held_by_someone("users"), 1);
	filelock_release(&a);
}

static void test_missing_file(void)
{
	filelock l;
	errinfo e;
	CHECK(filelock_share(&l, "/nonexistent/dir/store.db", "users", &e) != 0);
	CHECK_INT(l.fd, -1);
}

int main(void)
{
	int fd = mkstemp(path);
	if (fd < 0)
		return 70;
	close(fd);
	RUN(test_alone_until_another_shares);
	RUN(test_other_names_do_not_count);
	RUN(test_share_and_take);
	RUN(test_missing_file);
	unlink(path);
	return unit_done();
}
