/* dedupe.h - the consumer's idempotency store: (source, id) of every
 * event handled, in a SQLite file of its own (event-consume --dedupe).
 *
 * A consumer that commits offsets only after handling delivers at least
 * once: after a crash or a rebalance an event may come again. With the
 * store, an event whose (source, id) is recorded is skipped. The record is
 * written right after the handler succeeded and before the offset is
 * stored, so a crash between the two makes the event come again and be
 * skipped, never handled twice by a handler that finished.
 *
 * Ownership: a dedupe owns its connection and statements; dedupe_close()
 * releases them. Nothing passed in is kept.
 *
 * Durability: WAL with synchronous=NORMAL. A commit is in the WAL file
 * when it returns, so a crash of the process (SIGKILL) loses nothing; a
 * power loss may lose the last transactions, which can only make their
 * events come again and be handled again: still at least once.
 *
 * Size: rows carry the time they were recorded; dedupe_expire() deletes
 * rows older than the TTL in bounded chunks.
 */
#ifndef DEDUPE_H
#define DEDUPE_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

typedef struct dedupe dedupe;

/* Open (creating with mode 0600) the store at path. NULL with err set:
 * 73 cannot create, 74 not a database or I/O, 75 locked, 77 permission. */
dedupe *dedupe_open(const char *path, unsigned busy_ms, errinfo *err);

/* Put an in-memory filter (bloom.h, 4 MiB) in front of dedupe_seen(), for
 * the connection that looks events up: a key the filter has never seen
 * is new without a B-tree lookup. The filter learns every key
 * dedupe_seen() finds new (the keys about to be recorded) and, once this
 * connection has made enough lookups to pay for it (at least 8,192, and a
 * quarter of the store's estimated size), every key in the store, read in
 * one scan; from then on it answers. It is trusted only while this
 * process is the only one using the store: each user holds a shared lock
 * on one byte of the file (filelock.h), and dedupe_release() checks that
 * no one else does. Another process using the store, or more than
 * 4,194,304 keys in it, turns the filter off for good (a lookup for every
 * event, as without it). 0, or an exit code with err set (the lock). */
int dedupe_filter_start(dedupe *d, errinfo *err);

/* The hash of a key, for the filter and the caller's own sets of keys
 * (in memory only: it may change between versions). Computed once per
 * event and passed on: byte-at-a-time FNV-1a over some 55 bytes, three
 * times an event, was a tenth of the printing thread's time. */
uint64_t dedupe_key_hash(const char *source, size_t source_len, const char *id, size_t id_len);

/* A dedupe_seen() of hash is coming: start loading what it reads first
 * (the in-memory filter's cache line) into the cache. */
void dedupe_prefetch(const dedupe *d, uint64_t hash);

/* 1 when (source, id), whose dedupe_key_hash() is hash, is recorded, 0 when
 * not; or -(exit code) with err.
 * Lookups between two dedupe_release() calls (or writes) share one read
 * transaction, so they see the store as it was at the first of them (and
 * hold back other connections' checkpoints until then): release before
 * anything long, such as a handler run or waiting for messages. */
int dedupe_seen(dedupe *d, uint64_t hash, const char *source, size_t source_len, const char *id,
		size_t id_len, errinfo *err);

/* Record (source, id) now (a no-op when already recorded). 0 or an exit
 * code with err set. Each call is its own transaction unless inside
 * dedupe_begin()/dedupe_commit(). */
int dedupe_record(dedupe *d, const char *source, size_t source_len, const char *id, size_t id_len,
		  errinfo *err);
void dedupe_release(dedupe *d);
int dedupe_begin(dedupe *d, errinfo *err);
int dedupe_commit(dedupe *d, errinfo *err);

typedef struct dedupe_key {
	const char *source, *id;
	size_t source_len, id_len;
} dedupe_key;

/* Record keys[0..n) now, in one transaction (a no-op for those already
 * recorded). 0, or an exit code with err set and nothing recorded. */
int dedupe_record_many(dedupe *d, const dedupe_key *keys, size_t n, errinfo *err);

/* Delete records older than ttl_ms, at most max_rows of them. Returns the
 * number deleted (>= 0) or -(exit code) with err set. */
long dedupe_expire(dedupe *d, uint64_t ttl_ms, long max_rows, errinfo *err);

void dedupe_close(dedupe *d);

/* A thread with a connection of its own that records keys while the
 * caller goes on (event-consume prints the next events while the last
 * flush's records are written). One job at a time: submit, then wait
 * before the next submit. The keys (and the bytes they point to) are
 * borrowed until dedupe_writer_wait() returns; until then they are not
 * in the store as the caller's other connection sees it, so the caller
 * keeps them in its own pending set and stores no offset of theirs.
 *
 * Ownership: the writer owns its thread and connection;
 * dedupe_writer_stop() waits for a job running, then releases them. */
typedef struct dedupe_writer dedupe_writer;

/* Start a writer on the store at path (opened before with dedupe_open).
 * NULL with err set (the codes of dedupe_open; 70 no thread). */
dedupe_writer *dedupe_writer_start(const char *path, errinfo *err);

/* Hand keys[0..n) to the writer, which records them in one transaction
 * (as dedupe_record_many). A job already running is waited for first. */
void dedupe_writer_submit(dedupe_writer *w, const dedupe_key *keys, size_t n);

/* Wait until the job submitted last (if any) is written. 0, or its exit
 * code with err set (nothing of it recorded). */
int dedupe_writer_wait(dedupe_writer *w, errinfo *err);

/* 1 while a job is submitted and not waited for. */
int dedupe_writer_busy(const dedupe_writer *w);

/* 1 when dedupe_writer_wait() would not block. */
int dedupe_writer_idle(dedupe_writer *w);

void dedupe_writer_stop(dedupe_writer *w);

#endif
