#!/usr/bin/env bash
# broker.sh - a real single-node Apache Kafka broker (KRaft, no ZooKeeper)
# for the real-broker test tier. Everything listens on 127.0.0.1 only.
#
#   broker.sh fetch               fetch Kafka's jars into the cache (reused
#                                 when present); print the jar directory
#   broker.sh start DIR           format DIR (once) and start the broker on
#                                 free loopback ports; wait (bounded) until
#                                 it answers metadata; write DIR/env and
#                                 print it (shell assignments, see below)
#   broker.sh stop DIR            SIGTERM, then SIGKILL after a bound
#   broker.sh kill DIR            SIGKILL at once (a crash, for chaos tests)
#   broker.sh restart [--kill] DIR  stop (or kill) and start again on the
#                                 same ports and log directory
#   broker.sh topic DIR NAME PARTITIONS   create a topic (and wait for its
#                                 leaders), through kafka-admin
#
# DIR/env holds, one per line:
#   KAFKA_REAL_BROKERS=127.0.0.1:P    plaintext listener
#   KAFKA_SASL_BROKERS=127.0.0.1:S    SASL_PLAINTEXT listener: PLAIN, and
#                                     SCRAM-SHA-256 (user made at format)
#   KAFKA_SASL_USER=alice  KAFKA_SASL_PASSWORD=...   (random per DIR)
#   KAFKA_BROKER_PID=N  KAFKA_BROKER_DIR=DIR
#
# Environment: KAFKA_VERSION (default 4.4.0), KAFKA_CACHE (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/outbox-tools/kafka-$KAFKA_VERSION),
# KAFKA_HEAP (default -Xmx512m), KAFKA_START_TIMEOUT (seconds, default 90).
# Exit status: 0; 64 usage; 69 the broker did not come up or a fetch
# failed; 70 anything else. Every failure says why on stderr.
set -eu

KAFKA_VERSION=${KAFKA_VERSION:-4.4.0}
KAFKA_CACHE=${KAFKA_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/outbox-tools/kafka-$KAFKA_VERSION}
KAFKA_HEAP=${KAFKA_HEAP:--Xmx512m -Xms128m}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
# slf4j 2 with a log4j2 binding: Kafka's poms name slf4j-api 1.7, which
# would leave the broker with a no-op logger and no log to read on failure.
SLF4J_VERSION=2.0.17
LOG4J_VERSION=2.24.3
HERE=$(cd "$(dirname "$0")" && pwd)
KAFKA_ADMIN=${KAFKA_ADMIN:-$HERE/../../${BUILD:-build}/tests/kafka-admin}

die() {
	code=$1
	shift
	echo "broker.sh: error: $*" >&2
	exit "$code"
}

usage() {
	echo "usage: broker.sh fetch | start DIR | stop DIR | kill DIR | restart [--kill] DIR | topic DIR NAME PARTITIONS" >&2
	exit 64
}

# ---- fetch -----------------------------------------------------------------

fetch() {
	lib=$KAFKA_CACHE/lib
	# The stamp names every pinned version: changing one fetches anew.
	stamp="kafka_2.13-$KAFKA_VERSION slf4j-api-$SLF4J_VERSION log4j-$LOG4J_VERSION"
	if [ -d "$lib" ] && [ "$(cat "$KAFKA_CACHE/complete" 2>/dev/null)" = "$stamp" ]; then
		echo "$lib"
		return 0
	fi
	command -v mvn >/dev/null 2>&1 || die 69 "mvn not found: install maven (sh .ci/deps does)"
	command -v java >/dev/null 2>&1 || die 69 "java not found: install a JRE 17 or later (sh .ci/deps does)"
	mkdir -p "$KAFKA_CACHE" || die 70 "cannot create $KAFKA_CACHE"
	tmp=$(mktemp -d "$KAFKA_CACHE/fetch.XXXXXX") || die 70 "cannot create a temp dir in $KAFKA_CACHE"
	cat >"$tmp/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>outbox-tools.test</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$SLF4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
POM
	echo "broker.sh: fetching Apache Kafka $KAFKA_VERSION into $KAFKA_CACHE" >&2
	if ! mvn -B -q -f "$tmp/pom.xml" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$tmp/lib" >"$tmp/mvn.log" 2>&1; then
		tail -n 30 "$tmp/mvn.log" >&2
		rm -rf "$tmp"
		rmdir "$KAFKA_CACHE" 2>/dev/null || true
		die 69 "cannot fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION with mvn (log above)"
	fi
	ls "$tmp/lib"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 ||
		{ rm -rf "$tmp"; die 70 "mvn succeeded but kafka_2.13-$KAFKA_VERSION.jar is missing"; }
	# slf4j 1.7 from the poms would shadow 2.x; keep only the pinned one.
	for j in "$tmp"/lib/slf4j-api-*.jar; do
		case $j in */slf4j-api-"$SLF4J_VERSION".jar) ;; *) rm -f "$j" ;; esac
	done
	rm -rf "$lib"
	mv "$tmp/lib" "$lib"
	rm -rf "$tmp"
	echo "$stamp" >"$KAFKA_CACHE/complete"
	echo "$lib"
}

# ---- start / stop ----------------------------------------------------------

# free_ports N: N distinct free loopback TCP ports, one per line (bound
# together so they differ, then released for the broker to take).
free_ports() {
	python3 -c '
import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print("\n".join(str(x.getsockname()[1]) for x in s))
for x in s: x.close()' "$1"
}

# A random secret of letters and digits (the SASL password).
random_word() {
	python3 -c 'import secrets, sys; print(secrets.token_urlsafe(int(sys.argv[1])).replace("-", "x").replace("_", "y"))' "$1"
}

pid_alive() {
	[ -n "$1" ] || return 1
	kill -0 "$1" 2>/dev/null || return 1
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

port_open() {
	(exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The files of a new broker directory: ports, users, config, log4j2, data.
init_dir() {
	dir=$1
	set -- $(free_ports 3)
	plain=$1 sasl=$2 ctl=$3
	pw=$(random_word 18)
	cat >"$dir/ports" <<P
plain=$plain
sasl=$sasl
ctl=$ctl
P
	cat >"$dir/users" <<U
KAFKA_SASL_USER=alice
KAFKA_SASL_PASSWORD=$pw
U
	chmod 600 "$dir/users"
	cat >"$dir/server.properties" <<S
# Written by tests/kafka/broker.sh: one KRaft node, broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$ctl
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$plain,SASL_PLAINTEXT://127.0.0.1:$sasl,CONTROLLER://127.0.0.1:$ctl
advertised.listeners=PLAINTEXT://127.0.0.1:$plain,SASL_PLAINTEXT://127.0.0.1:$sasl
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="$pw";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
log.dirs=$dir/data
# Tests create their topics explicitly (kafka-admin), as production does.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# A consumer group's first member starts at once instead of after 3 s.
group.initial.rebalance.delay.ms=0
# Several segments in the tier's large topic (reads cross segment files).
log.segment.bytes=16777216
# Bounded waits on a shared 2-core machine.
controller.quorum.election.timeout.ms=1000
# A restarted node (kill -9 included) is unfenced after 3 s, not 9.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
S
	cat >"$dir/log4j2.properties" <<L
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $dir/kafka.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka.server.KafkaServer
logger.kafka.level = info
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = info
L
	# Kafka cluster ids are 16 bytes in base64url: make one of the form it reads.
	cid=$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=").replace("-", "A"))')
	if ! java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$lib/*" -Dlog4j2.configurationFile="$dir/log4j2.properties" \
		kafka.tools.StorageTool format -t "$cid" -c "$dir/server.properties" \
		--add-scram "SCRAM-SHA-256=[name=alice,password=$pw]" \
		>"$dir/format.log" 2>&1; then
		cat "$dir/format.log" >&2
		die 70 "cannot format the KRaft log directory $dir/data"
	fi
}

write_env() {
	dir=$1
	. "$dir/ports"
	. "$dir/users"
	{
		echo "KAFKA_REAL_BROKERS=127.0.0.1:$plain"
		echo "KAFKA_SASL_BROKERS=127.0.0.1:$sasl"
		echo "KAFKA_SASL_USER=$KAFKA_SASL_USER"
		echo "KAFKA_SASL_PASSWORD=$KAFKA_SASL_PASSWORD"
		echo "KAFKA_BROKER_PID=$(cat "$dir/pid")"
		echo "KAFKA_BROKER_DIR=$dir"
	} >"$dir/env.tmp"
	chmod 600 "$dir/env.tmp"
	mv "$dir/env.tmp" "$dir/env"
}

start() {
	[ -d "$1" ] || mkdir -p "$1" || die 70 "cannot create $1"
	dir=$(cd "$1" && pwd)
	if [ -f "$dir/pid" ] && pid_alive "$(cat "$dir/pid")"; then
		die 70 "a broker already runs from $dir (pid $(cat "$dir/pid"))"
	fi
	lib=$(fetch) || exit $?
	# Formatted once: a restart keeps the ports, the users and the data.
	[ -f "$dir/data/meta.properties" ] || init_dir "$dir"
	. "$dir/ports"
	for p in $plain $sasl $ctl; do
		port_open "$p" && die 69 "port $p is taken: the broker cannot listen there"
	done
	# Detached from our stdio (and from bats' fd 3) so callers never wait
	# for it; the broker's own console output lands in DIR/console.log.
	# shellcheck disable=SC2086
	java $KAFKA_HEAP -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
		-Djava.awt.headless=true -Djava.net.preferIPv4Stack=true -Dlog4j2.configurationFile="$dir/log4j2.properties" \
		-cp "$lib/*" kafka.Kafka "$dir/server.properties" \
		</dev/null >>"$dir/console.log" 2>&1 3>&- &
	echo $! >"$dir/pid"
	pid=$!
	# Wait (bounded) for the port, then for metadata: kcat -L against a
	# port not yet open would wait out its whole timeout.
	deadline=$((SECONDS + KAFKA_START_TIMEOUT)) ready=0
	while [ "$SECONDS" -lt "$deadline" ]; do
		if ! pid_alive "$pid"; then
			tail -n 40 "$dir/console.log" "$dir/kafka.log" >&2 2>/dev/null || true
			die 69 "the broker (pid $pid) exited during start; logs above, in $dir"
		fi
		if port_open "$plain" &&
			timeout 10 kcat -L -b "127.0.0.1:$plain" -m 5 >"$dir/meta" 2>/dev/null &&
			grep -q '^ 1 brokers:' "$dir/meta"; then
			ready=1
			break
		fi
		sleep 0.1
	done
	if [ "$ready" != 1 ]; then
		kill -KILL "$pid" 2>/dev/null || true
		tail -n 40 "$dir/console.log" "$dir/kafka.log" >&2 2>/dev/null || true
		die 69 "the broker did not answer metadata on 127.0.0.1:$plain within ${KAFKA_START_TIMEOUT}s; logs in $dir"
	fi
	write_env "$dir"
	cat "$dir/env"
}

# signal_stop DIR SIGNAL: send SIGNAL, wait (bounded) until gone; SIGKILL
# after the bound. Safe when nothing runs.
signal_stop() {
	dir=$1 sig=$2
	[ -f "$dir/pid" ] || return 0
	pid=$(cat "$dir/pid")
	if pid_alive "$pid"; then
		kill "-$sig" "$pid" 2>/dev/null || true
		i=0
		while pid_alive "$pid" && [ "$i" -lt 300 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		if pid_alive "$pid"; then
			echo "broker.sh: broker $pid ignored SIG$sig for 30 s: SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
			i=0
			while pid_alive "$pid" && [ "$i" -lt 100 ]; do
				sleep 0.1
				i=$((i + 1))
			done
			pid_alive "$pid" && die 70 "broker $pid survives SIGKILL"
		fi
	fi
	# The listening ports must be free before a restart binds them again.
	. "$dir/ports"
	i=0
	while { port_open "$plain" || port_open "$sasl" || port_open "$ctl"; } && [ "$i" -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	rm -f "$dir/pid"
}

topic() {
	dir=$1 name=$2 parts=$3
	[ -f "$dir/env" ] || die 64 "$dir is not a started broker directory"
	. "$dir/env"
	"$KAFKA_ADMIN" -b "$KAFKA_REAL_BROKERS" create "$name" "$parts"
}

cmd=${1:-}
[ $# -ge 1 ] && shift
case $cmd in
fetch) [ $# -eq 0 ] || usage; fetch ;;
start) [ $# -eq 1 ] || usage; start "$1" ;;
stop) [ $# -eq 1 ] || usage; signal_stop "$1" TERM ;;
kill) [ $# -eq 1 ] || usage; signal_stop "$1" KILL ;;
restart)
	sig=TERM
	if [ "${1:-}" = --kill ]; then sig=KILL; shift; fi
	[ $# -eq 1 ] || usage
	[ -f "$1/data/meta.properties" ] || die 64 "$1 is not a broker directory"
	signal_stop "$1" "$sig"
	start "$1"
	;;
topic) [ $# -eq 3 ] || usage; topic "$@" ;;
*) usage ;;
esac
