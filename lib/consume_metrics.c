/* consume_metrics.c - see consume_metrics.h. */
#include "consume_metrics.h"
#include "exitcode.h"
#include "metrics.h"
#include "timefmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct consume_metrics {
	metrics *reg;
	char *path;
	char *group;
	metrics_family *events, *handled, *errors, *latency, *dead, *dups, *undecodable, *lag;
	int64_t written_us;
	int last_status;       /* the last write's: a skipped write repeats it */
	errinfo last_err;
	char last_type[256];
	metrics_series *last_type_series;
};

static const double latency_buckets[] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
					  1, 2.5, 5, 10, 30, 60, 300 };

consume_metrics *consume_metrics_new(const char *path, const char *group, errinfo *err)
{
	consume_metrics *m = calloc(1, sizeof *m);
	if (!m || !(m->reg = metrics_new(0)) || !(m->path = strdup(path)) ||
	    !(m->group = strdup(group ? group : ""))) {
		errinfo_set(err, EXIT_SOFTWARE, "out of memory");
		consume_metrics_free(m);
		return NULL;
	}
	const char *g[] = { "group" };
	const char *gt[] = { "group", "type" };
	const char *gr[] = { "group", "reason" };
	const char *gtp[] = { "group", "topic", "partition" };
	int s = metrics_family_new(m->reg, &m->events, METRICS_COUNTER, "event_consume_events_total",
				   "CloudEvents read, by type.", gt, 2, NULL, 0, err);
	if (!s)
		s = metrics_family_new(m->reg, &m->handled, METRICS_COUNTER, "event_consume_handled_total",
				       "Events handled (printed, or the handler succeeded).", g, 1, NULL,
				       0, err);
	if (!s)
		s = metrics_family_new(m->reg, &m->errors, METRICS_COUNTER,
				       "event_consume_handler_errors_total",
				       "Failed handler runs, by reason.", gr, 2, NULL, 0, err);
	if (!s)
		s = metrics_family_new(m->reg, &m->latency, METRICS_HISTOGRAM,
				       "event_consume_handler_latency_seconds",
				       "Time of one successful handler run.", g, 1, latency_buckets,
				       sizeof latency_buckets / sizeof *latency_buckets, err);
	if (!s)
		s = metrics_family_new(m->reg, &m->dead, METRICS_COUNTER,
				       "event_consume_dead_lettered_total",
				       "Events produced to the dead-letter topic.", g, 1, NULL, 0, err);
	if (!s)
		s = metrics_family_new(m->reg, &m->dups, METRICS_COUNTER,
				       "event_consume_duplicates_skipped_total",
				       "Events skipped because the dedupe store had them.", g, 1, NULL, 0,
				       err);
	if (!s)
		s = metrics_family_new(m->reg, &m->undecodable, METRICS_COUNTER,
				       "event_consume_undecodable_total",
				       "Messages that are not valid CloudEvents.", g, 1, NULL, 0, err);
	if (!s)
		s = metrics_family_new(m->reg, &m->lag, METRICS_GAUGE, "event_consume_lag",
				       "End offset minus the next offset to handle, per partition.", gtp,
				       3, NULL, 0, err);
	if (s) {
		consume_metrics_free(m);
		return NULL;
	}
	return m;
}

static void inc(consume_metrics *m, metrics_family *f)
{
	const char *v[] = { m->group };
	metrics_series *s = metrics_series_get(m->reg, f, v);
	if (s)
		metrics_inc(s);
}

void consume_metrics_event(consume_metrics *m, const char *type, size_t type_len)
{
	/* Consecutive events usually share a type: skip the lookup then. */
	if (!m->last_type_series || type_len >= sizeof m->last_type ||
	    strncmp(m->last_type, type, type_len) != 0 || m->last_type[type_len] != '\0') {
		char t[256];
		size_t n = type_len < sizeof t - 1 ? type_len : sizeof t - 1;
		memcpy(t, type, n);
		t[n] = '\0';
		const char *v[] = { m->group, t };
		m->last_type_series = metrics_series_get(m->reg, m->events, v);
		memcpy(m->last_type, t, n + 1);
	}
	if (m->last_type_series)
		metrics_inc(m->last_type_series);
}

void consume_metrics_handled(consume_metrics *m, unsigned long n, double seconds)
{
	const char *v[] = { m->group };
	metrics_series *s = metrics_series_get(m->reg, m->handled, v);
	if (s)
		metrics_add(s, (double)n);
	if (seconds >= 0 && (s = metrics_series_get(m->reg, m->latency, v)) != NULL)
		metrics_observe(s, seconds);
}

void consume_metrics_handler_error(consume_metrics *m, const char *reason)
{
	const char *v[] = { m->group, reason };
	metrics_series *s = metrics_series_get(m->reg, m->errors, v);
	if (s)
		metrics_inc(s);
}

void consume_metrics_dead_lettered(consume_metrics *m)
{
	inc(m, m->dead);
}

void consume_metrics_duplicate(consume_metrics *m)
{
	inc(m, m->dups);
}

void consume_metrics_undecodable(consume_metrics *m)
{
	inc(m, m->undecodable);
}

void consume_metrics_lag(consume_metrics *m, const char *topic, int32_t partition, int64_t lag)
{
	char p[16];
	snprintf(p, sizeof p, "%" PRId32, partition);
	const char *v[] = { m->group, topic, p };
	metrics_series *s = metrics_series_get(m->reg, m->lag, v);
	if (s)
		metrics_set(s, lag < 0 ? 0 : (double)lag);
}

int consume_metrics_write(consume_metrics *m, uint64_t min_interval_ms, errinfo *err)
{
	int64_t now = timefmt_now_us();
	if (min_interval_ms && now - m->written_us < (int64_t)min_interval_ms * 1000) {
		if (m->last_status && err)
			*err = m->last_err;
		return m->last_status;
	}
	m->written_us = now;
	m->last_status = metrics_write_file(m->reg, m->path, 0, &m->last_err);
	if (m->last_status && err)
		*err = m->last_err;
	return m->last_status;
}

void consume_metrics_free(consume_metrics *m)
{
	if (!m)
		return;
	metrics_free(m->reg);
	free(m->path);
	free(m->group);
	free(m);
}
