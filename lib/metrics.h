/* metrics.h - counters, gauges and histograms written in the Prometheus
 * text exposition format 0.0.4 (for node_exporter's textfile collector,
 * and `status --prometheus` on stdout).
 *
 * Ownership: a registry owns every family and series it holds, with copies
 * of all names, help texts, label names, label values and bucket bounds it
 * was given; metrics_free() releases them. A metrics_series pointer is a
 * handle into the registry: it stays valid, at the same address, until
 * metrics_free(), so callers keep it and update through it. Nothing here
 * keeps a pointer to caller memory.
 *
 * Hot path: metrics_inc/add/set/observe touch one series through its
 * handle: no lookup, no allocation, no formatting. metrics_series_get()
 * (label values -> handle) hashes and compares but allocates only the
 * first time a label set is seen.
 *
 * Bounds: a registry holds at most max_series series (metrics_new; 0 means
 * METRICS_DEFAULT_MAX_SERIES) and METRICS_MAX_FAMILIES families. When it is
 * full, a new label set is not refused: it is folded into its family's
 * overflow series, whose every label value is METRICS_OVERFLOW_VALUE, and
 * metrics_folded() counts those lookups. Totals stay right; only the
 * breakdown is lost, and the output never grows past the bound.
 *
 * Threads: none; a registry belongs to one thread at a time.
 *
 * Output (metrics_write): families in creation order, each with "# HELP"
 * and "# TYPE", series in creation order; values as the shortest decimal
 * that reads back to the same double ("+Inf", "-Inf", "NaN"); label values
 * escaped as the format requires (\\, \", \n); histogram buckets
 * cumulative, then "+Inf", _sum and _count; no timestamps.
 *
 * Errors: functions returning int return 0 or an exitcode.h value and fill
 * err (when given).
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "diag.h"

#define METRICS_DEFAULT_MAX_SERIES 4096
#define METRICS_MAX_FAMILIES 256
#define METRICS_MAX_LABELS 8
#define METRICS_MAX_BUCKETS 64
#define METRICS_OVERFLOW_VALUE "__overflow__"

typedef enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM
} metrics_type;

typedef struct metrics metrics;
typedef struct metrics_family metrics_family;

/* One series; the fields are the registry's, read them, do not write. */
typedef struct metrics_series {
	metrics_family *family;
	char **values;         /* label values, one per label name */
	double value;          /* counter or gauge */
	double sum;            /* histogram */
	uint64_t count;        /* histogram: observations */
	uint64_t *buckets;     /* histogram: per-bucket (not cumulative) counts,
				* nbuckets + 1 (the last is +Inf) */
	int visible;           /* written out (an unused overflow series is not) */
} metrics_series;

/* A new, empty registry; NULL when out of memory. */
metrics *metrics_new(size_t max_series);
void metrics_free(metrics *m);

/* Add a family. name [a-zA-Z_:][a-zA-Z0-9_:]*, unique in the registry;
 * label names [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", unique, and
 * not "le" for a histogram; at most METRICS_MAX_LABELS. buckets (histogram
 * only) are the finite upper bounds, strictly increasing, at most
 * METRICS_MAX_BUCKETS; +Inf is added. A family without labels gets its one
 * series at once (written as 0 until updated). EXIT_SOFTWARE for a
 * programming error or out of memory, naming the family. */
int metrics_family_new(metrics *m, metrics_family **out, metrics_type type, const char *name,
		       const char *help, const char *const *label_names, size_t nlabels,
		       const double *buckets, size_t nbuckets, errinfo *err);

/* The series of family f with these label values (nlabels of them, any
 * bytes, NUL-terminated), created at the first call. Never NULL except out
 * of memory: past the registry's bound it is the overflow series. */
metrics_series *metrics_series_get(metrics *m, metrics_family *f, const char *const *values);

/* The series of a family without labels; NULL for a labelled family. */
metrics_series *metrics_family_series(metrics_family *f);

/* Hot-path updates. inc/add are for counters (add ignores negative and NaN
 * amounts: a counter never goes down), set/add for gauges (metrics_gauge_add
 * takes any sign), observe for histograms (a NaN observation is dropped). */
static inline void metrics_inc(metrics_series *s) { s->value += 1.0; }
static inline void metrics_add(metrics_series *s, double v) { if (v > 0) s->value += v; }
static inline void metrics_set(metrics_series *s, double v) { s->value = v; }
static inline void metrics_gauge_add(metrics_series *s, double v) { s->value += v; }
void metrics_observe(metrics_series *s, double v);

/* How many lookups were folded into an overflow series. */
uint64_t metrics_folded(const metrics *m);

/* Write the exposition text to f. 0, or EXIT_IOERR when f reports a write
 * error (the text may then be incomplete: use metrics_write_file for a
 * file that must never be seen half-written). */
int metrics_write(const metrics *m, FILE *f, errinfo *err);

/* Replace path atomically: write a temporary file in the same directory
 * (".NAME.XXXXXX", which node_exporter ignores: it reads only *.prom),
 * fsync it, chmod it to mode (0 means 0600), rename it over path, fsync
 * the directory. On any failure the temporary file is removed and path is
 * left as it was. EXIT_CANTCREAT (73) when the directory does not let us
 * create the file (missing, not a directory, permission, read-only file
 * system), EXIT_IOERR (74) when writing, syncing or renaming fails (disk
 * full, I/O error); the message names path and the reason. */
int metrics_write_file(const metrics *m, const char *path, mode_t mode, errinfo *err);

#endif
