/* relay_metrics.c - see relay_metrics.h. */
#include "relay_metrics.h"
#include "exitcode.h"
#include "metrics.h"
#include "timefmt.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Series per binding, looked up by the binding's address. */
#define CACHE_SLOTS 256

struct relay_metrics {
	metrics *reg;
	char *path;
	char *table;
	metrics_family *published, *errors, *latency, *batch, *pending, *oldest, *last_write;
	metrics_series *published_none;
	struct {
		const binding *b;
		metrics_series *s;
	} cache[CACHE_SLOTS];
	int64_t written_us;
	int last_status;       /* the last write's: a skipped write repeats it */
	errinfo last_err;
};

static const double latency_buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
					  10, 30, 60, 300, 1800, 3600 };
static const double batch_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
					1, 2.5, 5 };

relay_metrics *relay_metrics_new(const char *path, const char *table, errinfo *err)
{
	relay_metrics *m = calloc(1, sizeof *m);
	if (!m || !(m->reg = metrics_new(0)) || !(m->path = strdup(path)) ||
	    !(m->table = strdup(table))) {
		errinfo_set(err, EXIT_SOFTWARE, "out of memory");
		relay_metrics_free(m);
		return NULL;
	}
	const char *type_topic[] = { "table", "type", "topic" };
	const char *reason[] = { "table", "reason" };
	const char *tbl[] = { "table" };
	int s = metrics_family_new(m->reg, &m->published, METRICS_COUNTER,
				   "outbox_relay_events_published_total",
				   "Events whose delivery was confirmed, by type and topic.", type_topic,
				   3, NULL, 0, err);
	if (!s)
		s = metrics_family_new(m->reg, &m->errors, METRICS_COUNTER,
				       "outbox_relay_publish_errors_total",
				       "Failed delivery attempts, by reason.", reason, 2, NULL, 0, err);
	if (!s)
		s = metrics_family_new(m->reg, &m->latency, METRICS_HISTOGRAM,
				       "outbox_relay_publish_latency_seconds",
				       "From the row's created_at to its delivery report.", tbl, 1,
				       latency_buckets, sizeof latency_buckets / sizeof *latency_buckets,
				       err);
	if (!s)
		s = metrics_family_new(m->reg, &m->batch, METRICS_HISTOGRAM,
				       "outbox_relay_batch_duration_seconds",
				       "Time to read a batch of rows and hand it to the sink.", tbl, 1,
				       batch_buckets, sizeof batch_buckets / sizeof *batch_buckets, err);
	if (!s)
		s = metrics_family_new(m->reg, &m->pending, METRICS_GAUGE, "outbox_relay_outbox_pending",
				       "Pending rows in the outbox table.", tbl, 1, NULL, 0, err);
	if (!s)
		s = metrics_family_new(m->reg, &m->oldest, METRICS_GAUGE,
				       "outbox_relay_oldest_pending_age_seconds",
				       "Age of the oldest pending row (0 when none).", tbl, 1, NULL, 0, err);
	if (!s)
		s = metrics_family_new(m->reg, &m->last_write, METRICS_GAUGE,
				       "outbox_relay_last_write_timestamp_seconds",
				       "When this file was written.", tbl, 1, NULL, 0, err);
	if (s) {
		relay_metrics_free(m);
		return NULL;
	}
	return m;
}

static metrics_series *one(relay_metrics *m, metrics_family *f)
{
	const char *v[] = { m->table };
	return metrics_series_get(m->reg, f, v);
}

void relay_metrics_sent(relay_metrics *m, const binding *b, int64_t created_us)
{
	metrics_series *s;
	size_t slot = ((uintptr_t)b >> 4) % CACHE_SLOTS;
	if (b && m->cache[slot].b == b) {
		s = m->cache[slot].s;
	} else {
		const char *v[] = { m->table, b ? b->event_type : "", b ? b->topic : "" };
		s = metrics_series_get(m->reg, m->published, v);
		if (b) {
			m->cache[slot].b = b;
			m->cache[slot].s = s;
		}
	}
	if (s)
		metrics_inc(s);
	if (created_us > 0 && (s = one(m, m->latency)) != NULL)
		metrics_observe(s, (double)(timefmt_now_us() - created_us) / 1e6);
}

void relay_metrics_error(relay_metrics *m, const char *reason)
{
	const char *v[] = { m->table, reason ? reason : "unknown" };
	metrics_series *s = metrics_series_get(m->reg, m->errors, v);
	if (s)
		metrics_inc(s);
}

void relay_metrics_batch(relay_metrics *m, double seconds)
{
	metrics_series *s = one(m, m->batch);
	if (s)
		metrics_observe(s, seconds);
}

int relay_metrics_write(relay_metrics *m, sqlite3 *db, const char *qtable, uint64_t min_interval_ms,
			errinfo *err)
{
	int64_t now = timefmt_now_us();
	if (min_interval_ms && now - m->written_us < (int64_t)min_interval_ms * 1000) {
		if (m->last_status && err)
			*err = m->last_err;
		return m->last_status;
	}
	/* Both through the partial index on pending rows: cheap at any size. */
	char sql[256];
	snprintf(sql, sizeof sql,
		 "SELECT count(*), min(created_at) FROM %s WHERE status = 'pending'", qtable);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		metrics_series *s = one(m, m->pending);
		if (s)
			metrics_set(s, (double)sqlite3_column_int64(st, 0));
		const char *oldest = (const char *)sqlite3_column_text(st, 1);
		int64_t at;
		if ((s = one(m, m->oldest)) != NULL)
			metrics_set(s, oldest && rfc3339_parse_us(oldest, strlen(oldest), &at) == 0 && at < now
					       ? (double)(now - at) / 1e6
					       : 0);
	}
	sqlite3_finalize(st);
	metrics_series *s = one(m, m->last_write);
	if (s)
		metrics_set(s, (double)now / 1e6);
	m->written_us = now;
	m->last_status = metrics_write_file(m->reg, m->path, 0, &m->last_err);
	if (m->last_status && err)
		*err = m->last_err;
	return m->last_status;
}

void relay_metrics_free(relay_metrics *m)
{
	if (!m)
		return;
	metrics_free(m->reg);
	free(m->path);
	free(m->table);
	free(m);
}
