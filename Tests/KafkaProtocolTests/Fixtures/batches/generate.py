# Writes the record batch fixtures with kafka-python's own record builders (the writers its
# producer uses) and the codec libraries Java and librdkafka clients match. Re-run with:
#   /work/venv-tmp/bin/python Tests/KafkaProtocolTests/Fixtures/batches/generate.py
# (needs kafka-python, python-snappy, lz4, zstandard). manifest.json lists what each file holds.
import gzip, json, os, struct
import lz4.frame, snappy, zstandard
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.legacy_records import LegacyRecordBatchBuilder

HERE = os.path.dirname(os.path.abspath(__file__))
CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
BASE_TS = 1700000000000

def records(magic):
    out = []
    for i in range(5):
        key = None if i == 2 else ("key-%d" % i).encode()
        value = (("value-%d;" % i) * (i + 1)).encode()
        headers = [("h", ("v%d" % i).encode()), ("n", None)] if (i % 2 == 1 and magic == 2) else []
        out.append(dict(offset=i, timestamp=BASE_TS + i * 7 if magic > 0 else None, key=key, value=value, headers=headers))
    return out

def as_json(recs):
    enc = lambda b: None if b is None else b.decode()
    return [dict(offset=r["offset"], timestamp=r["timestamp"] if r["timestamp"] is not None else -1,
                 key=enc(r["key"]), value=enc(r["value"]),
                 headers=[[k, enc(v)] for k, v in r["headers"]]) for r in recs]

manifest = []
def v2(name, codec, transactional=False, pid=-1, epoch=-1, seq=-1):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=transactional,
                                  producer_id=pid, producer_epoch=epoch, base_sequence=seq, batch_size=1 << 20)
    recs = records(2)
    for r in recs:
        b.append(r["offset"], timestamp=r["timestamp"], key=r["key"], value=r["value"], headers=r["headers"])
    data = bytes(b.build())
    open(os.path.join(HERE, name), "wb").write(data)
    manifest.append(dict(file=name, magic=2, codec=codec, transactional=transactional, producerId=pid,
                         producerEpoch=epoch, baseSequence=seq, records=as_json(recs)))

def legacy(name, magic, codec):
    b = LegacyRecordBatchBuilder(magic=magic, compression_type=codec, batch_size=1 << 20)
    recs = records(magic)
    for r in recs:
        b.append(r["offset"], timestamp=r["timestamp"], key=r["key"], value=r["value"])
    data = bytes(b.build())
    open(os.path.join(HERE, name), "wb").write(data)
    manifest.append(dict(file=name, magic=magic, codec=codec, transactional=False, producerId=-1,
                         producerEpoch=-1, baseSequence=-1, records=as_json(recs)))

for codec, cname in CODECS.items():
    v2("v2-%s.bin" % cname, codec)
v2("v2-zstd-idempotent-transactional.bin", 4, transactional=True, pid=1234, epoch=5, seq=42)
for magic in (0, 1):
    for codec in (0, 1, 2) + ((3,) if magic == 1 else ()):
        legacy("legacy-v%d-%s.bin" % (magic, CODECS[codec]), magic, codec)

# Codec-level fixtures: a plaintext and each codec's framing as other writers produce it.
plain = b"".join(b"line %05d of the Kafka compression fixture\n" % i for i in range(3000))  # ~130 KB
open(os.path.join(HERE, "plain.txt"), "wb").write(plain)
open(os.path.join(HERE, "plain.gzip"), "wb").write(gzip.compress(plain))
open(os.path.join(HERE, "plain.lz4"), "wb").write(lz4.frame.compress(plain, content_checksum=True))
# Streaming zstd, as librdkafka writes: the frame header carries no content size.
cobj = zstandard.ZstdCompressor().compressobj()
open(os.path.join(HERE, "plain-nosize.zstd"), "wb").write(cobj.compress(plain) + cobj.flush())
open(os.path.join(HERE, "plain-raw.snappy"), "wb").write(snappy.compress(plain))
# Java's xerial SnappyOutputStream framing, built by hand: magic, version 1, compatible 1, then
# [int32 length][raw block] per 32 KiB of input.
framed = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
for i in range(0, len(plain), 32768):
    block = snappy.compress(plain[i:i + 32768])
    framed += struct.pack(">i", len(block)) + block
open(os.path.join(HERE, "plain-xerial.snappy"), "wb").write(framed)

json.dump(manifest, open(os.path.join(HERE, "manifest.json"), "w"), indent=1)
