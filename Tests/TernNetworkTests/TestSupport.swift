import NIOCore
@testable import TernNetwork

/// A request frame on the wire: size prefix, fixed header prefix, then `body`.
func wireFrame(apiKey: Int16 = 18, apiVersion: Int16 = 3, correlationId: Int32, body: [UInt8] = []) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger(Int32(8 + body.count))
    buffer.writeInteger(apiKey)
    buffer.writeInteger(apiVersion)
    buffer.writeInteger(correlationId)
    buffer.writeBytes(body)
    return buffer
}

/// A response payload that names the request it answers.
func responsePayload(correlationId: Int32) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger(correlationId)
    buffer.writeString("ok")
    return buffer
}

/// Splits size-prefixed frames out of everything written, returning the correlation id at the start of each.
func correlationIds(inResponseBytes bytes: ByteBuffer) throws -> [Int32] {
    var bytes = bytes
    var ids: [Int32] = []
    while let frame = try KafkaFrameDecoder.readFrame(from: &bytes, maxFrameBytes: 1 << 20) {
        guard let id = frame.getInteger(at: frame.readerIndex, as: Int32.self) else { break }
        ids.append(id)
    }
    #expect(bytes.readableBytes == 0, "trailing partial response")
    return ids
}

import Testing
