import Metrics

/// The network layer's metrics, created once per server so that the per-request path only increments.
///
/// Names follow Kafka's `kafka.network` metrics where one exists (RequestsPerSec by request type, connection
/// counts, bytes in and out).
public final class NetworkMetrics: Sendable {
    /// Highest API key with a pre-made counter; anything above shares `requestsUnknownApiKey`.
    static let maxKnownApiKey = 127

    let connectionsActive: Meter
    let connectionsTotal: Counter
    let connectionsClosedOnError: Counter
    let bytesIn: Counter
    let bytesOut: Counter
    private let requestsByApiKey: [Counter]
    private let requestsUnknownApiKey: Counter

    public init(listenerName: String? = nil) {
        var dimensions: [(String, String)] = []
        if let listenerName { dimensions.append(("listener", listenerName)) }
        connectionsActive = Meter(label: "tern_network_connections_active", dimensions: dimensions)
        connectionsTotal = Counter(label: "tern_network_connections_total", dimensions: dimensions)
        connectionsClosedOnError = Counter(label: "tern_network_connections_closed_on_error_total", dimensions: dimensions)
        bytesIn = Counter(label: "tern_network_bytes_in_total", dimensions: dimensions)
        bytesOut = Counter(label: "tern_network_bytes_out_total", dimensions: dimensions)
        requestsByApiKey = (0...Self.maxKnownApiKey).map {
            Counter(label: "tern_network_requests_total", dimensions: dimensions + [("api_key", String($0))])
        }
        requestsUnknownApiKey = Counter(
            label: "tern_network_requests_total",
            dimensions: dimensions + [("api_key", "unknown")]
        )
    }

    func countRequest(apiKey: Int16) {
        if apiKey >= 0, Int(apiKey) <= Self.maxKnownApiKey {
            requestsByApiKey[Int(apiKey)].increment()
        } else {
            requestsUnknownApiKey.increment()
        }
    }
}
