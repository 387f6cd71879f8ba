#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// printf-style formatting and local timestamps for the tools' output lines, without Foundation's
/// `String(format:)` and `DateFormatter` (they live in the ICU-backed part of Foundation that Tern does not link).
enum CFormat {
    /// `format` rendered by the C library (C locale: `.` as decimal separator, like `String(format:)` without a
    /// locale). Swift `Int` arguments need `%ld`.
    static func string(_ format: String, _ args: any CVarArg...) -> String {
        var capacity = 256
        while true {
            var buffer = [CChar](repeating: 0, count: capacity)
            let needed = withVaList(args) { vsnprintf(&buffer, capacity, format, $0) }
            guard needed >= 0 else { return "" }
            if Int(needed) < capacity {
                return String(decoding: buffer[..<Int(needed)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            capacity = Int(needed) + 1
        }
    }

    /// Milliseconds since the epoch as `yyyy-MM-dd HH:mm:ss:SSS` in the local time zone (the pattern of
    /// kafka-consumer-perf-test.sh's --date-format default).
    static func localTimestamp(millis: Int64) -> String {
        var seconds = time_t(millis / 1000)
        var ms = millis % 1000
        if ms < 0 { seconds -= 1; ms += 1000 }
        var t = tm()
        localtime_r(&seconds, &t)
        return string("%04d-%02d-%02d %02d:%02d:%02d:%03d", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                      t.tm_hour, t.tm_min, t.tm_sec, Int32(ms))
    }
}
