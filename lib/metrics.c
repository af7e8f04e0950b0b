/* metrics.c - see metrics.h */
#include "metrics.h"
#include "exitcode.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct metrics_family {
	metrics_type type;
	unsigned index;
	char *name, *help;
	char **labels;
	size_t nlabels;
	double *bounds;
	size_t nbounds;
	metrics_series **series; /* creation order */
	size_t nseries, cap;
	metrics_series *overflow; /* labelled families only */
};

struct metrics {
	size_t max_series, nseries;
	metrics_family *fam[METRICS_MAX_FAMILIES];
	size_t nfam;
	metrics_series **table; /* open addressing, tmask + 1 slots */
	size_t tmask;
	uint64_t folded;
};

metrics *metrics_new(size_t max_series)
{
	metrics *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->max_series = max_series ? max_series : METRICS_DEFAULT_MAX_SERIES;
	/* At most half full, so probes stay short. */
	size_t cap = 16;
	while (cap < 2 * m->max_series)
		cap *= 2;
	m->table = calloc(cap, sizeof *m->table);
	if (!m->table) {
		free(m);
		return NULL;
	}
	m->tmask = cap - 1;
	return m;
}

static void series_free(metrics_series *s, size_t nlabels)
{
	if (!s)
		return;
	if (s->values)
		for (size_t i = 0; i < nlabels; i++)
			free(s->values[i]);
	free(s->values);
	free(s->buckets);
	free(s);
}

static void family_free(metrics_family *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nseries; i++)
		series_free(f->series[i], f->nlabels);
	free(f->series);
	if (f->labels)
		for (size_t i = 0; i < f->nlabels; i++)
			free(f->labels[i]);
	free(f->labels);
	free(f->bounds);
	free(f->name);
	free(f->help);
	free(f);
}

void metrics_free(metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nfam; i++)
		family_free(m->fam[i]);
	free(m->table);
	free(m);
}

static uint64_t hash_labels(unsigned fam, size_t n, const char *const *values)
{
	uint64_t h = 14695981039346656037ULL ^ fam;
	h *= 1099511628211ULL;
	for (size_t i = 0; i < n; i++) {
		for (const unsigned char *p = (const unsigned char *)values[i]; *p; p++) {
			h ^= *p;
			h *= 1099511628211ULL;
		}
		h ^= 0xff; /* separator: ("ab","") differs from ("a","b") */
		h *= 1099511628211ULL;
	}
	return h;
}

static int same_labels(const metrics_series *s, size_t n, const char *const *values)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->values[i], values[i]) != 0)
			return 0;
	return 1;
}

/* The slot holding f's series with these values, or the empty slot where
 * it belongs. The table never fills (twice the series bound). */
static metrics_series **slot_for(metrics *m, metrics_family *f, const char *const *values)
{
	size_t i = (size_t)hash_labels(f->index, f->nlabels, values) & m->tmask;
	for (;;) {
		metrics_series *s = m->table[i];
		if (!s || (s->family == f && same_labels(s, f->nlabels, values)))
			return &m->table[i];
		i = (i + 1) & m->tmask;
	}
}

/* A new series of f (counted against the bound by the caller). */
static metrics_series *series_new(metrics_family *f, const char *const *values)
{
	metrics_series *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->family = f;
	s->visible = 1;
	if (f->nlabels) {
		s->values = calloc(f->nlabels, sizeof *s->values);
		if (!s->values)
			goto oom;
		for (size_t i = 0; i < f->nlabels; i++)
			if (!(s->values[i] = strdup(values[i])))
				goto oom;
	}
	if (f->type == METRICS_HISTOGRAM &&
	    !(s->buckets = calloc(f->nbounds + 1, sizeof *s->buckets)))
		goto oom;
	if (f->nseries == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 4;
		metrics_series **p = realloc(f->series, cap * sizeof *p);
		if (!p)
			goto oom;
		f->series = p;
		f->cap = cap;
	}
	f->series[f->nseries++] = s;
	return s;
oom:
	series_free(s, f->nlabels);
	return NULL;
}

static int valid_name(const char *s, int colon)
{
	if (!s || !*s)
		return 0;
	for (const char *p = s; *p; p++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			 (colon && c == ':') || (p != s && c >= '0' && c <= '9');
		if (!ok)
			return 0;
	}
	return 1;
}

int metrics_family_new(metrics *m, metrics_family **out, metrics_type type, const char *name,
		       const char *help, const char *const *label_names, size_t nlabels,
		       const double *buckets, size_t nbuckets, errinfo *err)
{
	*out = NULL;
	const char *nm = name ? name : "";
	if (!valid_name(nm, 1))
		return errinfo_set(err, EXIT_SOFTWARE, "metrics: bad metric name \"%.64s\"", nm);
	for (size_t i = 0; i < m->nfam; i++)
		if (strcmp(m->fam[i]->name, nm) == 0)
			return errinfo_set(err, EXIT_SOFTWARE, "metrics: %s defined twice", nm);
	if (m->nfam == METRICS_MAX_FAMILIES)
		return errinfo_set(err, EXIT_SOFTWARE, "metrics: %s: more than %d families", nm,
				   METRICS_MAX_FAMILIES);
	if (m->nseries + 1 > m->max_series)
		return errinfo_set(err, EXIT_SOFTWARE, "metrics: %s: the registry is full (%zu series)",
				   nm, m->max_series);
	if (type != METRICS_COUNTER && type != METRICS_GAUGE && type != METRICS_HISTOGRAM)
		return errinfo_set(err, EXIT_SOFTWARE, "metrics: %s: unknown type", nm);
	if (nlabels > METRICS_MAX_LABELS)
		return errinfo_set(err, EXIT_SOFTWARE, "metrics: %s: more than %d labels", nm,
				   METRICS_MAX_LABELS);
	for (size_t i = 0; i < nlabels; i++) {
		const char *l = label_names[i];
		if (!valid_name(l, 0) || strncmp(l, "__", 2) == 0 ||
		    (type == METRICS_HISTOGRAM && strcmp(l, "le") == 0))
			return errinfo_set(err, EXIT_SOFTWARE, "metrics: %s: bad label name \"%.64s\"",
					   nm, l ? l : "");
		for (size_t k = 0; k < i; k++)
			if (strcmp(label_names[k], l) == 0)
				return errinfo_set(err, EXIT_SOFTWARE, "metrics: %s: label %s twice",
						   nm, l);
	}
	if (type != METRICS_HISTOGRAM)
		nbuckets = 0;
	if (nbuckets > METRICS_MAX_BUCKETS)
		return errinfo_set(err, EXIT_SOFTWARE, "metrics: %s: more than %d buckets", nm,
				   METRICS_MAX_BUCKETS);
	for (size_t i = 0; i < nbuckets; i++)
		if (!isfinite(buckets[i]) || (i && !(buckets[i] > buckets[i - 1])))
			return errinfo_set(err, EXIT_SOFTWARE,
					   "metrics: %s: buckets must be finite and increasing", nm);

	metrics_family *f = calloc(1, sizeof *f);
	if (!f)
		goto oom;
	f->type = type;
	f->index = (unsigned)m->nfam;
	f->name = strdup(nm);
	f->help = strdup(help ? help : "");
	if (!f->name || !f->help)
		goto oom;
	if (nlabels) {
		if (!(f->labels = calloc(nlabels, sizeof *f->labels)))
			goto oom;
		f->nlabels = nlabels;
		for (size_t i = 0; i < nlabels; i++)
			if (!(f->labels[i] = strdup(label_names[i])))
				goto oom;
	}
	if (nbuckets) {
		if (!(f->bounds = malloc(nbuckets * sizeof *f->bounds)))
			goto oom;
		memcpy(f->bounds, buckets, nbuckets * sizeof *f->bounds);
		f->nbounds = nbuckets;
	}
	/* A family without labels has exactly one series, there from the
	 * start; a labelled one reserves its overflow series now, so folding
	 * never needs room that is not there. */
	const char *ov[METRICS_MAX_LABELS] = { NULL };
	for (size_t i = 0; i < nlabels; i++)
		ov[i] = METRICS_OVERFLOW_VALUE;
	metrics_series *s = series_new(f, ov);
	if (!s)
		goto oom;
	if (nlabels) {
		s->visible = 0;
		f->overflow = s;
	}
	*slot_for(m, f, ov) = s;
	m->nseries++;
	m->fam[m->nfam++] = f;
	*out = f;
	return 0;
oom:
	family_free(f);
	return errinfo_set(err, EXIT_SOFTWARE, "metrics: %s: out of memory", nm);
}

metrics_series *metrics_family_series(metrics_family *f)
{
	return f->nlabels == 0 ? f->series[0] : NULL;
}

metrics_series *metrics_series_get(metrics *m, metrics_family *f, const char *const *values)
{
	metrics_series **slot = slot_for(m, f, values);
	if (*slot) {
		(*slot)->visible = 1;
		return *slot;
	}
	if (m->nseries >= m->max_series) {
		m->folded++;
		f->overflow->visible = 1;
		return f->overflow;
	}
	metrics_series *s = series_new(f, values);
	if (!s)
		return NULL;
	*slot = s;
	m->nseries++;
	return s;
}

void metrics_observe(metrics_series *s, double v)
{
	const metrics_family *f = s->family;
	if (isnan(v) || !s->buckets)
		return;
	/* First bound >= v; the +Inf bucket when none. */
	size_t lo = 0, hi = f->nbounds;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v <= f->bounds[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	s->buckets[lo]++;
	s->count++;
	s->sum += v;
}

uint64_t metrics_folded(const metrics *m)
{
	return m->folded;
}

/* The shortest of %.15g..%.17g that reads back as v (Go and Python
 * parsers take the result; integers print without a fraction). */
static const char *fmt_double(char out[40], double v)
{
	if (isnan(v))
		return "NaN";
	if (isinf(v))
		return v > 0 ? "+Inf" : "-Inf";
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, 40, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			break;
	}
	return out;
}

static void put_escaped(FILE *f, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (quote && *s == '"')
			fputs("\\\"", f);
		else
			putc(*s, f);
	}
}

static void put_labels(FILE *f, const metrics_family *fam, const metrics_series *s,
		       const char *le)
{
	if (fam->nlabels == 0 && !le)
		return;
	putc('{', f);
	for (size_t i = 0; i < fam->nlabels; i++) {
		fprintf(f, "%s%s=\"", i ? "," : "", fam->labels[i]);
		put_escaped(f, s->values[i], 1);
		putc('"', f);
	}
	if (le)
		fprintf(f, "%sle=\"%s\"", fam->nlabels ? "," : "", le);
	putc('}', f);
}

static void put_family(FILE *f, const metrics_family *fam)
{
	static const char *const tn[] = { "counter", "gauge", "histogram" };
	char num[40];
	fprintf(f, "# HELP %s ", fam->name);
	put_escaped(f, fam->help, 0);
	fprintf(f, "\n# TYPE %s %s\n", fam->name, tn[fam->type]);
	for (size_t k = 0; k < fam->nseries; k++) {
		const metrics_series *s = fam->series[k];
		if (!s->visible)
			continue;
		if (fam->type != METRICS_HISTOGRAM) {
			fputs(fam->name, f);
			put_labels(f, fam, s, NULL);
			fprintf(f, " %s\n", fmt_double(num, s->value));
			continue;
		}
		uint64_t cum = 0;
		for (size_t b = 0; b <= fam->nbounds; b++) {
			char le[40];
			cum += s->buckets[b];
			fprintf(f, "%s_bucket", fam->name);
			put_labels(f, fam, s, b < fam->nbounds ? fmt_double(le, fam->bounds[b]) : "+Inf");
			fprintf(f, " %llu\n", (unsigned long long)cum);
		}
		fprintf(f, "%s_sum", fam->name);
		put_labels(f, fam, s, NULL);
		fprintf(f, " %s\n", fmt_double(num, s->sum));
		fprintf(f, "%s_count", fam->name);
		put_labels(f, fam, s, NULL);
		fprintf(f, " %llu\n", (unsigned long long)s->count);
	}
}

int metrics_write(const metrics *m, FILE *f, errinfo *err)
{
	for (size_t i = 0; i < m->nfam; i++)
		put_family(f, m->fam[i]);
	if (fflush(f) != 0 || ferror(f))
		return errinfo_set(err, EXIT_IOERR, "cannot write metrics: %s", strerror(errno));
	return 0;
}

int metrics_write_file(const metrics *m, const char *path, mode_t mode, errinfo *err)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) : 0;
	const char *base = slash ? slash + 1 : path;
	if (!*base)
		return errinfo_set(err, EXIT_CANTCREAT, "%s: not a file name", path);
	size_t tlen = dlen + strlen(base) + 16;
	char *tmp = malloc(tlen);
	if (!tmp)
		return errinfo_set(err, EXIT_SOFTWARE, "%s: out of memory", path);
	if (slash)
		snprintf(tmp, tlen, "%.*s/.%s.XXXXXX", (int)dlen, path, base);
	else
		snprintf(tmp, tlen, ".%s.XXXXXX", base);
	if (slash && dlen == 0) /* "/name": the directory is the root */
		snprintf(tmp, tlen, "/.%s.XXXXXX", base);

	int fd = mkstemp(tmp);
	if (fd < 0) {
		int e = errno;
		/* No room or a broken disk is an I/O error; anything about the
		 * directory itself (missing, not one, not ours, read-only) means
		 * we cannot create the output. */
		int code = e == ENOSPC || e == EDQUOT || e == EIO ? EXIT_IOERR : EXIT_CANTCREAT;
		errinfo_set(err, code, "%s: cannot create a temporary file beside it: %s", path,
			    strerror(e));
		free(tmp);
		return code;
	}
	const char *step = "cannot write";
	int e = 0;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		e = errno;
		close(fd);
	} else {
		errinfo werr;
		if (fchmod(fd, mode ? mode : 0600) != 0)
			e = errno, step = "cannot set the mode of";
		else if (metrics_write(m, f, &werr) != 0)
			e = errno ? errno : EIO;
		else if (fsync(fd) != 0)
			e = errno, step = "cannot sync";
		if (fclose(f) != 0 && !e)
			e = errno;
	}
	if (!e && rename(tmp, path) != 0)
		e = errno, step = "cannot replace";
	if (e) {
		unlink(tmp);
		free(tmp);
		return errinfo_set(err, EXIT_IOERR, "%s: %s: %s (the old file is unchanged)", path,
				   step, strerror(e));
	}
	free(tmp);
	/* Make the rename itself durable. The new file is already in place,
	 * so a directory that cannot be synced is not reported. */
	char dir[4096];
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(dlen ? dlen : 1) : 1, slash ? path : ".");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
}
