#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials

/// The time arguments of `consumer-groups --reset-offsets`, in Kafka's forms.
enum ResetTime {
    /// `--to-datetime`: `YYYY-MM-DDTHH:mm:SS.sss` (milliseconds optional) in the local time zone, or followed by
    /// `Z`, `±HH:mm` or `±HHmm` (as Kafka's Utils.getDateTime). Milliseconds since the epoch; nil if malformed.
    static func parseDateTime(_ text: String) -> Int64? {
        let s = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= s.count else { return nil }
            var v = 0
            for c in s[from..<(from + count)] {
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        func at(_ i: Int, _ c: Character) -> Bool { i < s.count && s[i] == c.asciiValue! }
        guard let year = number(0, 4), at(4, "-"), let month = number(5, 2), at(7, "-"), let day = number(8, 2), at(10, "T"),
              let hour = number(11, 2), at(13, ":"), let minute = number(14, 2), at(16, ":"), let second = number(17, 2)
        else { return nil }
        var i = 19
        var millis = 0
        if at(i, ".") {
            guard let ms = number(i + 1, 3) else { return nil }
            millis = ms
            i += 4
        }
        var offsetSeconds: Int?  // nil: the local time zone
        if i < s.count {
            if at(i, "Z") && i + 1 == s.count {
                offsetSeconds = 0
            } else if at(i, "+") || at(i, "-") {
                let sign = at(i, "-") ? -1 : 1
                let rest = String(decoding: s[(i + 1)...], as: UTF8.self).replacing(":", with: "")
                guard rest.count == 4, let hh = Int(rest.prefix(2)), let mm = Int(rest.suffix(2)),
                      hh <= 18, mm < 60 else { return nil }
                offsetSeconds = sign * (hh * 3600 + mm * 60)
            } else {
                return nil
            }
        }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60 else { return nil }
        // The C library's calendar arithmetic (proleptic Gregorian; the local zone from TZ or /etc/localtime).
        var fields = tm()
        fields.tm_year = Int32(year - 1900)
        fields.tm_mon = Int32(month - 1)
        fields.tm_mday = Int32(day)
        fields.tm_hour = Int32(hour)
        fields.tm_min = Int32(minute)
        fields.tm_sec = Int32(second)
        let seconds: Int
        if let offsetSeconds {
            seconds = Int(timegm(&fields)) - offsetSeconds
        } else {
            fields.tm_isdst = -1  // let mktime decide whether daylight saving time applies
            seconds = Int(mktime(&fields))
        }
        return Int64(seconds) * 1000 + Int64(millis)
    }

    /// `--by-duration`: an ISO-8601 duration `PnDTnHnMnS` (Java's Duration.parse: days, hours, minutes, seconds
    /// with an optional fraction). Milliseconds; nil if malformed or negative.
    static func parseDuration(_ text: String) -> Int64? {
        var rest = Substring(text.uppercased())
        guard rest.first == "P" else { return nil }
        rest = rest.dropFirst()
        var millis = 0.0
        var inTime = false
        var sawField = false
        var digits = ""
        for c in rest {
            if c == "T" {
                guard !inTime, digits.isEmpty else { return nil }
                inTime = true
                continue
            }
            if c.isNumber || c == "." {
                digits.append(c)
                continue
            }
            guard let v = Double(digits) else { return nil }
            digits = ""
            sawField = true
            switch (c, inTime) {
            case ("D", false): millis += v * 86_400_000
            case ("H", true): millis += v * 3_600_000
            case ("M", true): millis += v * 60_000
            case ("S", true): millis += v * 1000
            default: return nil
            }
        }
        guard sawField, digits.isEmpty, millis.isFinite, millis < 9e15 else { return nil }
        return Int64(millis)
    }
}
