"""The `tern` command-line tools (issue 5) as subprocesses, cross-checked with confluent-kafka.

Each tool is run the way kafka-*.sh would be (same flags, same output formats) against a real `tern server`.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from confluent_kafka import Producer

from clients import Rec, consume_confluent, create_topic, produce_confluent, wait_for_topic, watermarks
from ternbroker import free_port, tern_binary

pytestmark = pytest.mark.broker


def tern(*args: str, input: str | bytes | None = None, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess:
    data = input.encode() if isinstance(input, str) else input
    cp = subprocess.run([str(tern_binary()), *args], input=data, capture_output=True, timeout=timeout)
    if check and cp.returncode != 0:
        raise AssertionError(f"tern {' '.join(args)} exited {cp.returncode}:\n{cp.stdout.decode()}\n{cp.stderr.decode()}")
    return cp


def test_topics_create_list_describe_alter_delete(broker, topic_name):
    b = f"--bootstrap-server={broker.bootstrap}"
    out = tern("topics", b, "--create", "--topic", topic_name, "--partitions", "3", "--replication-factor", "1",
               "--config", "retention.ms=3600000").stdout.decode()
    assert out.strip() == f"Created topic {topic_name}."
    wait_for_topic(broker.bootstrap, topic_name, 3)
    assert topic_name in tern("topics", b, "--list").stdout.decode().split("\n")

    lines = tern("topics", b, "--describe", "--topic", topic_name).stdout.decode().rstrip("\n").split("\n")
    head = lines[0].split("\t")
    assert head[0] == f"Topic: {topic_name}" and head[1].startswith("TopicId: ")
    assert head[2:] == ["PartitionCount: 3", "ReplicationFactor: 1", "Configs: retention.ms=3600000"]
    assert lines[1:] == [f"\tTopic: {topic_name}\tPartition: {p}\tLeader: {broker.node_id}\tReplicas: {broker.node_id}\t"
                         f"Isr: {broker.node_id}" for p in range(3)]

    tern("topics", b, "--alter", "--topic", topic_name, "--partitions", "5")
    wait_for_topic(broker.bootstrap, topic_name, 5)

    cp = tern("topics", b, "--create", "--topic", topic_name, "--partitions", "1", check=False)
    assert cp.returncode == 1 and b"TOPIC_ALREADY_EXISTS" in cp.stderr
    tern("topics", b, "--create", "--topic", topic_name, "--partitions", "1", "--if-not-exists")

    tern("topics", b, "--delete", "--topic", topic_name)
    assert topic_name not in tern("topics", b, "--list").stdout.decode().split("\n")
    cp = tern("topics", b, "--describe", "--topic", topic_name, check=False)
    assert cp.returncode == 1 and f"Topic '{topic_name}' does not exist".encode() in cp.stderr


def test_unreachable_broker_names_the_address():
    port = free_port()
    for tool in (["topics", "--list"], ["get-offsets", "--topic", "x"]):
        cp = tern(tool[0], f"--bootstrap-server=127.0.0.1:{port}", *tool[1:], check=False, timeout=30)
        assert cp.returncode == 1
        assert f"cannot connect to 127.0.0.1:{port}: connection refused".encode() in cp.stderr


def test_console_producer_then_confluent_reads_keys_in_javas_partitions(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, partitions=4)
    lines = [f"key-{i % 7}:value-{i}" for i in range(200)]
    tern("console-producer", f"--bootstrap-server={broker.bootstrap}", "--topic", topic_name,
         "--property", "parse.key=true", "--property", "key.separator=:", "--producer-property", "linger.ms=5",
         input="\n".join(lines) + "\n")
    got = consume_confluent(broker.bootstrap, topic_name, 4, 200)
    assert sorted((m.key, m.value) for m in got) == sorted(
        (line.split(":")[0].encode(), line.split(":")[1].encode()) for line in lines)

    # librdkafka's murmur2_random partitioner is Java's default partitioner; the same keys must land together.
    expected, _ = produce_confluent(broker.bootstrap, topic_name,
                                    [Rec(f"key-{k}".encode(), b"probe") for k in range(7)],
                                    conf={"partitioner": "murmur2_random"})
    where = {m.key: m.partition for m in expected}
    for m in got:
        assert m.partition == where[m.key], f"{m.key!r} went to {m.partition}, Java picks {where[m.key]}"


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_confluent_produces_console_consumer_prints(broker, topic_name, codec):
    create_topic(broker.bootstrap, topic_name, partitions=1)
    recs = [Rec(f"k{i}".encode(), f"v{i}".encode(), (("h", str(i).encode()),)) for i in range(50)]
    produce_confluent(broker.bootstrap, topic_name, recs, conf={"compression.type": codec})
    cp = tern("console-consumer", f"--bootstrap-server={broker.bootstrap}", "--topic", topic_name, "--from-beginning",
              "--max-messages", "50", "--property", "print.key=true", "--property", "print.offset=true",
              "--property", "print.partition=true", "--property", "print.headers=true", "--property", "print.timestamp=true")
    lines = cp.stdout.decode().rstrip("\n").split("\n")
    assert len(lines) == 50
    for i, line in enumerate(lines):
        ts, part, off, headers, key, value = line.split("\t")
        assert ts.startswith("CreateTime:") and int(ts.split(":")[1]) > 0
        assert (part, off, headers, key, value) == ("Partition:0", f"Offset:{i}", f"h:{i}", f"k{i}", f"v{i}")
    assert cp.stderr.decode().strip().endswith("Processed a total of 50 messages")


def test_console_producer_compression_and_console_consumer_partition_offset(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, partitions=1)
    tern("console-producer", f"--bootstrap-server={broker.bootstrap}", "--topic", topic_name,
         "--compression-codec", "zstd", input="".join(f"line {i}\n" for i in range(10)))
    cp = tern("console-consumer", f"--bootstrap-server={broker.bootstrap}", "--topic", topic_name,
              "--partition", "0", "--offset", "6", "--max-messages", "4")
    assert cp.stdout.decode().split("\n")[:4] == ["line 6", "line 7", "line 8", "line 9"]
    # --timeout-ms ends a consumer that has nothing more to read.
    cp = tern("console-consumer", f"--bootstrap-server={broker.bootstrap}", "--topic", topic_name,
              "--from-beginning", "--timeout-ms", "1500")
    assert len(cp.stdout.decode().rstrip("\n").split("\n")) == 10
    assert b"Processed a total of 10 messages" in cp.stderr


def test_get_offsets_and_delete_records(broker, topic_name, tmp_path):
    create_topic(broker.bootstrap, topic_name, partitions=2)
    produce_confluent(broker.bootstrap, topic_name, [Rec(None, b"x")] * 3, conf={"partitioner": "random"})
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for _ in range(5):
        p.produce(topic_name, b"y", partition=1)
    p.flush(10)
    marks = watermarks(broker.bootstrap, topic_name, 2)
    b = f"--bootstrap-server={broker.bootstrap}"
    out = tern("get-offsets", b, "--topic", topic_name).stdout.decode().split()
    assert out == [f"{topic_name}:{i}:{marks[i][1]}" for i in range(2)]
    assert tern("get-offsets", b, "--topic", topic_name, "--time", "-2").stdout.decode().split() == \
        [f"{topic_name}:0:0", f"{topic_name}:1:0"]

    spec = tmp_path / "delete.json"
    spec.write_text(json.dumps({"partitions": [{"topic": topic_name, "partition": 1, "offset": 2}], "version": 1}))
    out = tern("delete-records", b, "--offset-json-file", str(spec)).stdout.decode()
    assert f"partition: {topic_name}-1\tlow_watermark: 2" in out
    assert watermarks(broker.bootstrap, topic_name, 2)[1][0] == 2
    assert tern("get-offsets", b, "--topic", topic_name, "--partitions", "1", "--time", "earliest").stdout.decode().split() == \
        [f"{topic_name}:1:2"]


def test_configs_alter_and_describe(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, partitions=1)
    b = f"--bootstrap-server={broker.bootstrap}"
    out = tern("configs", b, "--alter", "--entity-type", "topics", "--entity-name", topic_name,
               "--add-config", "retention.ms=12345,cleanup.policy=[delete,compact]").stdout.decode()
    assert out.strip() == f"Completed updating config for topic {topic_name}."
    out = tern("configs", b, "--describe", "--entity-type", "topics", "--entity-name", topic_name).stdout.decode()
    assert out.startswith(f"Dynamic configs for topic {topic_name} are:\n")
    assert "  retention.ms=12345 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=12345" in out
    assert "  cleanup.policy=delete,compact sensitive=false" in out

    # confluent-kafka sees the same configs.
    from clients import admin
    from confluent_kafka.admin import ConfigResource
    a = admin(broker.bootstrap)
    res = a.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic_name)])
    configs = list(res.values())[0].result(timeout=10)
    assert configs["retention.ms"].value == "12345"

    tern("configs", b, "--alter", "--entity-type", "topics", "--entity-name", topic_name, "--delete-config", "retention.ms")
    out = tern("configs", b, "--describe", "--entity-type", "topics", "--entity-name", topic_name).stdout.decode()
    assert "retention.ms=" not in out and "cleanup.policy=delete,compact" in out


def test_producer_perf_test_output(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, partitions=2)
    cp = tern("producer-perf-test", "--topic", topic_name, "--num-records", "20000", "--record-size", "100",
              "--throughput", "-1", "--producer-props", f"bootstrap.servers={broker.bootstrap}", "acks=1")
    last = cp.stdout.decode().rstrip("\n").split("\n")[-1]
    assert last.startswith("20000 records sent, ") and " records/sec (" in last and " MB/sec), " in last
    assert last.endswith("th.") and " ms 50th, " in last and " ms 99.9th." in last
    assert sum(hi for _, hi in watermarks(broker.bootstrap, topic_name, 2).values()) == 20000
    cp = tern("consumer-perf-test", f"--bootstrap-server={broker.bootstrap}", "--topic", topic_name, "--messages", "20000")
    header, row = cp.stdout.decode().rstrip("\n").split("\n")
    assert header.startswith("start.time, end.time, data.consumed.in.MB")
    assert row.split(", ")[4] == "20000"


@pytest.mark.parametrize("props", [
    ["acks=1", "linger.ms=5", "batch.size=16384"],
    ["acks=all", "enable.idempotence=true", "compression.type=lz4", "batch.size=4096", "linger.ms=0"],
], ids=["plain", "idempotent-lz4"])
def test_perf_tools_count_every_record_once(broker, topic_name, props):
    """The records the producer perf test reports are on the broker, each once and whole (batches encoded in place,
    with and without compression and sequence numbers), and the consumer perf test counts exactly them and their bytes."""
    n, size = 12345, 137
    create_topic(broker.bootstrap, topic_name, partitions=3)
    cp = tern("producer-perf-test", "--topic", topic_name, "--num-records", str(n), "--record-size", str(size),
              "--throughput", "-1", "--producer-props", f"bootstrap.servers={broker.bootstrap}", *props)
    assert cp.stdout.decode().rstrip("\n").split("\n")[-1].startswith(f"{n} records sent, ")
    assert sum(hi - lo for lo, hi in watermarks(broker.bootstrap, topic_name, 3).values()) == n
    msgs = consume_confluent(broker.bootstrap, topic_name, 3, n)
    assert len(msgs) == n and all(m.key is None and len(m.value) == size for m in msgs)
    for p in range(3):
        offsets = [m.offset for m in msgs if m.partition == p]
        assert offsets == list(range(len(offsets)))
    # Fewer than are there: exactly that many, and the MB column is that many records' bytes.
    for want in (n, 1000):
        cp = tern("consumer-perf-test", f"--bootstrap-server={broker.bootstrap}", "--topic", topic_name,
                  "--messages", str(want), "--hide-header")
        row = cp.stdout.decode().strip().split(", ")
        assert int(row[4]) == want
        assert float(row[2]) == pytest.approx(want * size / 1024 / 1024, abs=1e-4)


@pytest.mark.groups
def test_console_consumer_group_commits_and_consumer_groups_tool(broker, topic_name):
    from confluent_kafka import Consumer, TopicPartition as TP
    create_topic(broker.bootstrap, topic_name, partitions=3)
    produce_confluent(broker.bootstrap, topic_name, [Rec(f"k{i}".encode(), f"v{i}".encode()) for i in range(60)])
    b = f"--bootstrap-server={broker.bootstrap}"
    group = f"g-{topic_name}"
    cp = tern("console-consumer", b, "--topic", topic_name, "--group", group, "--from-beginning", "--max-messages", "60")
    assert len(cp.stdout.decode().rstrip("\n").split("\n")) == 60

    # The group's commits are what confluent-kafka reads back.
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    committed = c.committed([TP(topic_name, p) for p in range(3)], timeout=10)
    c.close()
    marks = watermarks(broker.bootstrap, topic_name, 3)
    assert {tp.partition: tp.offset for tp in committed} == {p: hi for p, (_, hi) in marks.items()}

    assert group in tern("consumer-groups", b, "--list").stdout.decode().split("\n")
    lines = tern("consumer-groups", b, "--describe", "--group", group).stdout.decode().strip().split("\n")
    header = lines.index(next(l for l in lines if l.startswith("GROUP")))
    assert lines[header].split() == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                                     "CONSUMER-ID", "HOST", "CLIENT-ID"]
    rows = [l.split() for l in lines[header + 1:]]
    assert sorted((r[1], int(r[2]), int(r[3]), int(r[5])) for r in rows) == \
        [(topic_name, p, marks[p][1], 0) for p in range(3)]

    out = tern("consumer-groups", b, "--reset-offsets", "--group", group, "--topic", topic_name, "--to-earliest",
               "--execute").stdout.decode()
    assert [l.split()[2:] for l in out.strip().split("\n")[1:]] == [[str(p), "0"] for p in range(3)]
    cp = tern("console-consumer", b, "--topic", topic_name, "--group", group, "--max-messages", "60")
    assert len(cp.stdout.decode().rstrip("\n").split("\n")) == 60

    out = tern("consumer-groups", b, "--delete", "--group", group).stdout.decode()
    assert out.strip() == f"Deletion of requested consumer groups ('{group}') was successful."


@pytest.mark.groups
def test_tern_group_consumers_share_partitions_with_range_assignor(broker, topic_name):
    """Two `tern console-consumer --group` processes split four partitions 2/2 and together read every record."""
    import subprocess as sp
    import time
    create_topic(broker.bootstrap, topic_name, partitions=4)
    group = f"g-{topic_name}"
    procs = [sp.Popen([str(tern_binary()), "console-consumer", f"--bootstrap-server={broker.bootstrap}", "--topic",
                       topic_name, "--group", group, "--timeout-ms", "8000", "--property", "print.partition=true"],
                      stdout=sp.PIPE, stderr=sp.PIPE) for _ in range(2)]
    time.sleep(3)
    produce_confluent(broker.bootstrap, topic_name, [Rec(f"k{i}".encode(), f"v{i}".encode()) for i in range(200)])
    outs = [p.communicate(timeout=60)[0].decode().split() for p in procs]
    values = sorted(v for out in outs for v in out if v.startswith("v"))
    assert values == sorted(f"v{i}" for i in range(200))


def _produce_timestamped(bootstrap: str, topic: str, partitions: int, per_partition: int, base_ms: int) -> None:
    """Record i of each partition at base_ms + i*1000, each in a batch of its own."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for i in range(per_partition):
        for part in range(partitions):
            p.produce(topic, value=f"p{part}-{i}".encode(), partition=part, timestamp=base_ms + i * 1000)
            p.flush(10)


def _reset(b: str, group: str, *args: str) -> dict[tuple[str, int], int]:
    out = tern("consumer-groups", b, "--reset-offsets", "--group", group, *args).stdout.decode().strip().split("\n")
    assert out[0].split() == ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]
    return {(r.split()[1], int(r.split()[2])): int(r.split()[3]) for r in out[1:]}


def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition as TP
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    got = c.committed([TP(topic, p) for p in range(partitions)], timeout=10)
    c.close()
    return {tp.partition: tp.offset for tp in got}


def test_consumer_groups_reset_shift_by_datetime_and_duration(broker, topic_name):
    import datetime
    import time
    from confluent_kafka import Consumer, TopicPartition as TP
    create_topic(broker.bootstrap, topic_name, partitions=2)
    base = int(time.time() * 1000) - 3_600_000  # an hour ago
    _produce_timestamped(broker.bootstrap, topic_name, 2, 10, base)
    b = f"--bootstrap-server={broker.bootstrap}"
    group = f"g-{topic_name}"
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    c.commit(offsets=[TP(topic_name, p, 5) for p in range(2)], asynchronous=False)
    c.close()

    # --shift-by moves from the committed offset and is clamped to the log; --dry-run commits nothing.
    assert _reset(b, group, "--topic", topic_name, "--shift-by", "-2", "--execute") == {(topic_name, 0): 3, (topic_name, 1): 3}
    assert _committed(broker.bootstrap, group, topic_name, 2) == {0: 3, 1: 3}
    assert _reset(b, group, "--topic", topic_name, "--shift-by", "100", "--dry-run") == {(topic_name, 0): 10, (topic_name, 1): 10}
    assert _committed(broker.bootstrap, group, topic_name, 2) == {0: 3, 1: 3}
    # --topic t:p limits the reset to the listed partitions.
    assert _reset(b, group, "--topic", f"{topic_name}:1", "--shift-by", "-10", "--execute") == {(topic_name, 1): 0}
    assert _committed(broker.bootstrap, group, topic_name, 2) == {0: 3, 1: 0}

    # --to-datetime, in UTC and in the local zone, agrees with confluent-kafka's offsets_for_times.
    target = base + 3500
    utc = datetime.datetime.fromtimestamp(target / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    local = datetime.datetime.fromtimestamp(target / 1000).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    expected = {(tp.topic, tp.partition): tp.offset
                for tp in c.offsets_for_times([TP(topic_name, p, target) for p in range(2)], timeout=10)}
    c.close()
    assert expected == {(topic_name, 0): 4, (topic_name, 1): 4}
    assert _reset(b, group, "--all-topics", "--to-datetime", utc + "Z", "--execute") == expected
    assert _committed(broker.bootstrap, group, topic_name, 2) == {0: 4, 1: 4}
    assert _reset(b, group, "--topic", topic_name, "--to-datetime", local, "--dry-run") == expected
    assert _reset(b, group, "--topic", topic_name, "--to-datetime", utc + "+00:00", "--dry-run") == expected

    # --by-duration: records an hour old are before "10 minutes ago" (log end) and after "1 day ago" (start).
    assert _reset(b, group, "--topic", topic_name, "--by-duration", "PT10M", "--dry-run") == {(topic_name, 0): 10, (topic_name, 1): 10}
    assert _reset(b, group, "--topic", topic_name, "--by-duration", "P1DT0H", "--dry-run") == {(topic_name, 0): 0, (topic_name, 1): 0}
    bad = tern("consumer-groups", b, "--reset-offsets", "--group", group, "--topic", topic_name, "--to-datetime",
               "yesterday", "--dry-run", check=False)
    assert bad.returncode != 0 and b"YYYY-MM-DDTHH:mm:SS.sss" in bad.stderr
    bad = tern("consumer-groups", b, "--reset-offsets", "--group", group, "--topic", topic_name, "--by-duration",
               "10 minutes", "--dry-run", check=False)
    assert bad.returncode != 0 and b"PnDTnHnMnS" in bad.stderr


def test_console_consumer_isolation_level_against_confluent_transactions(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, partitions=1)
    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": f"tx-{topic_name}"})
    p.init_transactions(30)
    p.begin_transaction()
    for i in range(3):
        p.produce(topic_name, value=f"committed{i}".encode())
    p.commit_transaction(30)
    p.begin_transaction()
    for i in range(2):
        p.produce(topic_name, value=f"aborted{i}".encode())
    p.flush(10)  # librdkafka drops unsent records on abort; these must reach the log first
    p.abort_transaction(30)
    p.begin_transaction()
    p.produce(topic_name, value=b"committed3")
    p.commit_transaction(30)
    b = f"--bootstrap-server={broker.bootstrap}"

    def read(level: str) -> list[str]:
        cp = tern("console-consumer", b, "--topic", topic_name, "--from-beginning", "--timeout-ms", "3000",
                  "--isolation-level", level, check=False)
        return cp.stdout.decode().split()

    assert read("read_committed") == ["committed0", "committed1", "committed2", "committed3"]
    assert read("read_uncommitted") == ["committed0", "committed1", "committed2", "aborted0", "aborted1", "committed3"]
    # confluent-kafka's read_committed consumer sees the same records.
    got = consume_confluent(broker.bootstrap, topic_name, 1, 4)
    assert [m.value.decode() for m in got] == ["committed0", "committed1", "committed2", "committed3"]
    bad = tern("console-consumer", b, "--topic", topic_name, "--isolation-level", "dirty", check=False)
    assert bad.returncode != 0


def test_console_consumer_include_pattern(broker, topic_name):
    from confluent_kafka import Consumer
    import time
    for suffix in ("a", "b", "other"):
        name = f"{topic_name}-{suffix}" if suffix != "other" else f"x{topic_name}"
        create_topic(broker.bootstrap, name, partitions=2)
        produce_confluent(broker.bootstrap, name, [Rec(f"k{i}".encode(), f"{name}:{i}".encode()) for i in range(5)])
    b = f"--bootstrap-server={broker.bootstrap}"
    cp = tern("console-consumer", b, "--include", f"{topic_name}-.*", "--from-beginning", "--max-messages", "10")
    ours = sorted(cp.stdout.decode().split())
    assert ours == sorted(f"{topic_name}-{s}:{i}" for s in "ab" for i in range(5))

    # confluent-kafka subscribed to the same pattern reads the same records.
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": f"inc-{topic_name}", "auto.offset.reset": "earliest"})
    c.subscribe([f"^{topic_name}-.*"])
    theirs, deadline = [], time.time() + 30
    while len(theirs) < 10 and time.time() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            theirs.append(m.value().decode())
    c.close()
    assert sorted(theirs) == ours
    bad = tern("console-consumer", b, "--include", "x", "--topic", topic_name, check=False)
    assert bad.returncode != 0


@pytest.mark.groups
@pytest.mark.parametrize("strategy", ["cooperative-sticky", "roundrobin"])
def test_tern_and_confluent_share_a_group_with_the_same_assignor(broker, topic_name, strategy):
    """A `tern console-consumer` and a confluent-kafka consumer in one group, both on `strategy`: they agree on the
    protocol name (and, for cooperative-sticky, the owned-partitions field), split four partitions 2/2 and
    together read every record once."""
    import subprocess as sp
    import time
    from confluent_kafka import Consumer
    create_topic(broker.bootstrap, topic_name, partitions=4)
    group = f"g-{topic_name}"
    proc = sp.Popen([str(tern_binary()), "console-consumer", f"--bootstrap-server={broker.bootstrap}", "--topic",
                     topic_name, "--group", group, "--timeout-ms", "10000", "--consumer-property",
                     f"partition.assignment.strategy={strategy}", "--consumer-property", "heartbeat.interval.ms=500"],
                    stdout=sp.PIPE, stderr=sp.PIPE)
    time.sleep(2)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "partition.assignment.strategy": strategy, "heartbeat.interval.ms": 500})
    c.subscribe([topic_name])
    theirs: list[str] = []
    deadline = time.time() + 30
    while len(c.assignment()) != 2 and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            theirs.append(m.value().decode())
    assert len(c.assignment()) == 2
    produce_confluent(broker.bootstrap, topic_name, [Rec(f"k{i}".encode(), f"v{i}".encode()) for i in range(200)])
    deadline = time.time() + 5
    while time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            theirs.append(m.value().decode())
    c.close()
    ours = proc.communicate(timeout=60)[0].decode().split()
    assert theirs and ours
    assert sorted(theirs + ours) == sorted(f"v{i}" for i in range(200))


def test_console_tools_interoperate_with_kafka_python(broker, topic_name):
    """tern's Swift producer and consumer against kafka-python, a client that shares no code with librdkafka."""
    from kafka import KafkaConsumer as PyConsumer, KafkaProducer as PyProducer, TopicPartition as PyTP

    create_topic(broker.bootstrap, topic_name, partitions=2)
    # Swift producer -> kafka-python consumer: keys, values, a null key and non-ASCII text arrive intact.
    lines = [f"key-{i % 5}|value-{i}-é✓" for i in range(300)] + ["null|keyless"]
    tern("console-producer", f"--bootstrap-server={broker.bootstrap}", "--topic", topic_name,
         "--property", "parse.key=true", "--property", "key.separator=|", "--property", "null.marker=null",
         "--producer-property", "linger.ms=5", input="\n".join(lines) + "\n")
    consumer = PyConsumer(bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
                          consumer_timeout_ms=10000)
    consumer.assign([PyTP(topic_name, 0), PyTP(topic_name, 1)])
    got = []
    for m in consumer:
        got.append(m)
        if len(got) == len(lines):
            break
    consumer.close()
    expected = [(None if k == "null" else k.encode(), v.encode()) for k, v in (line.split("|") for line in lines)]
    assert sorted(((m.key, m.value) for m in got), key=lambda kv: (kv[0] or b"", kv[1])) == \
        sorted(expected, key=lambda kv: (kv[0] or b"", kv[1]))
    assert all(m.headers == [] for m in got)
    # Records with one key sit in one partition in the order they were sent.
    for k in range(5):
        values = [m.value for m in sorted(got, key=lambda m: m.offset) if m.key == f"key-{k}".encode()]
        assert len({m.partition for m in got if m.key == f"key-{k}".encode()}) == 1
        assert values == [f"value-{i}-é✓".encode() for i in range(300) if i % 5 == k]

    # kafka-python producer -> tern console-consumer: keys, values and headers printed as Kafka's formatter does.
    other = topic_name + "-py"
    create_topic(broker.bootstrap, other, partitions=1)
    producer = PyProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5)
    for i in range(100):
        producer.send(other, key=f"k{i}".encode(), value=f"v{i}".encode(),
                      headers=[("h", str(i).encode()), ("n", b"py")], partition=0)
    producer.flush()
    producer.close()
    cp = tern("console-consumer", f"--bootstrap-server={broker.bootstrap}", "--topic", other, "--from-beginning",
              "--max-messages", "100", "--property", "print.key=true", "--property", "print.offset=true",
              "--property", "print.headers=true")
    out = cp.stdout.decode().rstrip("\n").split("\n")
    assert out == [f"Offset:{i}\th:{i},n:py\tk{i}\tv{i}" for i in range(100)]
