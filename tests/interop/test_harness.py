"""Checks of the harness itself, no broker needed: rawkafka's hand-written encoders and decoders agree with
kafka-python's schema-driven protocol classes (an independent implementation of Kafka's JSON message specs)."""

import io

import pytest
from kafka.protocol.api_header import RequestHeader
from kafka.protocol.metadata import ApiVersionsRequest, ApiVersionsResponse, MetadataRequest

import rawkafka as rk
from clients import Msg, Rec, check_roundtrip, make_records

pytestmark = pytest.mark.harness


@pytest.mark.parametrize("header_version", [1, 2])
def test_request_header_decodes_with_kafka_python(header_version):
    raw = rk.request_header(18, 3, 12345, "my-client", header_version)
    hdr = RequestHeader.decode(io.BytesIO(raw), flexible=header_version == 2)
    assert (hdr.request_api_key, hdr.request_api_version, hdr.correlation_id, hdr.client_id) == (18, 3, 12345, "my-client")


def test_request_header_null_client_id():
    raw = rk.request_header(3, 1, 7, None, 1)
    assert raw[-2:] == b"\xff\xff"
    assert RequestHeader.decode(io.BytesIO(raw), flexible=False).client_id is None


@pytest.mark.parametrize("version", [0, 1, 2, 3, 4])
def test_api_versions_request_body(version):
    body = rk.api_versions_request_body(version, "tern-tests", "1.0")
    decoded = ApiVersionsRequest.decode(body, version=version)
    if version >= 3:
        assert decoded.client_software_name == "tern-tests"
        assert decoded.client_software_version == "1.0"
    else:
        assert body == b""


@pytest.mark.parametrize("version", [0, 1, 2, 3, 4])
def test_api_versions_response_decoder(version):
    keys = [{"api_key": 0, "min_version": 3, "max_version": 11}, {"api_key": 18, "min_version": 0, "max_version": 4}]
    resp = rk.kp_build(ApiVersionsResponse, version, error_code=0, api_keys=keys, throttle_time_ms=0)
    got = rk.decode_api_versions_response(resp.encode(), version)
    assert got.error_code == 0
    assert got.api_keys == {0: (3, 11), 18: (0, 4)}


def test_api_versions_error_response_is_read_as_v0():
    """Error 35 comes back v0-encoded whatever version was asked (here v99 -> decoder told 99)."""
    resp = rk.kp_build(ApiVersionsResponse, 0, error_code=35, api_keys=[{"api_key": 18, "min_version": 0, "max_version": 4}])
    got = rk.decode_api_versions_response(resp.encode(), 99)
    assert got.error_code == 35 and got.api_keys == {18: (0, 4)} and got.decoded_as_version == 0


@pytest.mark.parametrize("version", range(1, 13))
@pytest.mark.parametrize("topics", [None, ["a", "topic-b"]])
def test_metadata_request_body(version, topics):
    body = rk.metadata_request_body(version, topics, allow_auto_topic_creation=False)
    decoded = MetadataRequest.decode(body, version=version)
    names = None if decoded.topics is None else [t.name for t in decoded.topics]
    assert names == topics
    if version >= 4:
        assert decoded.allow_auto_topic_creation is False


def test_frame_and_varints():
    assert rk.frame(b"abc") == b"\x00\x00\x00\x03abc"
    for v in (0, 1, 127, 128, 300, 2**21, 2**28 - 1):
        assert rk.Reader(rk.Writer().uvarint(v).bytes()).uvarint() == v


def test_check_roundtrip_accepts_good_and_rejects_reordered():
    recs = make_records(6, keys=2)
    good = [Msg("t", 0 if i % 2 == 0 else 1, i // 2, r.key, r.value, r.headers) for i, r in enumerate(recs)]
    check_roundtrip(recs, good)
    bad = list(good)
    bad[0], bad[2] = (Msg("t", 0, 0, recs[2].key, recs[2].value, recs[2].headers),
                      Msg("t", 0, 1, recs[0].key, recs[0].value, recs[0].headers))
    with pytest.raises(AssertionError):
        check_roundtrip(recs, bad)
    with pytest.raises(AssertionError):
        check_roundtrip(recs + [Rec(b"k", b"v")], good)
