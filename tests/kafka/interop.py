"""interop.py - the official CloudEvents Python SDK (cloudevents 2.x,
cloudevents.core.bindings.kafka with the JSON format) on the other side of
the real broker, with kafka-python as its Kafka client. Run with the
interpreter of the venv that tests/kafka/interop-venv.sh prepares.

  interop.py relayed -b BROKERS -t TOPIC --mode binary|structured --db DB
      Read TOPIC from the beginning to its end, decode every message with
      the SDK (from_kafka: it picks the content mode itself) and compare it
      with the outbox row of DB that the relay published it from (found by
      id): every attribute, every extension, the data, the key, the mode,
      and the audit columns (topic, partition, offset). One line per
      mismatch on stdout; exit 1 when there is any, or when the messages
      and the sent rows are not the same set.

  interop.py produce -b BROKERS -t TOPIC --mode binary|structured -o FILE
      Produce EVENTS (below) with the SDK (to_binary or to_structured with
      the JSON format, acks=all) and write to FILE, one per line, each event
      as the SDK's JSON format writes it: what a consumer must decode from
      the message. In binary mode extension values travel as text, so the
      expected values are the strings the SDK wrote into the ce_ headers.
      The SDK's own reading of each message must give the same, or exit 1.

  interop.py canon < NDJSON
      Each line parsed and written back in one canonical form (keys
      sorted, compact, UTF-8 kept), so two files compare with diff.

Exit status: 0 ok; 1 a mismatch or a Kafka failure (said on stderr);
64 usage.
"""

import argparse
import base64
import json
import sqlite3
import sys
import time
from datetime import datetime, timedelta, timezone
from importlib.metadata import version

from cloudevents.core.bindings import kafka as cekafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from dateutil.parser import isoparse
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

FMT = JSONFormat()
CORE = {"specversion", "id", "source", "type", "subject", "time",
        "datacontenttype", "dataschema"}
PROG = "interop.py"


def die(msg):
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    sys.exit(1)


def sdk_json(event):
    """The event as the SDK's JSON format writes it, parsed back."""
    return json.loads(FMT.write(event))


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# ---- reading a topic with the SDK -------------------------------------------

def read_topic(brokers, topic, timeout):
    """Every message of TOPIC, from the beginning to the end offsets taken
    after the assignment, as kafka-python ConsumerRecords."""
    consumer = KafkaConsumer(bootstrap_servers=brokers, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             request_timeout_ms=30000)
    try:
        deadline = time.monotonic() + timeout
        parts = consumer.partitions_for_topic(topic)
        while not parts and time.monotonic() < deadline:
            time.sleep(0.1)
            parts = consumer.partitions_for_topic(topic)
        if not parts:
            die(f"{topic}: no such topic at {brokers}")
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        records = []
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                got = {tp.partition: consumer.position(tp) for tp in tps}
                die(f"{topic}: not at the end offsets {dict((t.partition, o) for t, o in end.items())} "
                    f"after {timeout} s: at {got}")
            for recs in consumer.poll(timeout_ms=500).values():
                records.extend(recs)
        return records
    finally:
        consumer.close()


def to_message(rec):
    """A kafka-python record as the SDK's KafkaMessage; a repeated header
    name (the dict would hide it) is returned as the second item."""
    names = [h[0] for h in rec.headers or []]
    dups = sorted({n for n in names if names.count(n) > 1})
    msg = cekafka.KafkaMessage(headers=dict(rec.headers or []), key=rec.key, value=rec.value)
    return msg, dups


# ---- relayed: outbox rows against the SDK's decoding -------------------------

def canon_text(v):
    """An attribute value's canonical string, as the binary mode carries it
    (CloudEvents type system: Boolean true/false, Integer in decimal)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def compare_event(row_ev, sdk_ev, mode, carried_time):
    """The differences between the stored event and the SDK's decoding."""
    out = []
    sdk_ev = dict(sdk_ev)
    # The SDK's CloudEvent gives an event without time the current time:
    # only a time the message carried is the event's.
    if not carried_time:
        if "time" in row_ev:
            out.append(f"time {row_ev['time']!r} is not in the message")
        sdk_ev.pop("time", None)
    skip = {"data", "data_base64", "time"}
    for name in sorted((set(row_ev) | set(sdk_ev)) - skip):
        if name not in sdk_ev:
            out.append(f"attribute {name} {row_ev[name]!r} missing from the SDK's event")
            continue
        if name not in row_ev:
            out.append(f"the SDK's event has {name} {sdk_ev[name]!r}, the outbox row has none")
            continue
        want = row_ev[name]
        # Binary mode: every extension travels as a header, as text.
        if mode == "binary" and name not in CORE:
            want = canon_text(want)
        if sdk_ev[name] != want:
            out.append(f"attribute {name}: SDK {sdk_ev[name]!r}, outbox {want!r}")
    if "time" in row_ev:
        if "time" not in sdk_ev:
            out.append("time missing from the SDK's event")
        # The SDK keeps microseconds: compare the instants at its precision.
        elif isoparse(sdk_ev["time"]) != isoparse(row_ev["time"]):
            out.append(f"time: SDK {sdk_ev['time']}, outbox {row_ev['time']}")
    # Data: JSON as JSON, a text string as text, bytes as bytes.
    if "data_base64" in row_ev:
        want = base64.b64decode(row_ev["data_base64"])
        if "data_base64" in sdk_ev:
            got = base64.b64decode(sdk_ev["data_base64"])
        elif isinstance(sdk_ev.get("data"), str):
            got = sdk_ev["data"].encode("utf-8")
        else:
            got = None
        if got != want:
            out.append(f"data: SDK {got!r}, outbox data_base64 {want!r}")
    elif "data" in row_ev:
        if "data_base64" in sdk_ev or sdk_ev.get("data") != row_ev["data"]:
            out.append(f"data: SDK {sdk_ev.get('data', sdk_ev.get('data_base64'))!r}, outbox {row_ev['data']!r}")
    elif "data" in sdk_ev or "data_base64" in sdk_ev:
        out.append(f"data: the SDK decodes {sdk_ev.get('data', sdk_ev.get('data_base64'))!r}, the outbox event has none")
    return out


def cmd_relayed(args):
    db = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    rows = {}
    for rid, event, status, topic, part, off in db.execute(
            "SELECT id, event, status, topic, kafka_partition, kafka_offset FROM outbox"):
        rows[rid] = (json.loads(event), status, topic, part, off)
    db.close()
    records = read_topic(args.brokers, args.topic, args.timeout)
    bad = []
    seen = set()
    modes = {"binary": 0, "structured": 0}
    for rec in records:
        where = f"{rec.topic} [{rec.partition}] @{rec.offset}"
        msg, dups = to_message(rec)
        if dups:
            bad.append(f"{where}: header repeated: {dups}")
        mode = "binary" if any(h.lower().startswith("ce_") for h in msg.headers) else "structured"
        modes[mode] += 1
        try:
            event = cekafka.from_kafka(msg, FMT)
        except Exception as e:  # the SDK's refusal is the finding
            bad.append(f"{where}: the SDK cannot decode it: {type(e).__name__}: {e}")
            continue
        sdk_ev = sdk_json(event)
        eid = sdk_ev.get("id")
        if eid in seen:
            bad.append(f"{where}: id {eid} twice in the topic")
        seen.add(eid)
        if eid not in rows:
            bad.append(f"{where}: no outbox row with id {eid!r}")
            continue
        row_ev, status, topic, part, off = rows[eid]
        if mode != args.mode:
            bad.append(f"{eid}: the SDK sees {mode} mode, the relay ran in {args.mode}")
        if (topic, part, off) != (rec.topic, rec.partition, rec.offset) or status != "sent":
            bad.append(f"{eid}: at {where}, the outbox row says {status} at {topic} [{part}] @{off}")
        if mode == "binary":
            carried = any(h.lower() == "ce_time" for h in msg.headers)
        else:
            carried = "time" in json.loads(rec.value)
        bad.extend(f"{eid}: {d}" for d in compare_event(row_ev, sdk_ev, mode, carried))
    unsent = sorted(set(rows) - seen)
    if unsent:
        bad.append(f"{len(unsent)} outbox rows not in {args.topic}, first {unsent[0]}")
    for line in bad:
        print(line)
    print(f"{PROG}: {args.topic}: {len(records)} messages decoded by cloudevents {version('cloudevents')} "
          f"(binary {modes['binary']}, structured {modes['structured']}), {len(rows)} outbox rows, "
          f"{len(bad)} mismatches", file=sys.stderr)
    return 1 if bad else 0


# ---- produce: SDK events for event-consume ------------------------------------

def events():
    """The SDK-made events: every optional attribute, extensions of three
    types, JSON, text and binary data, no data, times with and without
    fraction digits and with an offset; then generated ones over keys."""
    utc = timezone.utc
    t = datetime(2026, 11, 30, 10, 0, 0, tzinfo=utc)
    yield CloudEvent({"id": "py-1", "source": "/interop/python", "type": "FundsAddedEvent",
                      "subject": "w-1", "time": t.replace(microsecond=123456),
                      "datacontenttype": "application/json",
                      "dataschema": "https://example.test/funds.json",
                      "partitionkey": "w-1", "region": "eu1", "priority": 7},
                     {"walletId": "w-1", "amount": "1.50", "note": "caf\u00e9 \u20ac", "n": [1, 2.5, None, True]})
    yield CloudEvent({"id": "py-2", "source": "/interop/python", "type": "NoteEvent",
                      "time": t.replace(microsecond=500000),
                      "datacontenttype": "text/plain; charset=utf-8"},
                     "plain text, no key: caf\u00e9 \u20ac")
    yield CloudEvent({"id": "py-3", "source": "/interop/python", "type": "BlobEvent",
                      "time": t.replace(microsecond=250000, tzinfo=timezone(timedelta(hours=2))),
                      "datacontenttype": "application/octet-stream", "partitionkey": "w-2"},
                     b"\x00\x01\xfe\xff not UTF-8")
    yield CloudEvent({"id": "py-4", "source": "/interop/python", "type": "PingEvent", "time": t,
                      "partitionkey": "w-2"}, None)
    yield CloudEvent({"id": "py-5", "source": "/interop/python", "type": "FundsAddedEvent",
                      "time": t.replace(microsecond=1),
                      "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
                     {"no": "datacontenttype"})
    for i in range(1, 201):
        w = f"wallet-{i % 16:04d}"
        yield CloudEvent({"id": f"py-g-{i:05d}", "source": "/interop/python/gen", "type": "FundsAddedEvent",
                          "subject": w, "time": t.replace(microsecond=i * 997 % 1000000),
                          "datacontenttype": "application/json", "partitionkey": w},
                         {"walletId": w, "amount": f"{i}.50", "seq": i})


def cmd_produce(args):
    to = cekafka.to_binary if args.mode == "binary" else cekafka.to_structured
    producer = KafkaProducer(bootstrap_servers=args.brokers, acks="all", request_timeout_ms=30000)
    sent = []
    try:
        for ev in events():
            msg = to(ev, FMT)
            key = msg.key.encode("utf-8") if isinstance(msg.key, str) else msg.key
            fut = producer.send(args.topic, value=msg.value, key=key, headers=list(msg.headers.items()))
            sent.append((ev, msg, fut))
        producer.flush(timeout=args.timeout)
        for ev, msg, fut in sent:
            fut.get(timeout=args.timeout)  # raises unless delivered
    finally:
        producer.close(timeout=10)
    with open(args.output, "w", encoding="utf-8") as out:
        for ev, msg, _ in sent:
            want = sdk_json(ev)
            if args.mode == "binary":
                want = {k: (v if k in CORE or k in ("data", "data_base64") else msg.headers[f"ce_{k}"].decode("utf-8"))
                        for k, v in want.items()}
            # The SDK must read its own message as it is expected to.
            back = sdk_json(cekafka.from_kafka(msg, FMT))
            if back != want:
                die(f"{ev.get_id()}: the SDK reads its own {args.mode} message as {canon(back)}, expected {canon(want)}")
            out.write(canon(want) + "\n")
    print(f"{PROG}: {args.topic}: produced {len(sent)} {args.mode} messages with cloudevents "
          f"{version('cloudevents')}, kafka-python {version('kafka-python')}", file=sys.stderr)
    return 0


def cmd_canon(_args):
    for n, line in enumerate(sys.stdin, 1):
        if line.strip():
            try:
                print(canon(json.loads(line)))
            except ValueError as e:
                die(f"stdin:{n}: not JSON: {e}")
    return 0


def main():
    p = argparse.ArgumentParser(prog=PROG)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("relayed")
    r.add_argument("-b", "--brokers", required=True)
    r.add_argument("-t", "--topic", required=True)
    r.add_argument("--mode", choices=("binary", "structured"), required=True)
    r.add_argument("--db", required=True)
    r.add_argument("--timeout", type=float, default=120)
    q = sub.add_parser("produce")
    q.add_argument("-b", "--brokers", required=True)
    q.add_argument("-t", "--topic", required=True)
    q.add_argument("--mode", choices=("binary", "structured"), required=True)
    q.add_argument("-o", "--output", required=True)
    q.add_argument("--timeout", type=float, default=60)
    sub.add_parser("canon")
    try:
        args = p.parse_args()
    except SystemExit as e:
        sys.exit(64 if e.code else 0)
    return {"relayed": cmd_relayed, "produce": cmd_produce, "canon": cmd_canon}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
