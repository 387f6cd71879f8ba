#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CZooKeeper
import Dispatch
import FoundationEssentials
import Logging
import NIOConcurrencyHelpers

/// An async/await client over Apache ZooKeeper's multi-threaded C client.
///
/// The C client owns the sockets, reconnects across the ensemble in `connectString`, and resumes the session when
/// it can; a chroot suffix (`host1:2181,host2:2181/kafka`) makes every path relative to it (the chroot node is
/// created first when missing, as Kafka does). Completions arrive on the C client's completion thread and resume
/// Swift continuations there; events (session changes, fired watches) are handed to a serial dispatch queue so
/// a handler may itself call ZooKeeper, even with the blocking variants.
///
/// Watches are ZooKeeper's: one-shot, set by `watch: true` on get/exists/children, delivered as `ZooKeeperEvent`s
/// to every `onEvent` handler and `events()` stream. A session expiry is reported, not repaired: the owner closes
/// this client and connects anew (its ephemeral nodes are gone).
///
/// Losing the connection is not losing the session: the C client reports CONNECTING, moves to another server of
/// the ensemble and resumes the same session there, with its ephemeral nodes and watches (re-sent with the last
/// zxid seen, so changes made meanwhile still fire). Only EXPIRED_SESSION means the session is gone. An operation
/// caught by the disconnection fails with CONNECTIONLOSS; the blocking variants wait for the session to come
/// back and retry it, as Kafka's ZooKeeper client does, so a ZooKeeper node dying never drops a watch re-arm
/// or a controller write on the floor.
public final class ZooKeeperClient: @unchecked Sendable {  // `handle` is set once in init; the C client is thread-safe
    private let handle: OpaquePointer
    private let watcherBox: Unmanaged<WatcherBox>
    private let events: EventHub
    public let connectString: String
    private let closed = NIOLockedValueBox(false)

    /// Connects and waits for the session (at most `connectionTimeout`).
    public static func connect(
        _ connectString: String, sessionTimeout: Duration = .seconds(18), connectionTimeout: Duration = .seconds(18),
        logLevel: Int32 = 1
    ) async throws -> ZooKeeperClient {
        tern_zk_set_log_level(logLevel)
        if let slash = connectString.firstIndex(of: "/") {
            let chroot = String(connectString[slash...])
            if chroot != "/" {
                let root = try await ZooKeeperClient(
                    String(connectString[..<slash]), sessionTimeout: sessionTimeout, connectionTimeout: connectionTimeout)
                defer { root.close() }
                try await root.createRecursively(chroot)
            }
        }
        return try await ZooKeeperClient(connectString, sessionTimeout: sessionTimeout, connectionTimeout: connectionTimeout)
    }

    /// `connect` for synchronous callers (broker start-up): blocks the calling thread until the session is up.
    public static func connectBlocking(
        _ connectString: String, sessionTimeout: Duration = .seconds(18), connectionTimeout: Duration = .seconds(18),
        logLevel: Int32 = 1
    ) throws -> ZooKeeperClient {
        tern_zk_set_log_level(logLevel)
        if let slash = connectString.firstIndex(of: "/") {
            let chroot = String(connectString[slash...])
            if chroot != "/" {
                let root = try ZooKeeperClient(
                    String(connectString[..<slash]), sessionTimeout: sessionTimeout, connectionTimeout: connectionTimeout,
                    blocking: true)
                defer { root.close() }
                try root.createRecursivelyBlocking(chroot)
            }
        }
        return try ZooKeeperClient(connectString, sessionTimeout: sessionTimeout, connectionTimeout: connectionTimeout, blocking: true)
    }

    private convenience init(_ connectString: String, sessionTimeout: Duration, connectionTimeout: Duration) async throws {
        try self.init(connectString, sessionTimeout: sessionTimeout, connectionTimeout: connectionTimeout, blocking: false)
        if await !connectedLatch.wait(timeout: connectionTimeout) {
            close()
            throw ZooKeeperError(code: ZooKeeperError.operationTimeout, path: connectString)
        }
    }

    private let connectedLatch: ConnectionLatch

    private init(_ connectString: String, sessionTimeout: Duration, connectionTimeout: Duration, blocking: Bool) throws {
        self.connectString = connectString
        let hub = EventHub()
        self.events = hub
        let box = Unmanaged.passRetained(WatcherBox(hub: hub))
        self.watcherBox = box
        self.connectedLatch = hub.waitForConnection()
        let ms = Int32(clamping: sessionTimeout.components.seconds * 1000 + sessionTimeout.components.attoseconds / 1_000_000_000_000_000)
        guard let zh = tern_zk_init(connectString, ms, zkWatcherTrampoline, box.toOpaque()) else {
            box.release()
            throw ZooKeeperError(code: ZooKeeperError.badArguments, path: connectString)
        }
        self.handle = zh
        if blocking && !connectedLatch.waitBlocking(timeout: connectionTimeout) {
            close()
            throw ZooKeeperError(code: ZooKeeperError.operationTimeout, path: connectString)
        }
    }

    deinit { close() }

    /// Ends the session: its ephemeral nodes are deleted at once. Idempotent.
    public func close() {
        let wasClosed = closed.withLockedValue { c in defer { c = true }; return c }
        guard !wasClosed else { return }
        _ = tern_zk_close(handle)
        events.finish()
        watcherBox.release()
    }

    public var sessionId: Int64 { closed.withLockedValue { $0 } ? 0 : tern_zk_session_id(handle) }
    /// The negotiated session timeout in milliseconds.
    public var negotiatedSessionTimeoutMs: Int32 { tern_zk_recv_timeout(handle) }
    public var isConnected: Bool { !closed.withLockedValue { $0 } && tern_zk_state(handle) == ZOO_CONNECTED_STATE }

    /// Calls `handler` for every session event and fired watch, in order, on the client's event queue.
    public func onEvent(_ handler: @escaping @Sendable (ZooKeeperEvent) -> Void) { events.add(handler) }

    /// The same events as an async sequence (one stream per call).
    public func eventStream() -> AsyncStream<ZooKeeperEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: ZooKeeperEvent.self)
        events.add { continuation.yield($0) }
        events.onFinish { continuation.finish() }
        return stream
    }

    // MARK: Operations (async)

    @discardableResult
    public func create(_ path: String, data: [UInt8] = [], mode: CreateMode = .persistent) async throws -> String {
        try await withCheckedThrowingContinuation { c in create(path, data: data, mode: mode) { c.resume(with: $0) } }
    }

    public func get(_ path: String, watch: Bool = false) async throws -> (data: [UInt8], stat: ZNodeStat) {
        try await withCheckedThrowingContinuation { c in get(path, watch: watch) { c.resume(with: $0) } }
    }

    /// Conditional write when `version` >= 0 (ZBADVERSION when the node moved on), unconditional with -1.
    @discardableResult
    public func set(_ path: String, data: [UInt8], version: Int32 = -1) async throws -> ZNodeStat {
        try await withCheckedThrowingContinuation { c in set(path, data: data, version: version) { c.resume(with: $0) } }
    }

    /// nil when the node does not exist; with `watch` the watch fires on creation too.
    public func exists(_ path: String, watch: Bool = false) async throws -> ZNodeStat? {
        try await withCheckedThrowingContinuation { c in exists(path, watch: watch) { c.resume(with: $0) } }
    }

    public func children(_ path: String, watch: Bool = false) async throws -> [String] {
        try await withCheckedThrowingContinuation { c in children(path, watch: watch) { c.resume(with: $0) } }
    }

    public func delete(_ path: String, version: Int32 = -1) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            delete(path, version: version) { c.resume(with: $0) }
        }
    }

    /// Applies all operations atomically; on failure throws the first failing operation's error.
    public func multi(_ ops: [ZooKeeperOp]) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            multi(ops) { c.resume(with: $0) }
        }
    }

    /// Creates `path` and its missing parents as persistent nodes (existing ones are fine).
    public func createRecursively(_ path: String, data: [UInt8] = []) async throws {
        var prefix = ""
        let parts = path.split(separator: "/")
        for (i, part) in parts.enumerated() {
            prefix += "/" + part
            do {
                try await create(prefix, data: i == parts.count - 1 ? data : [])
            } catch let e as ZooKeeperError where e.isNodeExists {}
        }
    }

    // MARK: Operations (blocking, for synchronous callers off the event queue)

    /// `createRecursively`, blocking.
    public func createRecursivelyBlocking(_ path: String, data: [UInt8] = []) throws {
        var prefix = ""
        let parts = path.split(separator: "/")
        for (i, part) in parts.enumerated() {
            prefix += "/" + part
            let p = prefix
            do {
                let _: String = try blocking { create(p, data: i == parts.count - 1 ? data : [], mode: .persistent, completion: $0) }
            } catch let e as ZooKeeperError where e.isNodeExists {}
        }
    }

    /// Creates an ephemeral node, blocking; NODEEXISTS only when another session holds it. A create retried after
    /// a lost connection may find the node its first attempt made: owned by this session, that is success (Kafka's
    /// `checkedEphemeralCreate`), so a broker never waits for its own registration or controller node to go away.
    @discardableResult
    public func createEphemeralBlocking(_ path: String, data: [UInt8]) throws -> String {
        do {
            return try blocking { create(path, data: data, mode: .ephemeral, completion: $0) }
        } catch let e as ZooKeeperError where e.isNodeExists {
            let stat: ZNodeStat? = try blocking { exists(path, watch: false, completion: $0) }
            if let stat, stat.ephemeralOwner == sessionId { return path }
            throw e
        }
    }

    /// `createEphemeralBlocking`, answering the node's stat: its `czxid` (the zxid of the creating transaction)
    /// is what Kafka takes as a broker's epoch (KIP-380), so every registration has a newer one than the last.
    /// Read back after the create, as Kafka does; the node must be this session's.
    public func createEphemeralWithStatBlocking(_ path: String, data: [UInt8]) throws -> ZNodeStat {
        try createEphemeralBlocking(path, data: data)
        let stat: ZNodeStat? = try blocking { exists(path, watch: false, completion: $0) }
        guard let stat, stat.ephemeralOwner == sessionId else { throw ZooKeeperError(code: ZooKeeperError.noNode, path: path) }
        return stat
    }

    /// Deletes `path` and everything under it (not atomic; a concurrent creator may win, which is reported).
    public func deleteRecursivelyBlocking(_ path: String) throws {
        let kids: [String]
        do { kids = try blocking { children(path, watch: false, completion: $0) } } catch let e as ZooKeeperError where e.isNoNode { return }
        for k in kids { try deleteRecursivelyBlocking(path + "/" + k) }
        do { try blocking { delete(path, version: -1, completion: $0) } } catch let e as ZooKeeperError where e.isNoNode {}
    }

    /// Runs a callback-style operation and blocks the calling thread until it completes. Never call it from a
    /// completion; event handlers run on their own queue, so they may.
    /// A retried write may have been applied before the connection broke: a retried create can then answer
    /// NODEEXISTS and a retried conditional set BADVERSION, which callers already treat as "someone wrote first"
    /// and re-read.
    public func blocking<T: Sendable>(_ op: (@escaping @Sendable (Result<T, ZooKeeperError>) -> Void) -> Void) throws -> T {
        while true {
            do {
                return try blockingOnce(op)
            } catch let e as ZooKeeperError where e.isConnectionLoss {
                guard waitUntilConnected(timeout: .milliseconds(Int64(max(negotiatedSessionTimeoutMs, 1000)) * 2)) else { throw e }
            }
        }
    }

    /// Blocks until the client is connected again (true), or the session is gone, the client closed, or `timeout`
    /// passed (false). Polls the C client's state: reconnection is its business, this only waits for it.
    public func waitUntilConnected(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if closed.withLockedValue({ $0 }) { return false }
            let state = tern_zk_state(handle)
            if state == ZOO_CONNECTED_STATE { return true }
            if state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE { return false }
            usleep(20_000)
        }
        return false
    }

    private func blockingOnce<T: Sendable>(_ op: (@escaping @Sendable (Result<T, ZooKeeperError>) -> Void) -> Void) throws -> T {
        let semaphore = DispatchSemaphore(value: 0)
        let result = NIOLockedValueBox<Result<T, ZooKeeperError>?>(nil)
        op { r in
            result.withLockedValue { $0 = r }
            semaphore.signal()
        }
        semaphore.wait()
        return try result.withLockedValue { $0! }.get()
    }

    // MARK: Operations (callbacks)

    public typealias Completion<T> = @Sendable (Result<T, ZooKeeperError>) -> Void

    public func create(_ path: String, data: [UInt8], mode: CreateMode, completion: @escaping Completion<String>) {
        submit(path, completion, { r in
            r.rc == 0 ? .success(r.path.map { String(cString: $0) } ?? path) : .failure(ZooKeeperError(code: r.rc, path: path))
        }) { ctx in
            data.withUnsafeBufferPointer { buf in
                buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(buf.count, 1)) {
                    tern_zk_create(handle, path, data.isEmpty ? nil : $0, Int32(buf.count), mode.flags, zkCompletionTrampoline, ctx)
                }
            }
        }
    }

    public func get(_ path: String, watch: Bool, completion: @escaping Completion<(data: [UInt8], stat: ZNodeStat)>) {
        submit(path, completion, { r in
            guard r.rc == 0, let stat = r.stat else { return .failure(ZooKeeperError(code: r.rc, path: path)) }
            var bytes: [UInt8] = []
            if let d = r.data, r.data_len > 0 {
                bytes = d.withMemoryRebound(to: UInt8.self, capacity: Int(r.data_len)) {
                    Array(UnsafeBufferPointer(start: $0, count: Int(r.data_len)))
                }
            }
            return .success((bytes, ZNodeStat(stat.pointee)))
        }) { ctx in tern_zk_get(handle, path, watch ? 1 : 0, zkCompletionTrampoline, ctx) }
    }

    public func set(_ path: String, data: [UInt8], version: Int32, completion: @escaping Completion<ZNodeStat>) {
        submit(path, completion, { r in
            guard r.rc == 0, let stat = r.stat else { return .failure(ZooKeeperError(code: r.rc, path: path)) }
            return .success(ZNodeStat(stat.pointee))
        }) { ctx in
            data.withUnsafeBufferPointer { buf in
                buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(buf.count, 1)) {
                    tern_zk_set(handle, path, data.isEmpty ? nil : $0, Int32(buf.count), version, zkCompletionTrampoline, ctx)
                }
            }
        }
    }

    public func exists(_ path: String, watch: Bool, completion: @escaping Completion<ZNodeStat?>) {
        submit(path, completion, { r in
            if r.rc == ZooKeeperError.noNode { return .success(nil) }
            guard r.rc == 0, let stat = r.stat else { return .failure(ZooKeeperError(code: r.rc, path: path)) }
            return .success(ZNodeStat(stat.pointee))
        }) { ctx in tern_zk_exists(handle, path, watch ? 1 : 0, zkCompletionTrampoline, ctx) }
    }

    public func children(_ path: String, watch: Bool, completion: @escaping Completion<[String]>) {
        submit(path, completion, { r in
            guard r.rc == 0 else { return .failure(ZooKeeperError(code: r.rc, path: path)) }
            guard let v = r.children?.pointee, let items = v.data else { return .success([]) }
            return .success((0..<Int(v.count)).compactMap { items[$0].map { String(cString: $0) } }.sorted())
        }) { ctx in tern_zk_children(handle, path, watch ? 1 : 0, zkCompletionTrampoline, ctx) }
    }

    public func delete(_ path: String, version: Int32, completion: @escaping Completion<Void>) {
        submit(path, completion, { r in
            r.rc == 0 ? .success(()) : .failure(ZooKeeperError(code: r.rc, path: path))
        }) { ctx in tern_zk_delete(handle, path, version, zkCompletionTrampoline, ctx) }
    }

    public func multi(_ ops: [ZooKeeperOp], completion: @escaping Completion<Void>) {
        var kinds: [Int32] = [], paths: [String] = [], datas: [[UInt8]?] = [], versions: [Int32] = [], flags: [Int32] = []
        for op in ops {
            switch op {
            case .create(let p, let d, let m): kinds.append(0); paths.append(p); datas.append(d); versions.append(-1); flags.append(m.flags)
            case .delete(let p, let v): kinds.append(1); paths.append(p); datas.append(nil); versions.append(v); flags.append(0)
            case .set(let p, let d, let v): kinds.append(2); paths.append(p); datas.append(d); versions.append(v); flags.append(0)
            case .check(let p, let v): kinds.append(3); paths.append(p); datas.append(nil); versions.append(v); flags.append(0)
            }
        }
        let capturedPaths = paths
        submit(paths.first ?? "", completion, { r in
            if r.rc == 0 { return .success(()) }
            // The first op whose code is not ZOK (nor the "rolled back" runtime inconsistency) names the failure.
            for i in 0..<Int(r.multi_count) {
                let code = r.multi_errors[i]
                if code != 0 && code != -2 { return .failure(ZooKeeperError(code: code, path: capturedPaths[i])) }
            }
            return .failure(ZooKeeperError(code: r.rc, path: nil))
        }) { ctx in
            // Strings and buffers only need to live for the call: the shim copies them.
            let cPaths = paths.map { strdup($0) }
            let cDatas: [UnsafeMutablePointer<CChar>?] = datas.map { d in
                guard let d else { return nil }
                let p = UnsafeMutablePointer<CChar>.allocate(capacity: max(d.count, 1))
                d.withUnsafeBytes { UnsafeMutableRawPointer(p).copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(p), byteCount: d.count) }
                return p
            }
            defer {
                cPaths.forEach { free($0) }
                cDatas.forEach { $0?.deallocate() }
            }
            let lens = datas.map { Int32($0?.count ?? -1) }
            let constPaths = cPaths.map { UnsafePointer($0) }
            let constDatas = cDatas.map { $0.map { UnsafePointer($0) } }
            return tern_zk_multi(handle, Int32(ops.count), kinds, constPaths, constDatas, lens, versions, flags, zkCompletionTrampoline, ctx)
        }
    }

    /// Boxes the completion for the C side; releases it when submission itself fails.
    private func submit<T>(
        _ path: String, _ completion: @escaping Completion<T>,
        _ decode: @escaping (tern_zk_result) -> Result<T, ZooKeeperError>,
        _ call: (UnsafeMutableRawPointer) -> Int32
    ) {
        if closed.withLockedValue({ $0 }) {
            completion(.failure(ZooKeeperError(code: ZooKeeperError.closing, path: path)))
            return
        }
        let box = Unmanaged.passRetained(CompletionBox { completion(decode($0)) })
        let rc = call(box.toOpaque())
        if rc != 0 {
            box.release()
            completion(.failure(ZooKeeperError(code: rc, path: path)))
        }
    }
}

private final class CompletionBox {
    let body: (tern_zk_result) -> Void
    init(_ body: @escaping (tern_zk_result) -> Void) { self.body = body }
}

private final class WatcherBox {
    let hub: EventHub
    init(hub: EventHub) { self.hub = hub }
}

private let zkCompletionTrampoline: tern_zk_callback = { result, ctx in
    guard let ctx, let result else { return }
    Unmanaged<CompletionBox>.fromOpaque(ctx).takeRetainedValue().body(result.pointee)
}

private let zkWatcherTrampoline: tern_zk_watcher = { type, state, path, ctx in
    guard let ctx else { return }
    let hub = Unmanaged<WatcherBox>.fromOpaque(ctx).takeUnretainedValue().hub
    let p = path.map { String(cString: $0) } ?? ""
    if let event = ZooKeeperEvent(type: type, state: state, path: p) { hub.publish(event) }
}
