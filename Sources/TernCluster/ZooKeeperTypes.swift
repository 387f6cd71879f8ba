import CZooKeeper

/// A ZooKeeper failure: the C client's return code (`ZNONODE`, `ZBADVERSION`, ...) and the path it concerned.
public struct ZooKeeperError: Error, Equatable, CustomStringConvertible, Sendable {
    public var code: Int32
    public var path: String?

    public init(code: Int32, path: String? = nil) {
        self.code = code
        self.path = path
    }

    public static let connectionLoss: Int32 = -4
    public static let operationTimeout: Int32 = -7
    public static let badArguments: Int32 = -8
    public static let invalidState: Int32 = -9
    public static let noNode: Int32 = -101
    public static let badVersion: Int32 = -103
    public static let nodeExists: Int32 = -110
    public static let notEmpty: Int32 = -111
    public static let sessionExpired: Int32 = -112
    public static let closing: Int32 = -116

    public var isNoNode: Bool { code == Self.noNode }
    public var isNodeExists: Bool { code == Self.nodeExists }
    public var isBadVersion: Bool { code == Self.badVersion }
    public var isSessionExpired: Bool { code == Self.sessionExpired || code == Self.invalidState }
    /// The connection broke (or the request timed out) but the session may live on: retry once reconnected.
    public var isConnectionLoss: Bool { code == Self.connectionLoss || code == Self.operationTimeout }

    public var description: String {
        let message = String(cString: zerror(code))
        return path.map { "ZooKeeper \(message) (\(code)) at \($0)" } ?? "ZooKeeper \(message) (\(code))"
    }
}

/// A znode's `Stat`: the versions are what conditional writes compare against.
public struct ZNodeStat: Sendable, Equatable {
    public var czxid: Int64
    public var mzxid: Int64
    public var ctime: Int64
    public var mtime: Int64
    public var version: Int32
    public var cversion: Int32
    /// Session id of the owner of an ephemeral node, 0 for a persistent one.
    public var ephemeralOwner: Int64
    public var dataLength: Int32
    public var numChildren: Int32

    init(_ s: Stat) {
        czxid = s.czxid; mzxid = s.mzxid; ctime = s.ctime; mtime = s.mtime
        version = s.version; cversion = s.cversion; ephemeralOwner = s.ephemeralOwner
        dataLength = s.dataLength; numChildren = s.numChildren
    }
}

/// How a node is created: ephemeral nodes vanish with the session that created them; sequential ones get a
/// ten-digit, monotonically increasing suffix from their parent.
public enum CreateMode: Sendable {
    case persistent, ephemeral, persistentSequential, ephemeralSequential

    var flags: Int32 {
        switch self {
        case .persistent: return ZOO_PERSISTENT
        case .ephemeral: return ZOO_EPHEMERAL
        case .persistentSequential: return ZOO_PERSISTENT_SEQUENTIAL
        case .ephemeralSequential: return ZOO_EPHEMERAL_SEQUENTIAL
        }
    }
}

/// What the client reports: session state changes and fired (one-shot) watches.
public enum ZooKeeperEvent: Sendable, Equatable {
    case connected
    /// Connection lost; the client reconnects (to any server of the ensemble) and resumes the session if it can.
    case connecting
    /// The session is gone, with its ephemeral nodes and watches: the owner must connect anew and re-register.
    case sessionExpired
    case authFailed
    case nodeCreated(String)
    case nodeDeleted(String)
    case nodeDataChanged(String)
    case nodeChildrenChanged(String)

    init?(type: Int32, state: Int32, path: String) {
        if type == ZOO_SESSION_EVENT {
            switch state {
            case ZOO_CONNECTED_STATE, ZOO_READONLY_STATE: self = .connected
            case ZOO_EXPIRED_SESSION_STATE: self = .sessionExpired
            case ZOO_AUTH_FAILED_STATE: self = .authFailed
            default: self = .connecting
            }
            return
        }
        switch type {
        case ZOO_CREATED_EVENT: self = .nodeCreated(path)
        case ZOO_DELETED_EVENT: self = .nodeDeleted(path)
        case ZOO_CHANGED_EVENT: self = .nodeDataChanged(path)
        case ZOO_CHILD_EVENT: self = .nodeChildrenChanged(path)
        default: return nil
        }
    }
}

/// One operation of an atomic multi-op (all succeed or none is applied).
public enum ZooKeeperOp: Sendable {
    case create(String, [UInt8], CreateMode)
    case delete(String, version: Int32)
    case set(String, [UInt8], version: Int32)
    /// Fails the transaction unless the node's version is `version`.
    case check(String, version: Int32)
}
