"""Raw Kafka wire protocol over a plain socket, for tests that need exact bytes.

Real clients hide what the broker answers to odd input (unsupported versions, garbage, oversized frames,
pipelining). This module writes frames by hand: a frame is an Int32 size followed by that many bytes; a request
starts with a header (v1: api_key, api_version, correlation_id, client_id as a classic nullable string; v2 adds
tagged fields, client_id stays classic) and a response starts with correlation_id (header v0; v1 adds tagged fields,
but ApiVersions responses always use v0).

The ApiVersions and Metadata encoders and the ApiVersions decoder are written here independently of any client
library; test_harness.py checks them against kafka-python's schema-driven protocol classes. For every other API,
`kp_request()` lets a test send any kafka-python message class over a RawConnection and decode the answer.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field

# ---- primitives -------------------------------------------------------------------------------------------------


class Writer:
    def __init__(self) -> None:
        self.buf = bytearray()

    def int8(self, v: int) -> "Writer":
        self.buf += struct.pack(">b", v)
        return self

    def int16(self, v: int) -> "Writer":
        self.buf += struct.pack(">h", v)
        return self

    def int32(self, v: int) -> "Writer":
        self.buf += struct.pack(">i", v)
        return self

    def int64(self, v: int) -> "Writer":
        self.buf += struct.pack(">q", v)
        return self

    def boolean(self, v: bool) -> "Writer":
        return self.int8(1 if v else 0)

    def uvarint(self, v: int) -> "Writer":
        while True:
            b = v & 0x7F
            v >>= 7
            if v:
                self.buf.append(b | 0x80)
            else:
                self.buf.append(b)
                return self

    def string(self, s: str | None) -> "Writer":
        """Classic (nullable) string: Int16 length, -1 for null."""
        if s is None:
            return self.int16(-1)
        b = s.encode()
        self.int16(len(b))
        self.buf += b
        return self

    def compact_string(self, s: str | None) -> "Writer":
        """Compact (nullable) string: unsigned varint length+1, 0 for null."""
        if s is None:
            return self.uvarint(0)
        b = s.encode()
        self.uvarint(len(b) + 1)
        self.buf += b
        return self

    def uuid(self, u: bytes | None) -> "Writer":
        self.buf += u if u is not None else bytes(16)
        return self

    def empty_tags(self) -> "Writer":
        return self.uvarint(0)

    def raw(self, b: bytes) -> "Writer":
        self.buf += b
        return self

    def bytes(self) -> bytes:
        return bytes(self.buf)


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"short read: need {n} at {self.pos}, have {len(self.data) - self.pos}")
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def int8(self) -> int:
        return struct.unpack(">b", self._take(1))[0]

    def int16(self) -> int:
        return struct.unpack(">h", self._take(2))[0]

    def int32(self) -> int:
        return struct.unpack(">i", self._take(4))[0]

    def int64(self) -> int:
        return struct.unpack(">q", self._take(8))[0]

    def uvarint(self) -> int:
        shift = v = 0
        while True:
            b = self._take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7
            if shift > 28:
                raise ValueError("uvarint too long")

    def string(self) -> str | None:
        n = self.int16()
        return None if n < 0 else self._take(n).decode()

    def compact_string(self) -> str | None:
        n = self.uvarint()
        return None if n == 0 else self._take(n - 1).decode()

    def skip_tags(self) -> dict[int, bytes]:
        tags = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            tags[tag] = self._take(self.uvarint())
        return tags

    def remaining(self) -> int:
        return len(self.data) - self.pos


# ---- headers and frames -----------------------------------------------------------------------------------------

API_VERSIONS = 18
METADATA = 3

# First flexible version of the APIs this module encodes by hand (Kafka 4.0 schemas).
_FLEXIBLE_FROM = {API_VERSIONS: 3, METADATA: 9}


def request_header(api_key: int, api_version: int, correlation_id: int, client_id: str | None = "tern-tests",
                   header_version: int = 1) -> bytes:
    """Request header v1 (classic) or v2 (flexible: v1 plus empty tagged fields). client_id is never compact."""
    w = Writer().int16(api_key).int16(api_version).int32(correlation_id).string(client_id)
    if header_version >= 2:
        w.empty_tags()
    return w.bytes()


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def header_version_for(api_key: int, api_version: int) -> int:
    first_flexible = _FLEXIBLE_FROM.get(api_key)
    return 2 if first_flexible is not None and api_version >= first_flexible else 1


# ---- ApiVersions ------------------------------------------------------------------------------------------------


def api_versions_request_body(version: int, software_name: str = "tern-tests", software_version: str = "1.0") -> bytes:
    """v0-2 have an empty body; v3+ (and any unknown future version) carry the client software name and version."""
    if version < 3:
        return b""
    return Writer().compact_string(software_name).compact_string(software_version).empty_tags().bytes()


@dataclass
class ApiVersionsResult:
    error_code: int
    api_keys: dict[int, tuple[int, int]]  # api_key -> (min_version, max_version)
    throttle_time_ms: int = 0
    tags: dict[int, bytes] = field(default_factory=dict)
    decoded_as_version: int = 0


def decode_api_versions_response(body: bytes, version: int) -> ApiVersionsResult:
    """Decode an ApiVersions response body (header already stripped; it is always v0).

    A broker answers an unsupported request version with error_code != 0 in a v0 body, whatever version was asked,
    so as Kafka's clients do we fall back to v0 when the error code is set.
    """
    r = Reader(body)
    error_code = r.int16()
    if error_code != 0:
        version = 0
    keys: dict[int, tuple[int, int]] = {}
    if version >= 3:
        n = r.uvarint() - 1
        for _ in range(max(n, 0)):
            k, lo, hi = r.int16(), r.int16(), r.int16()
            r.skip_tags()
            keys[k] = (lo, hi)
        throttle = r.int32()
        tags = r.skip_tags()
        return ApiVersionsResult(error_code, keys, throttle, tags, version)
    n = r.int32()
    for _ in range(max(n, 0)):
        k, lo, hi = r.int16(), r.int16(), r.int16()
        keys[k] = (lo, hi)
    throttle = r.int32() if version >= 1 else 0
    return ApiVersionsResult(error_code, keys, throttle, {}, version)


# ---- Metadata ---------------------------------------------------------------------------------------------------


def metadata_request_body(version: int, topics: list[str] | None = None, allow_auto_topic_creation: bool = True) -> bytes:
    """Metadata request, versions 1-12. topics=None asks for all topics (null array)."""
    if not 1 <= version <= 12:
        raise ValueError("metadata_request_body supports versions 1-12")
    w = Writer()
    flexible = version >= 9
    if topics is None:
        w.uvarint(0) if flexible else w.int32(-1)
    else:
        w.uvarint(len(topics) + 1) if flexible else w.int32(len(topics))
        for t in topics:
            if version >= 10:
                w.uuid(None)
            w.compact_string(t) if flexible else w.string(t)
            if flexible:
                w.empty_tags()
    if version >= 4:
        w.boolean(allow_auto_topic_creation)
    if 8 <= version <= 10:
        w.boolean(False)  # include_cluster_authorized_operations
    if version >= 8:
        w.boolean(False)  # include_topic_authorized_operations
    if flexible:
        w.empty_tags()
    return w.bytes()


# ---- connection -------------------------------------------------------------------------------------------------


class ConnectionClosed(Exception):
    pass


class RawConnection:
    """A blocking socket speaking Kafka frames. Every wait is bounded by `timeout` seconds."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self._next_correlation_id = 1

    @classmethod
    def to(cls, bootstrap: str, timeout: float = 10.0) -> "RawConnection":
        host, port = bootstrap.rsplit(":", 1)
        return cls(host, int(port), timeout)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RawConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def next_correlation_id(self) -> int:
        cid = self._next_correlation_id
        self._next_correlation_id += 1
        return cid

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_request(self, api_key: int, api_version: int, body: bytes, correlation_id: int | None = None,
                     header_version: int | None = None, client_id: str | None = "tern-tests") -> int:
        """Frame and send one request; returns its correlation id."""
        cid = self.next_correlation_id() if correlation_id is None else correlation_id
        hv = header_version_for(api_key, api_version) if header_version is None else header_version
        self.send_raw(frame(request_header(api_key, api_version, cid, client_id, hv) + body))
        return cid

    def _recv_exact(self, n: int) -> bytes:
        chunks = []
        deadline = time.monotonic() + self.timeout
        while n:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            b = self.sock.recv(n)
            if not b:
                raise ConnectionClosed("broker closed the connection")
            chunks.append(b)
            n -= len(b)
        return b"".join(chunks)

    def recv_frame(self, max_size: int = 64 * 1024 * 1024) -> bytes:
        (size,) = struct.unpack(">i", self._recv_exact(4))
        if not 0 <= size <= max_size:
            raise ValueError(f"response frame size {size} out of bounds")
        return self._recv_exact(size)

    def recv_response(self, header_version: int = 0) -> tuple[int, bytes]:
        """Read one response frame; returns (correlation_id, body). Header v1 has tagged fields after the id."""
        r = Reader(self.recv_frame())
        cid = r.int32()
        if header_version >= 1:
            r.skip_tags()
        return cid, r.data[r.pos :]

    def is_closed_by_peer(self, within: float = 5.0) -> bool:
        """True if the broker closes (EOF or reset) within `within` seconds without sending anything more."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                b = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not b:
                return True
        return False

    # -- convenience -------------------------------------------------------------------------------------------

    def api_versions(self, version: int = 3) -> ApiVersionsResult:
        cid = self.send_request(API_VERSIONS, version, api_versions_request_body(version))
        got, body = self.recv_response(header_version=0)  # ApiVersions responses always use header v0
        if got != cid:
            raise AssertionError(f"correlation id {got}, expected {cid}")
        return decode_api_versions_response(body, version)


# ---- any API through kafka-python's protocol classes -------------------------------------------------------------


def _convert(struct_, vals: dict) -> dict:
    out = {}
    for k, v in vals.items():
        f = struct_.fields.get(k)
        if f is not None and v is not None and f.is_struct_array():
            v = [f.data_class(**_convert(f, e)) if isinstance(e, dict) else e for e in v]
        elif f is not None and isinstance(v, dict) and f.is_struct():
            v = f.data_class(**_convert(f, v))
        out[k] = v
    return out


def kp_build(message_class, version: int, **fields):
    """Build a kafka-python request object from plain dicts/lists, e.g.
    kp_build(HeartbeatRequest, 4, group_id='g', generation_id=1, member_id='m', group_instance_id=None)."""
    return message_class[version](**_convert(message_class._struct, fields))


def kp_request(conn: RawConnection, request_class, response_class, version: int, **fields):
    """Send one request built with kp_build over `conn` and decode the answer with kafka-python's response class."""
    req = kp_build(request_class, version, **fields)
    body = req.encode()
    flexible = request_class.flexible_version_q(version)
    cid = conn.send_request(request_class.API_KEY, version, body, header_version=2 if flexible else 1)
    got, resp = conn.recv_response(header_version=1 if (flexible and request_class.API_KEY != API_VERSIONS) else 0)
    if got != cid:
        raise AssertionError(f"correlation id {got}, expected {cid}")
    return response_class.decode(resp, version=version)
