#if canImport(Glibc)
import Glibc
#endif

/// The IMF-fixdate for the `Date` header, rendered at most once per second per event loop.
///
/// Used only from its own event loop, so it needs no locking.
final class DateCache {
    private(set) var bytes: [UInt8] = Array(repeating: 0, count: 29)
    private var second: Int = -1

    /// Refreshes the rendered date if the wall-clock second changed.
    @inline(__always)
    func refresh() {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &now)
        if now.tv_sec != second {
            second = now.tv_sec
            bytes = Self.render(epochSeconds: now.tv_sec)
        }
    }

    static func render(epochSeconds: Int) -> [UInt8] {
        var t = time_t(epochSeconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let text =
            "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
        return Array(text.utf8)
    }
}
