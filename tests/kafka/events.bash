# events.bash - event generators and independent readers (kcat, jq,
# sqlite3) shared by tests/kafka/relay.bats and tests/kafka/consume.bats.
# Load after helpers/common and helpers/kafka.

# gen_events N KEYS [FIRST]: N FundsAddedEvent lines with ids ev-%08d
# (FIRST+1 ..), KEYS partition keys wallet-%04d, about 330 bytes each; the
# data carries the sequence number so order can be checked per key.
gen_events() {
	awk -v n="$1" -v keys="$2" -v first="${3:-0}" 'BEGIN {
		for (i = first + 1; i <= first + n; i++) {
			w = sprintf("wallet-%04d", i % keys)
			printf "{\"specversion\":\"1.0\",\"id\":\"ev-%08d\",\"source\":\"/rt\",\"type\":\"FundsAddedEvent\",\"subject\":\"%s\",\"time\":\"2026-11-27T09:51:38.%06dZ\",\"datacontenttype\":\"application/json\",\"partitionkey\":\"%s\",\"data\":{\"walletId\":\"%s\",\"amount\":\"%d.50\",\"seq\":%d}}\n", i, w, i % 1000000, w, w, i % 1000, i
		}
	}'
}

# bindings_to TOPIC: a bindings file routing FundsAddedEvent to TOPIC.
bindings_to() {
	printf 'producer FundsAddedEvent fundsAddedEventProducer-out-0 %s\n' "$1" >"$T/bindings.conf"
}

# db_count DB WHERE: rows of DB's outbox matching WHERE (read while a relay
# writes: WAL readers do not block, the timeout covers a checkpoint).
db_count() {
	sqlite3 -cmd '.timeout 5000' "$1" "SELECT count(*) FROM outbox WHERE $2"
}

# kcat_ids TOPIC: "partition offset key id" per message, id from the
# ce_id header (binary mode), in partition and offset order.
kcat_ids() {
	timeout 120 kcat -C -b "$KAFKA_BROKERS" -t "$1" -o beginning -e -q -f '%p %o %k %h\n' |
		awk '{ id = "-"; if (match($4, /(^|,)ce_id=[^,]*/)) { id = substr($4, RSTART, RLENGTH); sub(/^,?ce_id=/, "", id) }
			print $1, $2, $3, id }' | sort -k1,1n -k2,2n
}

# The jq decoder of kcat -J messages: an independent reading of the
# CloudEvents Kafka binding. Structured when content-type starts with
# application/cloudevents (any case); else binary: ce_* headers are the
# attributes, content-type the datacontenttype, the value the data (JSON
# when the content type says so or is absent). Output per message:
# {topic, partition, offset, key, headers (object), dup (a header name
# repeated), event}.
KCAT_DECODE='
def hdrs: [range(0; (.headers // []) | length; 2) as $i | {key: .headers[$i], value: .headers[$i + 1]}];
(hdrs) as $hl | ($hl | from_entries) as $h | ($h["content-type"] // "") as $ct
| {topic, partition, offset, key, headers: $h,
   dup: (($hl | map(.key) | length) != ($hl | map(.key) | unique | length)),
   event: (if ($ct | ascii_downcase | startswith("application/cloudevents")) then (.payload | fromjson)
	else ($h | with_entries(select(.key | startswith("ce_")) | .key |= ltrimstr("ce_")))
	  + (if $ct != "" then {datacontenttype: $ct} else {} end)
	  + (if .payload == null then {}
	     elif $ct == "" or ($ct | test("json"; "i")) then {data: (.payload | fromjson)}
	     else {data: .payload} end)
	end)}'

# kcat_decoded TOPIC: one decoded message (above) per line.
kcat_decoded() {
	timeout 120 kcat -C -b "$KAFKA_BROKERS" -t "$1" -o beginning -e -q -J | jq -c "$KCAT_DECODE"
}

# outbox_rows DB: the rows as JSON objects, one per line: id, event (parsed),
# status, attempts, topic, kafka_partition, kafka_offset.
outbox_rows() {
	sqlite3 -json "$1" "SELECT id, event, status, attempts, topic, kafka_partition, kafka_offset FROM outbox ORDER BY seq" |
		jq -c '.[] | .event |= fromjson'
}
