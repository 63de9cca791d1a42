import HTTPServer
import NIOCore

/// The `/` page: who leads, what this replica serves, and the balance across collectors at a
/// glance. Self-contained HTML (no scripts, fonts or images), rendered per request since the
/// leadership it shows can change between snapshots.
enum StatusPage {
    static func render(
        identity: String, leader: String?, isLeader: Bool, rendered: RenderedSnapshot?, ageSeconds: Double?
    ) -> HTTPResource {
        var html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>target allocator</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.3em}
            table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:left}th{color:#666;font-weight:normal}
            .bar{background:#4a7bd0;height:1em;display:inline-block;vertical-align:middle}.n{text-align:right}
            a{color:#2a5db0}
            </style></head><body>
            <h1>Target allocator</h1>
            <table>
            """
        html += row("replica", escape(identity) + (isLeader ? " (leader)" : ""))
        html += row("leader", leader.map(escape) ?? "unknown")
        if let rendered {
            html += row("epoch / generation", "\(rendered.epoch) / \(rendered.generation)")
            html += row("snapshot age", ageSeconds.map { String(Int($0.rounded())) + " s" } ?? "-")
            html += row("jobs", "\(rendered.jobCount)")
            html += row("targets", "\(rendered.targetCount) (\(rendered.unassignedTargets) unassigned)")
            html += "</table><h2>Targets per collector</h2><table>"
            let most = max(1, rendered.collectorLoads.map(\.1).max() ?? 1)
            for (collector, load) in rendered.collectorLoads {
                let width = Int((Double(load) / Double(most) * 400).rounded())
                html += "<tr><td>\(escape(collector))</td><td class=n>\(load)</td><td><span class=bar style=\"width:\(width)px\"></span></td></tr>"
            }
            html += "</table>"
        } else {
            html += row("snapshot", "none loaded yet") + "</table>"
        }
        html += """
            <p><a href="/jobs">/jobs</a> · <a href="/scrape_configs">/scrape_configs</a> · <a href="/status">/status</a> ·
            <a href="/metrics">/metrics</a></p></body></html>

            """
        return HTTPResource(
            status: .ok, contentType: "text/html; charset=utf-8", body: ByteBuffer(string: html), etag: false, compressionThreshold: nil)
    }

    private static func row(_ name: String, _ value: String) -> String {
        "<tr><th>\(name)</th><td>\(value)</td></tr>"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
