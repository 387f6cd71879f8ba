import NIOCore

extension LegacyMessageSet {
    /// Converts a legacy message set from Produce v0-v2 into one v2 batch, since Tern stores v2 only
    /// (as Kafka 4 does). Offsets become deltas 0, 1, ...; magic 0 messages keep no timestamp (-1);
    /// the batch is LogAppendTime when the source wrapper was. `compression` is the topic's codec
    /// (Kafka recompresses with `compression.type`, or with the source codec under `producer`).
    public static func convertToRecordBatch(
        _ buffer: ByteBuffer, compression: CompressionCodec,
        maxDecompressedSize: Int = CompressionCodec.defaultMaxDecompressedSize,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws(RecordValidationError) -> ByteBuffer {
        let messages = try decode(buffer, maxDecompressedSize: maxDecompressedSize)
        guard !messages.isEmpty else { throw .invalidRecord("legacy message set holds no message") }
        var builder = RecordBatchBuilder(
            compression: compression,
            timestampType: messages.contains(where: \.isLogAppendTime) ? .logAppendTime : .createTime)
        for message in messages {
            builder.append(key: message.key, value: message.value, timestamp: message.timestamp)
        }
        do {
            return try builder.build(allocator: allocator)
        } catch {
            throw .from(error)
        }
    }

    /// Writes messages as a legacy message set of `magic` 0 or 1 (the down-conversion Fetch v0-v3
    /// needs). With a codec, one wrapper message holds them all, numbered as Kafka does: relative
    /// inner offsets under magic 1, the wrapper at the last message's offset.
    public static func write(
        _ messages: [LegacyMessage], magic: Int8, compression: CompressionCodec = .none,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws(CompressionError) -> ByteBuffer {
        var output = allocator.buffer(capacity: 0)
        guard compression != .none, let last = messages.last else {
            for message in messages { writeMessage(message, magic: magic, attributes: 0, to: &output) }
            return output
        }
        let first = messages.first!.offset
        var inner = allocator.buffer(capacity: 0)
        for message in messages {
            var innerMessage = message
            if magic >= 1 { innerMessage.offset -= first }
            writeMessage(innerMessage, magic: magic, attributes: 0, to: &inner)
        }
        let value = try compression.compress(inner, allocator: allocator)
        let wrapper = LegacyMessage(offset: last.offset, magic: magic, timestamp: messages.map(\.timestamp).max() ?? -1,
                                    key: nil, value: value)
        writeMessage(wrapper, magic: magic, attributes: Int8(compression.rawValue), to: &output)
        return output
    }

    static func writeMessage(_ message: LegacyMessage, magic: Int8, attributes: Int8, to buffer: inout ByteBuffer) {
        buffer.writeInteger(message.offset)
        let sizeIndex = buffer.writerIndex
        buffer.writeInteger(Int32(0))
        let crcIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(magic)
        buffer.writeInteger(attributes | (message.attributes & 0x08))
        if magic >= 1 { buffer.writeInteger(message.timestamp) }
        for field in [message.key, message.value] {
            if var field {
                buffer.writeInteger(Int32(field.readableBytes))
                buffer.writeBuffer(&field)
            } else {
                buffer.writeInteger(Int32(-1))
            }
        }
        buffer.setInteger(Int32(buffer.writerIndex - crcIndex), at: sizeIndex)
        let crc = CRC32.checksum(buffer, at: crcIndex + 4, length: buffer.writerIndex - crcIndex - 4)
        buffer.setInteger(crc, at: crcIndex)
    }
}
