/// A parser for Java's `.properties` syntax, as `java.util.Properties.load` reads it (Kafka loads
/// `server.properties` with it).
///
/// - Blank lines are skipped; a line whose first non-blank character is `#` or `!` is a comment.
/// - The key ends at the first unescaped `=`, `:` or blank; blanks around the separator are skipped, so
///   `key=value`, `key: value` and `key value` are all the same.
/// - A line ending in an odd number of backslashes continues on the next line, whose leading blanks are dropped.
/// - Escapes: `\t \n \r \f`, `\uXXXX`, and `\` before any other character stands for that character.
/// - A later duplicate key wins.
///
/// Difference from Java: the file is read as UTF-8 (falling back to ISO-8859-1 when it is not valid UTF-8),
/// where Java reads ISO-8859-1 only; ASCII files, which every real `server.properties` is, read the same.
public enum JavaProperties {
    public struct ParseError: Error, Hashable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Parses properties text into a map (later keys win) and the keys in file order.
    public static func parse(_ text: String) throws(ParseError) -> [(key: String, value: String)] {
        var entries: [(key: String, value: String)] = []
        let lines = splitLines(text)
        var index = 0
        while index < lines.count {
            let firstLineNumber = index + 1
            var line = Substring(lines[index])
            index += 1
            line = line.drop(while: isBlank)
            if line.isEmpty || line.first == "#" || line.first == "!" { continue }
            // Join continuation lines into one logical line.
            var logical = String(line)
            while endsWithContinuation(logical) {
                logical.removeLast()
                guard index < lines.count else { break }  // Java: a trailing backslash at EOF is dropped
                logical += lines[index].drop(while: isBlank)
                index += 1
            }
            entries.append(try splitKeyValue(logical, line: firstLineNumber))
        }
        return entries
    }

    /// Parses into a dictionary (a later duplicate key wins).
    public static func parseMap(_ text: String) throws(ParseError) -> [String: String] {
        var map: [String: String] = [:]
        for (key, value) in try parse(text) { map[key] = value }
        return map
    }

    /// Decodes file bytes: UTF-8 when valid, otherwise ISO-8859-1 (Java's encoding for properties).
    public static func decode(_ bytes: [UInt8]) -> String {
        if let utf8 = String(validating: bytes, as: UTF8.self) { return utf8 }
        return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }

    // MARK: Internals

    private static func isBlank(_ character: Character) -> Bool {
        character == " " || character == "\t" || character == "\u{0C}"
    }

    /// Splits on `\n`, `\r\n` and `\r`, as Java's LineReader does.
    private static func splitLines(_ text: String) -> [String] {
        var lines: [String] = []
        var current = ""
        var scalars = text.unicodeScalars.makeIterator()
        var pendingCR = false
        while let scalar = scalars.next() {
            if pendingCR {
                pendingCR = false
                if scalar == "\n" { continue }
            }
            if scalar == "\n" || scalar == "\r" {
                lines.append(current)
                current = ""
                pendingCR = scalar == "\r"
            } else {
                current.unicodeScalars.append(scalar)
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    private static func endsWithContinuation(_ line: String) -> Bool {
        var backslashes = 0
        for scalar in line.unicodeScalars.reversed() {
            guard scalar == "\\" else { break }
            backslashes += 1
        }
        return backslashes % 2 == 1
    }

    private static func splitKeyValue(_ logical: String, line: Int) throws(ParseError) -> (key: String, value: String) {
        let scalars = Array(logical.unicodeScalars)
        var position = 0
        var keyEnd = scalars.count
        var valueStart = scalars.count
        // Find the end of the key: the first unescaped separator or blank.
        while position < scalars.count {
            let scalar = scalars[position]
            if scalar == "\\" {
                position += 2
                continue
            }
            if scalar == "=" || scalar == ":" {
                keyEnd = position
                valueStart = position + 1
                break
            }
            if scalar == " " || scalar == "\t" || scalar == "\u{0C}" {
                keyEnd = position
                // Blanks, then at most one `=` or `:`, then blanks.
                var next = position
                while next < scalars.count, [" ", "\t", "\u{0C}"].contains(scalars[next]) { next += 1 }
                if next < scalars.count, scalars[next] == "=" || scalars[next] == ":" { next += 1 }
                valueStart = next
                break
            }
            position += 1
        }
        keyEnd = min(keyEnd, scalars.count)
        while valueStart < scalars.count, [" ", "\t", "\u{0C}"].contains(scalars[valueStart]) { valueStart += 1 }
        let key = try unescape(scalars[0..<keyEnd], line: line)
        let value = try unescape(scalars[min(valueStart, scalars.count)...], line: line)
        return (key, value)
    }

    private static func unescape(_ scalars: ArraySlice<Unicode.Scalar>, line: Int) throws(ParseError) -> String {
        var out = String.UnicodeScalarView()
        var index = scalars.startIndex
        while index < scalars.endIndex {
            let scalar = scalars[index]
            index += 1
            guard scalar == "\\" else {
                out.append(scalar)
                continue
            }
            guard index < scalars.endIndex else { break }
            let escaped = scalars[index]
            index += 1
            switch escaped {
            case "t": out.append("\t")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "f": out.append("\u{0C}")
            case "u":
                guard index + 4 <= scalars.endIndex,
                      let code = UInt32(String(String.UnicodeScalarView(scalars[index..<index + 4])), radix: 16),
                      let decoded = Unicode.Scalar(code)
                else {
                    throw ParseError(line: line, message: "malformed \\uXXXX escape")
                }
                out.append(decoded)
                index += 4
            default: out.append(escaped)
            }
        }
        return String(out)
    }
}
