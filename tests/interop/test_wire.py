"""Issue 2 - wire protocol: handshake, metadata, framing limits, bad input, pipelining.

Expected answers are Apache Kafka 4.0's: ApiVersions answers an unsupported version with UNSUPPORTED_VERSION (35)
in a v0 body listing the supported ranges; a request with an unknown API key, a frame larger than
socket.request.max.bytes, or bytes that do not parse close that connection and only that one.
"""

import asyncio
import json
import re
import socket
import struct

import pytest
from confluent_kafka.admin import AdminClient
from kafka.protocol.metadata import MetadataResponse

import rawkafka as rk
from clients import kcat

pytestmark = pytest.mark.wire

UNSUPPORTED_VERSION = 35


def assert_serves(broker):
    """The broker still answers a fresh client."""
    with rk.RawConnection.to(broker.bootstrap) as c:
        assert c.api_versions(3).error_code == 0


# ---- real clients ----------------------------------------------------------------------------------------------------


def test_kcat_lists_broker(broker):
    out = kcat("-L", "-b", broker.bootstrap, "-m", "10", timeout=30).stdout.decode()
    assert re.search(rf"broker 0 at {re.escape(broker.bootstrap)}", out), out
    j = json.loads(kcat("-L", "-J", "-b", broker.bootstrap, "-m", "10", timeout=30).stdout)
    assert [(b["id"], b["name"]) for b in j["brokers"]] == [(0, broker.bootstrap)]


def test_confluent_admin_list_topics(broker):
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    assert set(md.brokers) == {0}
    b = md.brokers[0]
    assert (b.host, b.port) == (broker.host, broker.port)
    assert md.controller_id == 0
    assert md.cluster_id


def test_kafka_python_describe_cluster(broker):
    from kafka import KafkaAdminClient
    a = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000)
    try:
        d = a.describe_cluster()
    finally:
        a.close()
    brokers = [(b["broker_id"], b["host"], b["port"]) for b in d["brokers"]]
    assert brokers == [(0, broker.host, broker.port)]
    assert d["controller_id"] == 0
    assert d["cluster_id"]


def test_aiokafka_connects(broker):
    from aiokafka import AIOKafkaClient

    async def run():
        c = AIOKafkaClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000)
        await asyncio.wait_for(c.bootstrap(), 15)
        try:
            return [(b.nodeId, b.host, b.port) for b in c.cluster.brokers()]
        finally:
            await c.close()

    assert asyncio.run(run()) == [(0, broker.host, broker.port)]


# ---- ApiVersions -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1, 2, 3, 4])
def test_api_versions_supported_versions(broker, version):
    with rk.RawConnection.to(broker.bootstrap) as c:
        r = c.api_versions(version)
    assert r.error_code == 0
    assert r.api_keys[rk.API_VERSIONS] == (0, 4)
    assert rk.METADATA in r.api_keys
    for key, (lo, hi) in r.api_keys.items():
        assert 0 <= lo <= hi, f"api key {key}: bad range {lo}-{hi}"


def test_api_versions_v3_advertises_core_apis(broker):
    with rk.RawConnection.to(broker.bootstrap) as c:
        r = c.api_versions(3)
    # Produce, Fetch, ListOffsets, Metadata, ApiVersions, CreateTopics must be there for any client to work.
    for key in (0, 1, 2, 3, 18, 19):
        assert key in r.api_keys, f"api key {key} not advertised"


def test_api_versions_unsupported_version_answers_v0_error_35(broker):
    with rk.RawConnection.to(broker.bootstrap) as c:
        cid = c.send_request(rk.API_VERSIONS, 99, rk.api_versions_request_body(99), header_version=2)
        got, body = c.recv_response(header_version=0)
        assert got == cid
        # A v0 body: error_code, then an Int32-counted array of (key, min, max) and nothing else.
        r = rk.Reader(body)
        assert r.int16() == UNSUPPORTED_VERSION
        n = r.int32()
        ranges = {}
        for _ in range(n):
            k, lo, hi = r.int16(), r.int16(), r.int16()
            ranges[k] = (lo, hi)
        assert r.remaining() == 0, "v0 error body must not carry v1+ fields"
        assert ranges[rk.API_VERSIONS] == (0, 4)
        # The client then retries with a version from the list, on the same connection.
        assert c.api_versions(3).error_code == 0


# ---- Metadata over raw frames ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 4, 9, 12])
def test_raw_metadata(broker, version):
    with rk.RawConnection.to(broker.bootstrap) as c:
        cid = c.send_request(rk.METADATA, version, rk.metadata_request_body(version, None))
        got, body = c.recv_response(header_version=1 if version >= 9 else 0)
    assert got == cid
    md = MetadataResponse.decode(body, version=version)
    assert [(b.node_id, b.host, b.port) for b in md.brokers] == [(0, broker.host, broker.port)]
    assert md.controller_id == 0


# ---- bad input ---------------------------------------------------------------------------------------------------------


def test_unknown_api_key_closes_only_that_connection(broker):
    with rk.RawConnection.to(broker.bootstrap) as other, rk.RawConnection.to(broker.bootstrap) as bad:
        assert other.api_versions(3).error_code == 0
        bad.send_request(32000, 0, b"")
        assert bad.is_closed_by_peer(within=5), "unknown api key must close the connection"
        assert other.api_versions(3).error_code == 0
    assert_serves(broker)


def test_frame_over_socket_request_max_bytes_closes(broker_factory):
    b = broker_factory(socket_request_max_bytes=4096)
    with rk.RawConnection.to(b.bootstrap) as other, rk.RawConnection.to(b.bootstrap) as bad:
        # Only the size prefix and a little of the body: the broker must refuse from the size alone, without
        # waiting for (or allocating) 1 MB.
        bad.send_raw(struct.pack(">i", 1_000_000) + b"\x00" * 100)
        assert bad.is_closed_by_peer(within=5), "oversized frame must close the connection"
        assert other.api_versions(3).error_code == 0
    # A request just under the limit still works.
    with rk.RawConnection.to(b.bootstrap) as c:
        cid = c.send_request(rk.METADATA, 12, rk.metadata_request_body(12, ["t" * 200], allow_auto_topic_creation=False))
        assert c.recv_response(header_version=1)[0] == cid


def test_negative_frame_size_closes(broker):
    with rk.RawConnection.to(broker.bootstrap) as bad:
        bad.send_raw(struct.pack(">i", -5) + b"junk")
        assert bad.is_closed_by_peer(within=5)
    assert_serves(broker)


@pytest.mark.parametrize("payload", [
    b"\x00",                                   # shorter than a request header
    b"\x00\x12\x00\x03\x00\x00\x00\x01\x7f\xff",  # ApiVersions v3 header whose client_id length overruns the frame
    bytes(range(256)) * 4,                     # noise
], ids=["short", "overrun", "noise"])
def test_garbage_frame_closes_or_errors(broker, payload):
    with rk.RawConnection.to(broker.bootstrap) as other, rk.RawConnection.to(broker.bootstrap) as bad:
        bad.send_raw(rk.frame(payload))
        try:
            closed = bad.is_closed_by_peer(within=5)
        except OSError:
            closed = True
        assert closed, "a frame that does not parse must close the connection"
        assert other.api_versions(3).error_code == 0
    assert_serves(broker)


def test_truncated_frame_then_half_close(broker):
    with rk.RawConnection.to(broker.bootstrap) as bad:
        bad.send_raw(struct.pack(">i", 200) + b"\x00\x12\x00\x03")
        bad.sock.shutdown(socket.SHUT_WR)
        assert bad.is_closed_by_peer(within=5)
    assert_serves(broker)


def test_client_disconnecting_mid_request_does_not_hurt_broker(broker):
    for _ in range(20):
        s = socket.create_connection((broker.host, broker.port), timeout=5)
        s.sendall(struct.pack(">i", 50) + b"\x00\x03\x00")
        s.close()
    assert_serves(broker)


# ---- ordering ----------------------------------------------------------------------------------------------------------


def test_pipelined_requests_answered_in_order(broker):
    with rk.RawConnection.to(broker.bootstrap) as c:
        sent = []
        frames = b""
        for i in range(40):
            cid = 1000 + i * 7
            if i % 3 == 0:
                frames += rk.frame(rk.request_header(rk.API_VERSIONS, 3, cid, "pipe", 2) + rk.api_versions_request_body(3))
                sent.append((cid, 0))
            elif i % 3 == 1:
                frames += rk.frame(rk.request_header(rk.METADATA, 12, cid, "pipe", 2) + rk.metadata_request_body(12, None))
                sent.append((cid, 1))
            else:
                frames += rk.frame(rk.request_header(rk.METADATA, 1, cid, "pipe", 1) + rk.metadata_request_body(1, []))
                sent.append((cid, 0))
        c.send_raw(frames)  # all at once, in one write
        got = [c.recv_response(header_version=hv)[0] for _, hv in sent]
    assert got == [cid for cid, _ in sent]


def test_many_concurrent_connections(broker):
    conns = [rk.RawConnection.to(broker.bootstrap) for _ in range(50)]
    try:
        for c in conns:
            c.send_request(rk.API_VERSIONS, 3, rk.api_versions_request_body(3))
        for c in conns:
            cid, body = c.recv_response(0)
            assert rk.decode_api_versions_response(body, 3).error_code == 0
    finally:
        for c in conns:
            c.close()


def _server_side_skmem(port: int) -> dict[str, int]:
    """The kernel's socket memory figures (ss -tm) of the broker's end of the one connection to `port`."""
    import subprocess
    out = subprocess.run(["ss", "-tmnH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"skmem:\(([^)]*)\)", out)
    assert m, out
    return {re.match(r"[a-z_]+", f).group(): int(re.sub(r"^[a-z_]+", "", f)) for f in m.group(1).split(",")}


@pytest.mark.parametrize("send, receive", [(65536, 262144), (-1, -1)])
def test_socket_buffer_configs_size_accepted_connections(broker_factory, send, receive):
    """socket.send.buffer.bytes / socket.receive.buffer.bytes set SO_SNDBUF / SO_RCVBUF of client connections (the
    kernel reports twice the value set); -1 leaves the kernel's defaults (tcp_wmem / tcp_rmem's middle value)."""
    b = broker_factory(socket_send_buffer_bytes=send, socket_receive_buffer_bytes=receive)
    with rk.RawConnection("127.0.0.1", b.port) as conn:
        conn.send_request(18, 3, rk.api_versions_request_body(3))
        conn.recv_response()  # the broker has accepted and served the connection
        skmem = _server_side_skmem(b.port)
    if send > 0:
        assert skmem["tb"] == 2 * send and skmem["rb"] == 2 * receive, skmem
    else:
        wmem = int(open("/proc/sys/net/ipv4/tcp_wmem").read().split()[1])
        rmem = int(open("/proc/sys/net/ipv4/tcp_rmem").read().split()[1])
        assert skmem["tb"] >= wmem and skmem["rb"] >= rmem and skmem["tb"] != 2 * 102400, skmem
