/* test_metrics.c - Prometheus text output (whole text asserted), label
 * escaping, bounds, and the atomic file replacement under real failures. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "exitcode.h"
#include "metrics.h"
#include "unit.h"

static char *render(const metrics *m)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	errinfo err;
	int rc = metrics_write(m, f, &err);
	fclose(f);
	if (rc != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	buf b;
	buf_init(&b, 0);
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	if (!b.data)
		buf_append(&b, "", 0);
	return b.data;
}

static int spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Files in dir other than "." and ".."; the names, newline-separated. */
static int dir_entries(const char *dir, char *names, size_t cap)
{
	DIR *d = opendir(dir);
	int n = 0;
	names[0] = '\0';
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		n++;
		size_t l = strlen(names);
		snprintf(names + l, cap - l, "%s\n", e->d_name);
	}
	closedir(d);
	return n;
}

static const double latency[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60 };

static metrics *sample(void)
{
	metrics *m = metrics_new(0);
	metrics_family *sent, *lag, *dur, *up;
	errinfo err;
	const char *lbl[] = { "topic", "result" };
	const char *tl[] = { "topic" };
	CHECK_INT(metrics_family_new(m, &sent, METRICS_COUNTER, "outbox_relay_events_total",
				     "Events handled, by topic and result.", lbl, 2, NULL, 0, &err), 0);
	CHECK_INT(metrics_family_new(m, &lag, METRICS_GAUGE, "outbox_pending_events",
				     "Rows waiting to be sent.", NULL, 0, NULL, 0, &err), 0);
	CHECK_INT(metrics_family_new(m, &dur, METRICS_HISTOGRAM, "outbox_relay_delivery_seconds",
				     "Time from produce to delivery report.", tl, 1, latency, 10, &err), 0);
	CHECK_INT(metrics_family_new(m, &up, METRICS_GAUGE, "outbox_relay_up", "1 while running.\nSecond line \\ backslash.",
				     NULL, 0, NULL, 0, &err), 0);
	const char *a[] = { "wallet-created-events", "sent" };
	const char *b[] = { "wallet-created-events", "failed" };
	metrics_series *sa = metrics_series_get(m, sent, a);
	metrics_series *sb = metrics_series_get(m, sent, b);
	CHECK(sa && sb && sa != sb);
	CHECK(metrics_series_get(m, sent, a) == sa);
	for (int i = 0; i < 41; i++)
		metrics_inc(sa);
	metrics_add(sa, 1.5);
	metrics_add(sa, -3); /* a counter never goes down */
	metrics_inc(sb);
	metrics_set(metrics_family_series(lag), 12345);
	metrics_gauge_add(metrics_family_series(lag), -45);
	metrics_set(metrics_family_series(up), 1);
	const char *t[] = { "t1" };
	metrics_series *h = metrics_series_get(m, dur, t);
	metrics_observe(h, 0.0005);  /* <= 0.001 */
	metrics_observe(h, 0.001);   /* on the bound: le is inclusive */
	metrics_observe(h, 0.002);
	metrics_observe(h, 0.75);
	metrics_observe(h, 120);     /* only +Inf */
	metrics_observe(h, NAN);     /* ignored */
	return m;
}

static const char sample_text[] =
	"# HELP outbox_relay_events_total Events handled, by topic and result.\n"
	"# TYPE outbox_relay_events_total counter\n"
	"outbox_relay_events_total{topic=\"wallet-created-events\",result=\"sent\"} 42.5\n"
	"outbox_relay_events_total{topic=\"wallet-created-events\",result=\"failed\"} 1\n"
	"# HELP outbox_pending_events Rows waiting to be sent.\n"
	"# TYPE outbox_pending_events gauge\n"
	"outbox_pending_events 12300\n"
	"# HELP outbox_relay_delivery_seconds Time from produce to delivery report.\n"
	"# TYPE outbox_relay_delivery_seconds histogram\n"
	"outbox_relay_delivery_seconds_bucket{topic=\"t1\",le=\"0.001\"} 2\n"
	"outbox_relay_delivery_seconds_bucket{topic=\"t1\",le=\"0.005\"} 3\n"
	"outbox_relay_delivery_seconds_bucket{topic=\"t1\",le=\"0.01\"} 3\n"
	"outbox_relay_delivery_seconds_bucket{topic=\"t1\",le=\"0.05\"} 3\n"
	"outbox_relay_delivery_seconds_bucket{topic=\"t1\",le=\"0.1\"} 3\n"
	"outbox_relay_delivery_seconds_bucket{topic=\"t1\",le=\"0.5\"} 3\n"
	"outbox_relay_delivery_seconds_bucket{topic=\"t1\",le=\"1\"} 4\n"
	"outbox_relay_delivery_seconds_bucket{topic=\"t1\",le=\"5\"} 4\n"
	"outbox_relay_delivery_seconds_bucket{topic=\"t1\",le=\"10\"} 4\n"
	"outbox_relay_delivery_seconds_bucket{topic=\"t1\",le=\"60\"} 4\n"
	"outbox_relay_delivery_seconds_bucket{topic=\"t1\",le=\"+Inf\"} 5\n"
	"outbox_relay_delivery_seconds_sum{topic=\"t1\"} 120.7535\n"
	"outbox_relay_delivery_seconds_count{topic=\"t1\"} 5\n"
	"# HELP outbox_relay_up 1 while running.\\nSecond line \\\\ backslash.\n"
	"# TYPE outbox_relay_up gauge\n"
	"outbox_relay_up 1\n";

static void test_exposition_text(void)
{
	metrics *m = sample();
	char *text = render(m);
	CHECK_STR(text, sample_text);
	free(text);
	metrics_free(m);
}

static void test_label_escaping_and_numbers(void)
{
	metrics *m = metrics_new(0);
	metrics_family *f, *h;
	errinfo err;
	const char *l[] = { "v" };
	CHECK_INT(metrics_family_new(m, &f, METRICS_GAUGE, "g", "", l, 1, NULL, 0, &err), 0);
	const char *v1[] = { "a\\b\"c\nd" };
	const char *v2[] = { "caf\xc3\xa9 {x=1}" };
	const char *v3[] = { "" };
	metrics_set(metrics_series_get(m, f, v1), 0.1);
	metrics_set(metrics_series_get(m, f, v2), -INFINITY);
	metrics_set(metrics_series_get(m, f, v3), NAN);
	const double hb[] = { 0.1, 0.25 };
	CHECK_INT(metrics_family_new(m, &h, METRICS_HISTOGRAM, "ns:h", "x", NULL, 0, hb, 2, &err), 0);
	metrics_series *hs = metrics_family_series(h);
	metrics_observe(hs, 0.1);
	metrics_observe(hs, 0.2);
	char *text = render(m);
	CHECK_STR(text,
		  "# HELP g \n"
		  "# TYPE g gauge\n"
		  "g{v=\"a\\\\b\\\"c\\nd\"} 0.1\n"
		  "g{v=\"caf\xc3\xa9 {x=1}\"} -Inf\n"
		  "g{v=\"\"} NaN\n"
		  "# HELP ns:h x\n"
		  "# TYPE ns:h histogram\n"
		  "ns:h_bucket{le=\"0.1\"} 1\n"
		  "ns:h_bucket{le=\"0.25\"} 2\n"
		  "ns:h_bucket{le=\"+Inf\"} 2\n"
		  "ns:h_sum 0.30000000000000004\n"
		  "ns:h_count 2\n");
	free(text);
	metrics_free(m);
}

static void test_definition_errors(void)
{
	metrics *m = metrics_new(0);
	metrics_family *f;
	errinfo err;
	const char *le[] = { "le" };
	const char *dunder[] = { "__x" };
	const char *dup[] = { "a", "a" };
	const char *bad[] = { "1a" };
	const double notinc[] = { 1, 1 };
	const double inf[] = { 1, INFINITY };
	CHECK_INT(metrics_family_new(m, &f, METRICS_COUNTER, "9x", "", NULL, 0, NULL, 0, &err), EXIT_SOFTWARE);
	CHECK_INT(metrics_family_new(m, &f, METRICS_COUNTER, "a-b", "", NULL, 0, NULL, 0, &err), EXIT_SOFTWARE);
	CHECK_INT(metrics_family_new(m, &f, METRICS_COUNTER, "", "", NULL, 0, NULL, 0, &err), EXIT_SOFTWARE);
	CHECK_INT(metrics_family_new(m, &f, METRICS_HISTOGRAM, "h", "", le, 1, NULL, 0, &err), EXIT_SOFTWARE);
	CHECK_INT(metrics_family_new(m, &f, METRICS_COUNTER, "c", "", dunder, 1, NULL, 0, &err), EXIT_SOFTWARE);
	CHECK_INT(metrics_family_new(m, &f, METRICS_COUNTER, "c", "", dup, 2, NULL, 0, &err), EXIT_SOFTWARE);
	CHECK_INT(metrics_family_new(m, &f, METRICS_COUNTER, "c", "", bad, 1, NULL, 0, &err), EXIT_SOFTWARE);
	CHECK_INT(metrics_family_new(m, &f, METRICS_HISTOGRAM, "h", "", NULL, 0, notinc, 2, &err), EXIT_SOFTWARE);
	CHECK_INT(metrics_family_new(m, &f, METRICS_HISTOGRAM, "h", "", NULL, 0, inf, 2, &err), EXIT_SOFTWARE);
	CHECK(f == NULL);
	CHECK_INT(metrics_family_new(m, &f, METRICS_COUNTER, "c", "", le, 1, NULL, 0, &err), 0);
	CHECK_INT(metrics_family_new(m, &f, METRICS_GAUGE, "c", "", NULL, 0, NULL, 0, &err), EXIT_SOFTWARE);
	CHECK_STR(err.text, "metrics: c defined twice");
	metrics_free(m);
}

/* Past the bound new label sets fold into "__overflow__"; known ones keep
 * their own series; nothing is allocated for the folded ones. */
static void test_series_bound(void)
{
	metrics *m = metrics_new(5);
	metrics_family *f, *g;
	errinfo err;
	const char *l[] = { "k" };
	CHECK_INT(metrics_family_new(m, &f, METRICS_COUNTER, "c", "h", l, 1, NULL, 0, &err), 0);
	CHECK_INT(metrics_family_new(m, &g, METRICS_GAUGE, "g", "h", NULL, 0, NULL, 0, &err), 0);
	/* 2 used (c's overflow, g); room for 3 more. */
	metrics_series *s[6];
	char names[6][16];
	for (int i = 0; i < 6; i++) {
		snprintf(names[i], sizeof names[i], "v%d", i);
		const char *v[] = { names[i] };
		s[i] = metrics_series_get(m, f, v);
		metrics_inc(s[i]);
	}
	CHECK(s[0] != s[1] && s[1] != s[2] && s[2] != s[3]);
	CHECK(s[3] == s[4] && s[4] == s[5]);
	CHECK_INT(metrics_folded(m), 3);
	CHECK(metrics_family_series(f) == NULL);
	CHECK(metrics_family_series(g) != NULL);
	const char *v0[] = { "v0" };
	CHECK(metrics_series_get(m, f, v0) == s[0]);
	metrics_family *x;
	CHECK_INT(metrics_family_new(m, &x, METRICS_GAUGE, "x", "", NULL, 0, NULL, 0, &err), EXIT_SOFTWARE);
	char *text = render(m);
	CHECK_STR(text,
		  "# HELP c h\n"
		  "# TYPE c counter\n"
		  "c{k=\"__overflow__\"} 3\n"
		  "c{k=\"v0\"} 1\n"
		  "c{k=\"v1\"} 1\n"
		  "c{k=\"v2\"} 1\n"
		  "# HELP g h\n"
		  "# TYPE g gauge\n"
		  "g 0\n");
	free(text);
	metrics_free(m);

	/* Unused, the overflow series is not written. */
	m = metrics_new(0);
	CHECK_INT(metrics_family_new(m, &f, METRICS_COUNTER, "c", "h", l, 1, NULL, 0, &err), 0);
	text = render(m);
	CHECK_STR(text, "# HELP c h\n# TYPE c counter\n");
	free(text);
	metrics_free(m);
}

static char tdir[64];

static void test_write_file(void)
{
	metrics *m = sample();
	char path[128], names[512];
	snprintf(path, sizeof path, "%s/relay.prom", tdir);
	errinfo err;
	CHECK_INT(spit(path, "old\n"), 0);
	CHECK_INT(chmod(path, 0644), 0);
	CHECK_INT(metrics_write_file(m, path, 0, &err), 0);
	char *text = slurp(path);
	CHECK_STR(text, sample_text);
	free(text);
	struct stat st;
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	CHECK_INT(dir_entries(tdir, names, sizeof names), 1);
	CHECK_STR(names, "relay.prom\n");
	CHECK_INT(metrics_write_file(m, path, 0644, &err), 0);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0644);
	unlink(path);
	/* A relative path works too (the directory is "."). */
	char cwd[4096];
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	CHECK_INT(chdir(tdir), 0);
	CHECK_INT(metrics_write_file(m, "rel.prom", 0, &err), 0);
	CHECK_INT(chdir(cwd), 0);
	snprintf(path, sizeof path, "%s/rel.prom", tdir);
	text = slurp(path);
	CHECK_STR(text, sample_text);
	free(text);
	unlink(path);
	metrics_free(m);
}

static void test_write_file_cannot_create(void)
{
	metrics *m = sample();
	errinfo err;
	char path[160];
	snprintf(path, sizeof path, "%s/missing/x.prom", tdir);
	CHECK_INT(metrics_write_file(m, path, 0, &err), EXIT_CANTCREAT);
	CHECK(strstr(err.text, path) == err.text);
	CHECK(strstr(err.text, "No such file or directory") != NULL);
	/* A directory where the file should be: the rename fails, nothing
	 * is left behind. */
	char names[512];
	snprintf(path, sizeof path, "%s/adir", tdir);
	CHECK_INT(mkdir(path, 0755), 0);
	CHECK_INT(metrics_write_file(m, path, 0, &err), EXIT_IOERR);
	CHECK(strstr(err.text, "cannot replace") != NULL);
	CHECK_INT(dir_entries(tdir, names, sizeof names), 1);
	rmdir(path);

	/* A directory we may not write to: as root, drop to nobody in a
	 * child, since root ignores the mode bits. */
	char ro[128];
	snprintf(ro, sizeof ro, "%s/ro", tdir);
	CHECK_INT(mkdir(ro, 0755), 0);
	snprintf(path, sizeof path, "%s/x.prom", ro);
	CHECK_INT(spit(path, "old\n"), 0);
	CHECK_INT(chmod(ro, 0555), 0);
	CHECK_INT(chmod(path, 0644), 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(3);
		int rc = metrics_write_file(m, path, 0, &err);
		int ok = rc == EXIT_CANTCREAT && strstr(err.text, "Permission denied") != NULL;
		if (!ok)
			printf("# %d %s\n", rc, err.text);
		_exit(ok ? 0 : 1);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char *text = slurp(path);
	CHECK_STR(text, "old\n");
	free(text);
	CHECK_INT(dir_entries(ro, names, sizeof names), 1);
	chmod(ro, 0755);
	unlink(path);
	rmdir(ro);
	metrics_free(m);
}

/* A write that fails halfway, for any user: the file-size limit makes
 * write(2) fail with EFBIG once the temporary file would pass 100 bytes. */
static void test_write_file_fails_midway(void)
{
	metrics *m = sample();
	char path[128], names[512];
	snprintf(path, sizeof path, "%s/big.prom", tdir);
	CHECK_INT(spit(path, "old\n"), 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = { 100, 100 };
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(3);
		errinfo err;
		int rc = metrics_write_file(m, path, 0, &err);
		int ok = rc == EXIT_IOERR && strstr(err.text, "cannot write") &&
			 strstr(err.text, "the old file is unchanged") && strstr(err.text, path);
		if (!ok)
			printf("# %d %s\n", rc, err.text);
		_exit(ok ? 0 : 1);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char *text = slurp(path);
	CHECK_STR(text, "old\n");
	free(text);
	CHECK_INT(dir_entries(tdir, names, sizeof names), 1);
	CHECK_STR(names, "big.prom\n");
	unlink(path);
	metrics_free(m);
}

/* In a private mount namespace (root, or an unprivileged user namespace):
 * a 64 KiB tmpfs filled up (ENOSPC, 74), then made read-only (EROFS, 73).
 * Runs in a child, so the mounts vanish with it. Exit 0 ok, 1 a check
 * failed, 2 no namespace to be had here. */
static int tmpfs_child(const metrics *m)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (unshare(CLONE_NEWNS) != 0) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
			return 2;
		char map[64];
		snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
		int fd = open("/proc/self/uid_map", O_WRONLY);
		if (fd < 0 || write(fd, map, strlen(map)) < 0)
			return 2;
		close(fd);
		fd = open("/proc/self/setgroups", O_WRONLY);
		if (fd >= 0) {
			if (write(fd, "deny", 4) < 0)
				return 2;
			close(fd);
		}
		snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
		fd = open("/proc/self/gid_map", O_WRONLY);
		if (fd < 0 || write(fd, map, strlen(map)) < 0)
			return 2;
		close(fd);
	}
	if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", tdir, "tmpfs", 0, "size=64k,mode=0755") != 0)
		return 2;
	char path[128], filler[128], names[512];
	snprintf(path, sizeof path, "%s/full.prom", tdir);
	snprintf(filler, sizeof filler, "%s/filler", tdir);
	if (spit(path, "old\n") != 0)
		return 1;
	/* Fill every block that is left. */
	int fd = open(filler, O_WRONLY | O_CREAT, 0600);
	char block[4096];
	memset(block, 'x', sizeof block);
	while (fd >= 0 && write(fd, block, sizeof block) > 0)
		;
	if (fd < 0 || errno != ENOSPC)
		return 1;
	close(fd);
	errinfo err;
	int fails = 0;
	int rc = metrics_write_file(m, path, 0, &err);
	if (rc != EXIT_IOERR || !strstr(err.text, "No space left on device")) {
		printf("# ENOSPC: %d %s\n", rc, err.text);
		fails++;
	}
	char *text = slurp(path);
	if (!text || strcmp(text, "old\n") != 0)
		fails++;
	free(text);
	if (dir_entries(tdir, names, sizeof names) != 2) {
		printf("# left behind: %s", names);
		fails++;
	}
	unlink(filler);
	if (mount("tmpfs", tdir, NULL, MS_REMOUNT | MS_RDONLY, NULL) != 0)
		return 1;
	rc = metrics_write_file(m, path, 0, &err);
	if (rc != EXIT_CANTCREAT || !strstr(err.text, "Read-only file system")) {
		printf("# EROFS: %d %s\n", rc, err.text);
		fails++;
	}
	text = slurp(path);
	if (!text || strcmp(text, "old\n") != 0)
		fails++;
	free(text);
	return fails ? 1 : 0;
}

static void test_write_file_full_and_readonly_fs(void)
{
	metrics *m = sample();
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int rc = tmpfs_child(m);
		fflush(stdout);
		_exit(rc);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 2)
		printf("# no mount namespace here: ENOSPC covered by the EFBIG case only\n");
	else
		CHECK_INT(WEXITSTATUS(st), 0);
	metrics_free(m);
}

static void test_write_stdio_error(void)
{
	metrics *m = sample();
	FILE *f = fopen("/dev/full", "w");
	CHECK(f != NULL);
	if (f) {
		errinfo err;
		CHECK_INT(metrics_write(m, f, &err), EXIT_IOERR);
		CHECK(strstr(err.text, "No space left on device") != NULL);
		fclose(f);
	}
	metrics_free(m);
}

int main(void)
{
	strcpy(tdir, "/tmp/test_metrics.XXXXXX");
	if (!mkdtemp(tdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_exposition_text);
	RUN(test_label_escaping_and_numbers);
	RUN(test_definition_errors);
	RUN(test_series_bound);
	RUN(test_write_file);
	RUN(test_write_file_cannot_create);
	RUN(test_write_file_fails_midway);
	RUN(test_write_file_full_and_readonly_fs);
	RUN(test_write_stdio_error);
	rmdir(tdir);
	return unit_done();
}
