public import NIOCore

/// Limits and timeouts that protect the server from slow, greedy or broken peers.
///
/// Defaults suit HTTP service discovery: tiny GET requests, pollers that keep
/// connections idle for minutes between refreshes (Prometheus keeps idle connections
/// for 5 minutes, so the idle timeout is longer than that).
public struct HTTPServerLimits: Sendable {
    /// Longest request line (method, target, version) before 414.
    public var maxRequestLineBytes = 8 * 1024
    /// Longest request head (request line plus header fields) before 431.
    public var maxRequestHeadBytes = 16 * 1024
    /// Most header fields in one request before 431.
    public var maxHeaderFields = 100
    /// HTTP/2: header list size (RFC 9113 accounting: name + value + 32 per field) before 431.
    public var maxHeaderListBytes = 16 * 1024
    /// HTTP/2: SETTINGS_MAX_CONCURRENT_STREAMS.
    public var maxConcurrentStreams = 100
    /// HTTP/2: incoming RST_STREAM token bucket (Rapid Reset, CVE-2023-44487).
    public var streamResetBurst = 1000
    public var streamResetRatePerSecond = 33
    /// HTTP/2: CONTINUATION frames allowed after one HEADERS (CVE-2024-28182).
    public var maxContinuations = 8
    /// Open connections across all listeners; further ones are closed at accept.
    public var maxConnections = 10_000
    /// A connection with no request in flight is closed after this long.
    public var idleTimeout: TimeAmount = .seconds(330)
    /// A request head (or TLS handshake plus first request) must arrive within this time; an
    /// HTTP/2 stream whose request has not ended by then is reset.
    public var requestHeadTimeout: TimeAmount = .seconds(10)
    /// A connection that owes output and has not got any of it out for this long is closed: a
    /// peer that stops reading (HTTP/1.1 pipelining, an HTTP/2 window never opened) must not hold
    /// its connection, and the memory behind it, for ever. nginx's `send_timeout` is 60 s too.
    /// Progress is observed at a quarter of this period, so the close comes 1–1.25 × after it.
    public var sendTimeout: TimeAmount = .seconds(60)
    /// HTTP/2: RST_STREAM frames the server itself sends (a token bucket per connection, like
    /// nghttp2's bucket for received ones). Frames that make the server reset a stream
    /// (CVE-2025-8671 "MadeYouReset": an overflowing WINDOW_UPDATE, say) cost as much as
    /// Rapid Reset but are not counted by libnghttp2 1.52; past the budget the connection gets
    /// GOAWAY(ENHANCE_YOUR_CALM) and is closed.
    public var serverResetBurst = 1000
    public var serverResetRatePerSecond = 33
    /// TCP_NOTSENT_LOWAT: the socket takes more only while less than this much written data
    /// waits unsent in the kernel (nil: the kernel's default, no limit). Without it a burst of
    /// HTTP/2 responses queues megabytes per connection, which then leave from the peer's ACK
    /// processing, on the peer's CPU: in `make bench-http` (TLS, 100 streams) the client became
    /// the limit at 28k requests/s; with 64 KiB the same client takes 40k.
    public var unsentBytesLowWatermark: Int? = 64 * 1024

    public init() {}
}
