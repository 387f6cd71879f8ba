"""Issue 3 - produce and fetch with every client library: thousands of keyed records with headers to a
3-partition topic, read back intact, offsets dense from 0 per partition, per-key order kept, headers equal.
Also oversized records and the idempotent producer."""

import os

import pytest
from confluent_kafka import KafkaError

from clients import (Rec, check_roundtrip, consume_aiokafka, consume_confluent, consume_kafka_python, consume_kcat,
                     create_topic, make_records, produce_aiokafka, produce_confluent, produce_kafka_python,
                     produce_kcat, watermarks)

pytestmark = pytest.mark.broker

N = 20000  # "tens of thousands" of keyed records with headers per client and codec
PARTITIONS = 3


@pytest.mark.parametrize("compression", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_confluent_roundtrip(broker, topic_name, compression):
    create_topic(broker.bootstrap, topic_name, PARTITIONS)
    recs = make_records(N)
    delivered, _ = produce_confluent(broker.bootstrap, topic_name, recs,
                                     {"compression.type": compression, "acks": "all", "batch.num.messages": 500})
    assert len(delivered) == N
    got = consume_confluent(broker.bootstrap, topic_name, PARTITIONS, N)
    check_roundtrip(recs, got)
    # The offsets the producer was told are the offsets the consumer sees.
    assert sorted((m.partition, m.offset, m.value) for m in delivered) == sorted((m.partition, m.offset, m.value) for m in got)
    assert {p: hi for p, (lo, hi) in watermarks(broker.bootstrap, topic_name, PARTITIONS).items()} == \
        {p: sum(1 for m in got if m.partition == p) for p in range(PARTITIONS)}


@pytest.mark.parametrize("compression", [None, "gzip", "snappy", "lz4", "zstd"])
def test_kafka_python_roundtrip(broker, topic_name, compression):
    create_topic(broker.bootstrap, topic_name, PARTITIONS)
    recs = make_records(N)
    produce_kafka_python(broker.bootstrap, topic_name, recs, compression_type=compression, acks="all")
    got = consume_kafka_python(broker.bootstrap, topic_name, PARTITIONS, N)
    check_roundtrip(recs, got)


@pytest.mark.parametrize("compression", [None, "gzip", "snappy", "lz4", "zstd"])
def test_aiokafka_roundtrip(broker, topic_name, compression):
    create_topic(broker.bootstrap, topic_name, PARTITIONS)
    recs = make_records(N)
    produce_aiokafka(broker.bootstrap, topic_name, recs, compression_type=compression, acks="all")
    got = consume_aiokafka(broker.bootstrap, topic_name, PARTITIONS, N)
    check_roundtrip(recs, got)


def test_kcat_roundtrip(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, PARTITIONS)
    recs = [Rec(r.key, r.value, (("origin", b"kcat"),)) for r in make_records(N, headers=False)]
    produce_kcat(broker.bootstrap, topic_name, recs, header=("origin", "kcat"))
    got = consume_kcat(broker.bootstrap, topic_name)
    check_roundtrip(recs, got)


def test_cross_client_read(broker, topic_name):
    """Written by one library, read by every other one."""
    create_topic(broker.bootstrap, topic_name, PARTITIONS)
    recs = make_records(500)
    produce_kafka_python(broker.bootstrap, topic_name, recs)
    check_roundtrip(recs, consume_confluent(broker.bootstrap, topic_name, PARTITIONS, len(recs)))
    check_roundtrip(recs, consume_aiokafka(broker.bootstrap, topic_name, PARTITIONS, len(recs)))
    got = consume_kcat(broker.bootstrap, topic_name)
    assert sorted(m.value for m in got) == sorted(r.value for r in recs)


def test_null_key_and_empty_value(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, 1)
    recs = [Rec(None, b"no-key"), Rec(b"k", b""), Rec(b"k2", b"v", (("empty", b""),))]
    produce_confluent(broker.bootstrap, topic_name, recs)
    got = consume_confluent(broker.bootstrap, topic_name, 1, 3)
    assert [(m.key, m.value or b"", m.headers) for m in sorted(got, key=lambda m: m.offset)] == \
        [(None, b"no-key", ()), (b"k", b"", ()), (b"k2", b"v", (("empty", b""),))]


def test_oversized_record_rejected_alone(broker_factory, topic_name):
    b = broker_factory(message_max_bytes=100_000)
    create_topic(b.bootstrap, topic_name, PARTITIONS)
    conf = {"compression.type": "none", "message.max.bytes": 1_000_000, "message.send.max.retries": 0,
            "acks": "all"}
    small = make_records(300, prefix="small")
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5, **conf})
    results = []
    big_value = os.urandom(200_000)  # random: compression cannot shrink it under the limit
    for i, r in enumerate(small):
        p.produce(topic_name, r.value, r.key, partition=i % 2, on_delivery=lambda e, m: results.append(("small", e, m)))
    p.produce(topic_name, big_value, b"big", partition=2, on_delivery=lambda e, m: results.append(("big", e, m)))
    assert p.flush(30) == 0
    p.produce(topic_name, b"after-big", b"k", partition=2, on_delivery=lambda e, m: results.append(("after", e, m)))
    assert p.flush(30) == 0
    errs = {kind: [e for k, e, _ in results if k == kind and e is not None] for kind in ("small", "big", "after")}
    assert not errs["small"] and not errs["after"], errs
    assert len(errs["big"]) == 1 and errs["big"][0].code() == KafkaError.MSG_SIZE_TOO_LARGE, errs["big"]
    got = consume_confluent(b.bootstrap, topic_name, PARTITIONS, 301)
    assert len(got) == 301
    assert [m.value for m in got if m.partition == 2] == [b"after-big"]
    assert [m.offset for m in got if m.partition == 2] == [0]


def test_idempotent_producer_no_duplicates(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, PARTITIONS)
    recs = make_records(5000)
    delivered, _ = produce_confluent(broker.bootstrap, topic_name, recs,
                                     {"enable.idempotence": True, "acks": "all", "batch.num.messages": 200,
                                      "max.in.flight.requests.per.connection": 5})
    assert len(delivered) == len(recs)
    got = consume_confluent(broker.bootstrap, topic_name, PARTITIONS, len(recs))
    check_roundtrip(recs, got)


@pytest.mark.parametrize("magic,compression", [(0, 0), (1, 0), (1, 1)])
def test_legacy_produce_v2_is_stored_as_v2_batches(broker, topic_name, magic, compression):
    """Produce v0-2 carry magic 0/1 message sets (optionally gzip-wrapped); the broker converts them to one v2
    batch, and today's consumers read the records back with their keys and values."""
    from kafka.protocol.old.produce import ProduceRequest_v2, ProduceResponse_v2
    from kafka.record.legacy_records import LegacyRecordBatchBuilder
    import rawkafka as rk
    create_topic(broker.bootstrap, topic_name, 1)
    builder = LegacyRecordBatchBuilder(magic=magic, compression_type=compression, batch_size=1 << 20)
    for i in range(3):
        builder.append(i, timestamp=1_700_000_000_000 + i if magic else None, key=f"k{i}".encode(), value=f"v{i}".encode())
    body = ProduceRequest_v2(required_acks=1, timeout=5000, topics=[(topic_name, [(0, bytes(builder.build()))])]).encode()
    conn = rk.RawConnection(broker.host, broker.port)
    try:
        cid = conn.send_request(0, 2, body, header_version=1)
        got, resp = conn.recv_response(header_version=0)
    finally:
        conn.close()
    assert got == cid
    r = ProduceResponse_v2.decode(resp)
    part = r.topics[0][1][0]
    assert (part[0], part[1], part[2]) == (0, 0, 0), part  # partition 0, no error, base offset 0
    msgs = consume_confluent(broker.bootstrap, topic_name, 1, 3)
    assert [(m.key, m.value, m.offset) for m in msgs] == [(f"k{i}".encode(), f"v{i}".encode(), i) for i in range(3)]


def test_acks0_error_closes_the_connection(broker, topic_name):
    """acks=0 gets no response; when the produce fails (here: a partition that does not exist) Kafka closes the
    connection so the client notices. A good acks=0 produce keeps the connection open and is stored."""
    from kafka.protocol.old.produce import ProduceRequest_v2
    from kafka.record.legacy_records import LegacyRecordBatchBuilder
    import rawkafka as rk
    create_topic(broker.bootstrap, topic_name, 1)

    def body(partition):
        builder = LegacyRecordBatchBuilder(magic=1, compression_type=0, batch_size=1 << 20)
        builder.append(0, timestamp=1_700_000_000_000, key=b"k", value=b"v")
        return ProduceRequest_v2(required_acks=0, timeout=5000,
                                 topics=[(topic_name, [(partition, bytes(builder.build()))])]).encode()

    conn = rk.RawConnection(broker.host, broker.port, timeout=5)
    try:
        conn.send_request(0, 2, body(0), header_version=1)      # fine: no answer, connection stays
        conn.send_request(0, 2, body(99), header_version=1)     # unknown partition: connection closed
        with pytest.raises((rk.ConnectionClosed, ConnectionError)):
            conn.recv_response(header_version=0)
    finally:
        conn.close()
    msgs = consume_confluent(broker.bootstrap, topic_name, 1, 1)
    assert [(m.key, m.value) for m in msgs] == [(b"k", b"v")]
