#!/bin/sh
# handler.sh - the chaos pipeline's event-consume --exec handler.
#
# Reads the batch of events (NDJSON, one canonical CloudEvent per line) on
# standard input and records every event id in its own SQLite file,
# $CHAOS_HANDLED_DB, table h(id, attempt, run, batch, at), in ONE
# transaction: a run that fails records nothing. run is $CHAOS_RUN (which
# event-consume process), batch names this handler process, at (a column
# default) is when the transaction committed. A row per completed run and event, with no
# unique constraint, so that an event handled twice shows up twice.
#   exit 65  the batch holds a poison event ("poison":true in its data):
#            a permanent failure, event-consume dead-letters the batch
#   exit 1   first attempt of a batch that holds a flaky event (data
#            "flaky":true): a transient failure, retried
# Every run appends one line to $CHAOS_HANDLER_LOG: attempt, events, outcome.
set -u
sql=$(awk -v attempt="${EVENT_ATTEMPT:-0}" -v run="${CHAOS_RUN:-0}" -v batch="$$" '
	# Canonical form: {"specversion":"1.0","id":"...",...
	{
		if (index($0, "\"poison\":true")) poison = 1
		if (index($0, "\"flaky\":true")) flaky = 1
		s = $0
		sub(/^\{"specversion":"1\.0","id":"/, "", s)
		id = substr(s, 1, index(s, "\"") - 1)
		if (id == "" || id !~ /^[A-Za-z0-9._-]+$/) bad = 1
		ids[n++] = id
	}
	END {
		if (bad) exit 70
		if (poison) exit 65
		if (flaky && attempt == 1) exit 1
		print "BEGIN IMMEDIATE;"
		for (i = 0; i < n; i++)
			printf "INSERT INTO h(id, attempt, run, batch) VALUES(\047%s\047, %d, \047%s\047, \047%s-%d\047);\n", ids[i], attempt, run, batch, attempt
		print "COMMIT;"
	}')
rc=$?
case $rc in
0)
	if printf '%s\n' "$sql" | sqlite3 -bail -cmd '.timeout 10000' "$CHAOS_HANDLED_DB" >/dev/null; then
		echo "${EVENT_ATTEMPT:-0} ${EVENT_COUNT:-0} ok run ${CHAOS_RUN:-0} $KAFKA_TOPIC/$KAFKA_PARTITION@$KAFKA_OFFSET" >>"$CHAOS_HANDLER_LOG"
		exit 0
	fi
	echo "${EVENT_ATTEMPT:-0} ${EVENT_COUNT:-0} sqlite-failed" >>"$CHAOS_HANDLER_LOG"
	exit 75 ;;
65) echo "${EVENT_ATTEMPT:-0} ${EVENT_COUNT:-0} poison" >>"$CHAOS_HANDLER_LOG"; echo "poison event in the batch" >&2; exit 65 ;;
1) echo "${EVENT_ATTEMPT:-0} ${EVENT_COUNT:-0} flaky" >>"$CHAOS_HANDLER_LOG"; exit 1 ;;
*) echo "${EVENT_ATTEMPT:-0} ${EVENT_COUNT:-0} bad-input" >>"$CHAOS_HANDLER_LOG"; echo "handler.sh: an event without a readable id" >&2; exit 70 ;;
esac
