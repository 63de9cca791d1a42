import HTTPServer
import NIOCore

/// One server-rendered HTML page: a shared head (inline style, no external assets), the
/// navigation with the target search box, and escaping for everything that comes from a
/// snapshot (labels may hold `<`, `&`, quotes or any UTF-8).
struct HTMLPage {
    private(set) var html: String

    static let style = """
        body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
        header{background:#20304a;color:#fff;padding:.6em 1.5em;display:flex;gap:1.2em;align-items:center;flex-wrap:wrap}
        header a{color:#fff;text-decoration:none;font-weight:600}header form{margin-left:auto}
        header input{width:22em;padding:.25em .4em}main{padding:1em 1.5em 3em}
        h1{font-size:1.35em;margin:.2em 0 .6em}h2{font-size:1.1em;margin:1.4em 0 .4em}
        table{border-collapse:collapse;background:#fff}td,th{padding:.25em .7em;text-align:left;vertical-align:top;border-bottom:1px solid #e4e4e8}
        th{color:#555;font-weight:600;background:#f0f1f4}.n{text-align:right;font-variant-numeric:tabular-nums}
        a{color:#2456b3}code,pre{font:12px/1.4 ui-monospace,monospace}pre{background:#fff;border:1px solid #e4e4e8;padding:.6em;overflow:auto;max-width:100%}
        .l{display:inline-block;margin:0 .5em .1em 0;padding:0 .3em;background:#eef1f7;border-radius:3px;font:12px ui-monospace,monospace}
        .cards{display:flex;gap:1em;flex-wrap:wrap}.card{background:#fff;border:1px solid #e4e4e8;border-radius:6px;padding:.6em 1em;min-width:11em}
        .card b{display:block;font-size:1.3em}.muted{color:#777}.ok{color:#17803d}.bad{color:#b42318}
        .ev td{border-bottom:1px dotted #ddd}.pages a,.pages span{margin-right:.6em}
        """

    /// - Parameters:
    ///   - title: plain text (escaped here).
    ///   - head: extra markup for `<head>`.
    init(title: String, head: String = "") {
        html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(Self.escape(title)) · target allocator</title>
            <meta name="viewport" content="width=device-width, initial-scale=1"><style>\(Self.style)</style>\(head)</head><body>
            <header><a href="/">Cluster</a><a href="/debug/jobs">Jobs</a><a href="/debug/targets">Targets</a>
            <a href="/debug/scrape_configs">Scrape configs</a>
            <form action="/debug/targets" method="get" role="search"><input name="q" aria-label="Find targets"
            placeholder="address, label value or name=value"> <button>Find</button></form></header>
            <main id="main"><h1>\(Self.escape(title))</h1>

            """
    }

    mutating func raw(_ fragment: String) { html += fragment }

    /// Appends text, escaped.
    mutating func text(_ s: String) { html += Self.escape(s) }

    mutating func link(_ href: String, _ text: String) {
        html += "<a href=\"\(Self.escape(href))\">\(Self.escape(text))</a>"
    }

    /// Labels as compact `name="value"` chips.
    mutating func labels(_ labels: [(name: String, value: String)]) {
        for label in labels {
            html += "<span class=l>\(Self.escape(label.name))=\"\(Self.escape(label.value))\"</span>"
        }
    }

    /// Links to the other pages of a paginated list, keeping the other query parameters.
    mutating func pages(current: Int, total: Int, perPage: Int, href: (Int) -> String) {
        let count = max(1, (total + perPage - 1) / perPage)
        guard count > 1 else { return }
        html += "<p class=pages>Page \(current + 1) of \(count): "
        if current > 0 { link(href(current - 1), "← previous") }
        if current + 1 < count { link(href(current + 1), "next →") }
        html += "</p>"
    }

    func resource(status: HTTPStatus = .ok, script: String? = nil) -> HTTPResource {
        var body = html
        body += "</main>"
        if let script { body += "<script>\(script)</script>" }
        body += "</body></html>\n"
        return HTTPResource(
            status: status, contentType: "text/html; charset=utf-8", body: ByteBuffer(string: body), etag: false,
            extraHeaders: Self.headers, compressionThreshold: 8192)
    }

    /// HTML answers depend on `Accept`, are never cached, and are not to be sniffed (as upstream's).
    static let headers = [("Vary", "Accept"), ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]

    static func error(_ status: HTTPStatus, title: String, message: String) -> HTTPResource {
        var page = HTMLPage(title: title)
        page.raw("<p>")
        page.text(message)
        page.raw("</p>")
        return page.resource(status: status)
    }

    /// Escapes the five characters HTML gives meaning to; every other byte passes unchanged.
    static func escape(_ s: String) -> String {
        var needs = false
        for c in s.utf8 where c == UInt8(ascii: "&") || c == UInt8(ascii: "<") || c == UInt8(ascii: ">") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
            needs = true
            break
        }
        guard needs else { return s }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 16)
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): out.append(contentsOf: "&#39;".utf8)
            default: out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Unix milliseconds as `HH:MM:SS` UTC (pages show times the same way on every replica).
func clockTime(_ millis: Int64) -> String {
    let seconds = (millis / 1000) % 86_400
    func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "\(two(seconds / 3600)):\(two(seconds / 60 % 60)):\(two(seconds % 60))"
}

/// A duration in words: `45 s`, `3 min 12 s`, `2 h 5 min`.
func spoken(_ millis: Int64) -> String {
    let s = max(0, millis) / 1000
    if s < 60 { return "\(s) s" }
    if s < 3600 { return "\(s / 60) min \(s % 60) s" }
    return "\(s / 3600) h \(s / 60 % 60) min"
}
