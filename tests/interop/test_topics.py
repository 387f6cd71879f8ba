"""Issue 3 - topics and admin APIs: auto creation, CreateTopics / DeleteTopics / CreatePartitions, DescribeConfigs,
ListOffsets (earliest, latest, by timestamp), DeleteRecords."""

import time

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import ConfigResource, NewPartitions, NewTopic, OffsetSpec
from kafka.protocol.metadata import MetadataResponse

import rawkafka as rk
from clients import (admin, consume_confluent, create_topic, make_records, produce_confluent, wait_for_topic,
                     watermarks)

pytestmark = pytest.mark.broker

UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_TOPIC_EXCEPTION = 17
TOPIC_ALREADY_EXISTS = 36


def raw_metadata(bootstrap, topics, allow_auto=True, version=12):
    with rk.RawConnection.to(bootstrap) as c:
        c.send_request(rk.METADATA, version, rk.metadata_request_body(version, topics, allow_auto))
        _, body = c.recv_response(header_version=1 if version >= 9 else 0)
    return MetadataResponse.decode(body, version=version)


def topic_names(bootstrap):
    return set(admin(bootstrap).list_topics(timeout=10).topics)


# ---- auto creation ---------------------------------------------------------------------------------------------------


def test_auto_create_on_produce(broker_factory, topic_name):
    b = broker_factory(num_partitions=2)
    recs = make_records(100)
    delivered, _ = produce_confluent(b.bootstrap, topic_name, recs)
    assert len(delivered) == 100
    wait_for_topic(b.bootstrap, topic_name, 2)
    assert len(consume_confluent(b.bootstrap, topic_name, 2, 100)) == 100


def test_auto_create_on_metadata(broker, topic_name):
    deadline = time.monotonic() + 15
    while True:
        md = raw_metadata(broker.bootstrap, [topic_name], allow_auto=True)
        t = md.topics[0]
        # Kafka answers LEADER_NOT_AVAILABLE (5) while the new topic is being created, then 0.
        if t.error_code == 0 and t.partitions:
            break
        assert t.error_code in (0, 5), t
        assert time.monotonic() < deadline, "auto-created topic never became available"
        time.sleep(0.2)
    assert len(t.partitions) == 1  # num.partitions defaults to 1
    assert topic_name in topic_names(broker.bootstrap)


def test_metadata_allow_auto_topic_creation_false(broker, topic_name):
    md = raw_metadata(broker.bootstrap, [topic_name], allow_auto=False)
    assert md.topics[0].error_code == UNKNOWN_TOPIC_OR_PARTITION
    assert topic_name not in topic_names(broker.bootstrap)


def test_auto_create_disabled(broker_factory, topic_name):
    b = broker_factory(auto_create_topics_enable=False)
    md = raw_metadata(b.bootstrap, [topic_name], allow_auto=True)
    assert md.topics[0].error_code == UNKNOWN_TOPIC_OR_PARTITION
    _, failed = produce_confluent(b.bootstrap, topic_name, make_records(3), {"message.timeout.ms": 3000},
                                  timeout=15, raise_on_error=False)
    assert len(failed) == 3
    assert {e.code() for _, e in failed} <= {KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC,
                                             KafkaError._MSG_TIMED_OUT}
    assert topic_name not in topic_names(b.bootstrap)


# ---- create / delete / partitions ----------------------------------------------------------------------------------------


def test_create_and_delete_topics(broker, topic_name):
    a = admin(broker.bootstrap)
    names = [f"{topic_name}-{i}" for i in range(3)]
    for f in a.create_topics([NewTopic(n, i + 1, 1) for i, n in enumerate(names)], operation_timeout=15).values():
        f.result(15)
    for i, n in enumerate(names):
        wait_for_topic(broker.bootstrap, n, i + 1)
    produce_confluent(broker.bootstrap, names[0], make_records(10))
    for f in a.delete_topics(names[:2], operation_timeout=15).values():
        f.result(15)
    deadline = time.monotonic() + 15
    while set(names[:2]) & topic_names(broker.bootstrap):
        assert time.monotonic() < deadline, "deleted topics still listed"
        time.sleep(0.2)
    assert names[2] in topic_names(broker.bootstrap)
    # The name can be reused and starts empty.
    create_topic(broker.bootstrap, names[0], 1)
    assert watermarks(broker.bootstrap, names[0], 1) == {0: (0, 0)}


def test_create_topic_errors(broker, topic_name):
    a = admin(broker.bootstrap)
    create_topic(broker.bootstrap, topic_name, 1)
    with pytest.raises(KafkaException) as e:
        a.create_topics([NewTopic(topic_name, 1, 1)], operation_timeout=10)[topic_name].result(10)
    assert e.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS
    bad = "bad/name"
    with pytest.raises(KafkaException) as e:
        a.create_topics([NewTopic(bad, 1, 1)], operation_timeout=10)[bad].result(10)
    assert e.value.args[0].code() == KafkaError.TOPIC_EXCEPTION  # INVALID_TOPIC_EXCEPTION (17)


def test_create_topic_broker_defaults(broker_factory, topic_name):
    """num_partitions=-1 / replication_factor=-1 mean 'use the broker default'."""
    b = broker_factory(num_partitions=4)
    a = admin(b.bootstrap); a.create_topics([NewTopic(topic_name)], operation_timeout=10)[topic_name].result(10)
    wait_for_topic(b.bootstrap, topic_name, 4)


def test_create_partitions(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, 3)
    a = admin(broker.bootstrap); a.create_partitions([NewPartitions(topic_name, 6)], operation_timeout=10)[topic_name].result(10)
    wait_for_topic(broker.bootstrap, topic_name, 6)
    recs = make_records(600, keys=60)
    produce_confluent(broker.bootstrap, topic_name, recs)
    got = consume_confluent(broker.bootstrap, topic_name, 6, 600)
    assert {m.partition for m in got} == set(range(6))


def test_describe_configs(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, 1, {"retention.ms": 123456, "cleanup.policy": "compact"})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic_name)
    a = admin(broker.bootstrap); entries = a.describe_configs([res])[res].result(10)
    assert entries["retention.ms"].value == "123456"
    assert entries["retention.ms"].source == 1  # DYNAMIC_TOPIC_CONFIG
    assert entries["cleanup.policy"].value == "compact"
    assert entries["segment.bytes"].value == "1073741824"
    assert entries["segment.bytes"].source in (4, 5)  # STATIC_BROKER_CONFIG or DEFAULT_CONFIG
    bres = ConfigResource(ConfigResource.Type.BROKER, "0")
    bentries = a.describe_configs([bres])[bres].result(10)
    assert "log.dirs" in bentries or "log.dir" in bentries


# ---- offsets -------------------------------------------------------------------------------------------------------------


def test_list_offsets(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, 1)
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    base = int(time.time() * 1000) - 100_000
    for i in range(10):
        p.produce(topic_name, f"v{i}".encode(), b"k", partition=0, timestamp=base + i * 1000)
        p.flush(10)  # one batch per record, so timestamps index cleanly
    a = admin(broker.bootstrap)
    tp = TopicPartition(topic_name, 0)

    def lo(spec):
        return a.list_offsets({tp: spec}, request_timeout=10)[tp].result(10).offset

    assert lo(OffsetSpec.earliest()) == 0
    assert lo(OffsetSpec.latest()) == 10
    assert lo(OffsetSpec.for_timestamp(base + 3000)) == 3
    assert lo(OffsetSpec.for_timestamp(base + 3500)) == 4
    assert lo(OffsetSpec.for_timestamp(base - 1)) == 0
    assert lo(OffsetSpec.for_timestamp(base + 10**7)) == -1  # later than every record: no offset
    assert lo(OffsetSpec.max_timestamp()) == 9


def test_delete_records(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, 2)
    produce_confluent(broker.bootstrap, topic_name, [r for r in make_records(200)])
    marks = watermarks(broker.bootstrap, topic_name, 2)
    cut = {p: hi // 2 for p, (lo, hi) in marks.items()}
    a = admin(broker.bootstrap)
    fs = a.delete_records([TopicPartition(topic_name, p, off) for p, off in cut.items()], request_timeout=10)
    for tp, f in fs.items():
        assert f.result(10).low_watermark == cut[tp.partition]
    after = watermarks(broker.bootstrap, topic_name, 2)
    assert {p: lo for p, (lo, hi) in after.items()} == cut
    assert {p: hi for p, (lo, hi) in after.items()} == {p: hi for p, (lo, hi) in marks.items()}
    remaining = sum(marks[p][1] - cut[p] for p in cut)
    got = consume_confluent(broker.bootstrap, topic_name, 2, remaining)
    assert min(m.offset for m in got if m.partition == 0) == cut[0]
    # Delete records past the high watermark: OFFSET_OUT_OF_RANGE.
    fs = a.delete_records([TopicPartition(topic_name, 0, marks[0][1] + 100)], request_timeout=10)
    with pytest.raises(KafkaException) as e:
        list(fs.values())[0].result(10)
    assert e.value.args[0].code() == KafkaError.OFFSET_OUT_OF_RANGE


def test_offset_for_leader_epoch(broker, topic_name):
    """KIP-320: the end offset of the current leader epoch is the log end; an unknown partition is an error."""
    from kafka.protocol.consumer.offsets import OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse
    import rawkafka as rk
    create_topic(broker.bootstrap, topic_name, 1)
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(5):
        p.produce(topic_name, b"v", partition=0)
    assert p.flush(10) == 0
    conn = rk.RawConnection(broker.host, broker.port)
    try:
        r = rk.kp_request(conn, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, 4, replica_id=-1,
                          topics=[{"topic": topic_name, "partitions": [
                              {"partition": 0, "current_leader_epoch": -1, "leader_epoch": 0},
                              {"partition": 7, "current_leader_epoch": -1, "leader_epoch": 0}]}])
    finally:
        conn.close()
    parts = {x.partition: x for x in r.topics[0].partitions}
    assert (parts[0].error_code, parts[0].leader_epoch, parts[0].end_offset) == (0, 0, 5)
    assert parts[7].error_code == 3


def test_topic_names_colliding_on_dot_and_underscore_are_refused(broker):
    """Kafka refuses 'a.b' when 'a_b' exists (their metric names collide): INVALID_TOPIC_EXCEPTION."""
    a = admin(broker.bootstrap)
    a.create_topics([NewTopic("collide_x", 1, 1)])["collide_x"].result(10)
    with pytest.raises(KafkaException) as e:
        a.create_topics([NewTopic("collide.x", 1, 1)])["collide.x"].result(10)
    assert e.value.args[0].code() == KafkaError.TOPIC_EXCEPTION


def test_offsets_for_times_is_exact_within_a_batch(broker, topic_name):
    """ListOffsets by timestamp answers the first *record* at or after the time, even inside one batch; max
    timestamp (-3) answers the record carrying it."""
    from confluent_kafka import Consumer
    create_topic(broker.bootstrap, topic_name, 1)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 100})
    base = 1_700_000_000_000
    for i in range(10):  # one batch: timestamps base, base+10, ..., base+90
        p.produce(topic_name, f"v{i}".encode(), partition=0, timestamp=base + 10 * i)
    assert p.flush(10) == 0
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "oft"})
    try:
        got = c.offsets_for_times([TopicPartition(topic_name, 0, base + 35)], timeout=10)
        assert got[0].offset == 4
        got = c.offsets_for_times([TopicPartition(topic_name, 0, base + 90)], timeout=10)
        assert got[0].offset == 9
        got = c.offsets_for_times([TopicPartition(topic_name, 0, base + 91)], timeout=10)
        assert got[0].offset == -1
    finally:
        c.close()
    a = admin(broker.bootstrap)
    res = a.list_offsets({TopicPartition(topic_name, 0): OffsetSpec.max_timestamp()})
    info = res[TopicPartition(topic_name, 0)].result(10)
    assert (info.offset, info.timestamp) == (9, base + 90)
