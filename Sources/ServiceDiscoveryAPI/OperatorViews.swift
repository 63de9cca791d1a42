import ByteStrings
import HTTPServer
import JSON
import Snapshot

/// The HTML views of the installed snapshot (upstream's `/debug/...` pages and its
/// `Accept: text/html` answers): jobs, one job, one collector, a target search, one target and
/// the scrape configs. Rendered per request from `RenderedSnapshot.index`, one page of at most
/// `perPage` targets at a time, so a 100k-target job costs a page, not a copy.
enum OperatorViews {
    static let perPage = 100

    static func jobHref(_ job: String, collector: String? = nil, page: Int = 0) -> String {
        var href = "/debug/job?job_id=\(GoURLEscaping.queryEscape(job))"
        if let collector { href += "&collector_id=\(GoURLEscaping.queryEscape(collector))" }
        if page > 0 { href += "&page=\(page)" }
        return href
    }

    static func collectorHref(_ collector: String, page: Int = 0) -> String {
        "/debug/collector?collector_id=\(GoURLEscaping.queryEscape(collector))" + (page > 0 ? "&page=\(page)" : "")
    }

    static func targetHref(_ fingerprint: UInt64) -> String { "/debug/target?target_hash=\(fingerprint)" }

    // MARK: - jobs

    static func jobs(_ r: RenderedSnapshot) -> HTTPResource {
        let index = r.index
        var page = HTMLPage(title: "Jobs")
        page.raw("<p>\(index.jobs.count) jobs, \(index.count) targets. JSON: <a href=\"/jobs\">/jobs</a>.</p>")
        page.raw("<table><tr><th>Job</th><th class=n>Targets</th><th class=n>Unassigned</th><th>Targets per collector</th></tr>")
        var counts = [Int](repeating: 0, count: index.collectors.count)
        for j in index.jobs.indices {
            let range = index.jobStart[j]..<index.jobStart[j + 1]
            for c in counts.indices { counts[c] = 0 }
            var unassigned = 0
            for i in range {
                let c = Int(index.collector[i])
                if c < 0 { unassigned += 1 } else { counts[c] += 1 }
            }
            page.raw("<tr><td>")
            page.link(jobHref(index.jobs[j]), index.jobs[j])
            page.raw("</td><td class=n>\(range.count)</td><td class=n>\(unassigned)</td><td>")
            for (c, n) in counts.enumerated() where n > 0 {
                page.link(jobHref(index.jobs[j], collector: index.collectors[c]), index.collectors[c])
                page.raw(" \(n) &nbsp; ")
            }
            page.raw("</td></tr>")
        }
        page.raw("</table>")
        return page.resource()
    }

    // MARK: - one job

    static func job(_ r: RenderedSnapshot, name: String, collector: String?, pageNumber: Int) -> HTTPResource {
        let index = r.index
        guard let j = index.jobs.firstIndex(where: { $0.bytesEqual(name) }) else {
            return HTMLPage.error(.notFound, title: "Unknown job", message: "This snapshot has no job \"\(name)\".")
        }
        var filter: Int32?
        if let collector {
            guard let c = index.collectors.firstIndex(where: { $0.bytesEqual(collector) }) else {
                return HTMLPage.error(.notFound, title: "Unknown collector", message: "This snapshot has no collector \"\(collector)\".")
            }
            filter = Int32(c)
        }
        let range = index.jobStart[j]..<index.jobStart[j + 1]
        var page = HTMLPage(title: "Job: \(name)")
        var counts = [Int](repeating: 0, count: index.collectors.count)
        var unassigned = 0
        for i in range {
            let c = Int(index.collector[i])
            if c < 0 { unassigned += 1 } else { counts[c] += 1 }
        }
        let escapedJob = GoURLEscaping.queryEscape(name)
        page.raw("<p>\(range.count) targets, \(unassigned) without a collector. JSON: ")
        page.link("/jobs/\(escapedJob)/targets", "/jobs/\(escapedJob)/targets")
        page.raw("</p><h2>Targets per collector</h2><table><tr><th>Collector</th><th class=n>Targets</th><th>What it fetches</th></tr>")
        for (c, n) in counts.enumerated() {
            let sd = "/jobs/\(escapedJob)/targets?collector_id=\(GoURLEscaping.queryEscape(index.collectors[c]))"
            page.raw("<tr><td>")
            page.link(jobHref(name, collector: index.collectors[c]), index.collectors[c])
            page.raw("</td><td class=n>\(n)</td><td>")
            page.link(sd, sd)
            page.raw("</td></tr>")
        }
        page.raw("</table>")

        let matching = filter.map { f in range.filter { index.collector[$0] == f } } ?? Array(range)
        page.raw("<h2>Targets\(collector.map { " on " + HTMLPage.escape($0) } ?? "")</h2>")
        targetTable(&page, index, matching, pageNumber: pageNumber, showJob: false) { jobHref(name, collector: collector, page: $0) }

        page.raw("<h2>Scrape config</h2><p class=muted>Secrets read &lt;secret&gt;, as on /scrape_configs.</p><pre>")
        if let job = r.jobList.first(where: { $0.name.bytesEqual(name) }) {
            page.text(PrettyJSON.render(SecretRedaction.redact(job.scrapeConfig)))
        }
        page.raw("</pre>")
        return page.resource()
    }

    // MARK: - one collector

    static func collector(_ r: RenderedSnapshot, name: String, pageNumber: Int) -> HTTPResource {
        let index = r.index
        guard let c = index.collectors.firstIndex(where: { $0.bytesEqual(name) }) else {
            return HTMLPage.error(.notFound, title: "Unknown collector", message: "This snapshot has no collector \"\(name)\".")
        }
        var page = HTMLPage(title: "Collector: \(name)")
        let mine = (0..<index.count).filter { index.collector[$0] == Int32(c) }
        let node = r.collectorNodes[c]
        page.raw("<p>\(mine.count) targets")
        if let node { page.raw(", on node <code>\(HTMLPage.escape(node))</code>") }
        page.raw(".</p><h2>Jobs</h2><table><tr><th>Job</th><th class=n>Targets</th></tr>")
        var j = -1
        var n = 0
        func flush() {
            guard j >= 0, n > 0 else { return }
            page.raw("<tr><td>")
            page.link(jobHref(index.jobs[j], collector: name), index.jobs[j])
            page.raw("</td><td class=n>\(n)</td></tr>")
        }
        for i in mine {
            let job = index.job(of: i)
            if job != j {
                flush()
                j = job
                n = 0
            }
            n += 1
        }
        flush()
        page.raw("</table><h2>Targets</h2>")
        targetTable(&page, index, mine, pageNumber: pageNumber, showJob: true, showCollector: false) { collectorHref(name, page: $0) }
        return page.resource()
    }

    // MARK: - search

    static func targets(_ r: RenderedSnapshot, query: String?, pageNumber: Int) -> HTTPResource {
        let index = r.index
        var parsed: TargetQuery?
        if let query {
            do throws(QueryError) {
                parsed = try TargetQuery(query)
            } catch {
                return HTMLPage.error(.badRequest, title: "Bad search", message: "\(error.reason).")
            }
        }
        var page = HTMLPage(title: parsed == nil ? "Targets" : "Targets matching \(parsed!.text)")
        page.raw(
            "<form action=\"/debug/targets\" method=\"get\"><input name=\"q\" size=\"50\" value=\"\(HTMLPage.escape(query ?? ""))\" aria-label=\"search\"> <button>Find</button>"
                + " <span class=muted>address or label value (substring), or name=value; every term must match</span></form>")
        let matching = parsed.map { q in (0..<index.count).filter { q.matches(index, $0) } } ?? Array(0..<index.count)
        page.raw("<p>\(matching.count) of \(index.count) targets.</p>")
        let q = query.map { "&q=" + GoURLEscaping.queryEscape($0) } ?? ""
        targetTable(&page, index, matching, pageNumber: pageNumber, showJob: true) { "/debug/targets?page=\($0)" + q }
        return page.resource()
    }

    // MARK: - one target

    static func target(_ r: RenderedSnapshot, hash: String?, balance: String?) -> HTTPResource {
        guard let hash, !hash.isEmpty, hash != "0" else {
            return HTMLPage.error(.badRequest, title: "Bad request", message: "Expected target_hash in the query string, e.g. /debug/target?target_hash=42.")
        }
        guard let fingerprint = UInt64(hash) else {
            return HTMLPage.error(.badRequest, title: "Bad request", message: "Expected target_hash to be a number, e.g. /debug/target?target_hash=42.")
        }
        let index = r.index
        guard let i = index.entry(fingerprint: fingerprint) else {
            return HTMLPage.error(
                .notFound, title: "Unknown target", message: "No target has hash \(hash) in this snapshot (it may have gone since).")
        }
        let labels = index.labels(i)
        func label(_ name: String) -> String { labels.first { $0.name.bytesEqual(name) }?.value ?? "" }
        let job = index.jobs[index.job(of: i)]
        let c = Int(index.collector[i])
        var page = HTMLPage(title: "Target: \(index.address(i))")
        page.raw("<table>")
        page.raw("<tr><th>Collector</th><td>")
        if c >= 0 { page.link(collectorHref(index.collectors[c]), index.collectors[c]) } else { page.raw("<span class=bad>none</span>") }
        page.raw("</td></tr><tr><th>Job</th><td>")
        page.link(jobHref(job), job)
        page.raw("</td></tr>")
        for (title, name) in [
            ("Namespace", "__meta_kubernetes_namespace"), ("Service name", "__meta_kubernetes_service_name"),
            ("Service port", "__meta_kubernetes_service_port_name"), ("Pod name", "__meta_kubernetes_pod_name"),
            ("Container name", "__meta_kubernetes_pod_container_name"),
            ("Container port name", "__meta_kubernetes_pod_container_port_name"),
            ("Endpoint slice name", "__meta_kubernetes_endpointslice_name"),
        ] {
            page.raw("<tr><th>\(title)</th><td>")
            page.text(label(name))
            page.raw("</td></tr>")
        }
        let node = [label("__meta_kubernetes_pod_node_name"), label("__meta_kubernetes_node_name"), label("__meta_kubernetes_endpoint_node_name")]
            .first { !$0.isEmpty } ?? ""
        page.raw("<tr><th>Node name</th><td>")
        page.text(node)
        page.raw("</td></tr><tr><th>Why this collector</th><td>")
        if c < 0 {
            page.raw("No collector could take it when the leader last allocated (none ready, or none on its node under per-node).")
        } else {
            page.text(balance ?? "The leader's allocation strategy chose it.")
            if let collectorNode = r.collectorNodes[c] {
                page.raw(" The collector runs on node <code>\(HTMLPage.escape(collectorNode))</code>")
                page.raw(collectorNode.bytesEqual(node) ? ", the target's node." : ".")
            }
        }
        page.raw("</td></tr><tr><th>Target hash</th><td><code>\(fingerprint)</code> (stable across replicas and snapshots)</td></tr></table>")
        page.raw("<h2>Labels</h2><table><tr><th>Label</th><th>Value</th></tr>")
        for l in labels {
            page.raw("<tr><td><code>\(HTMLPage.escape(l.name))</code></td><td><code>\(HTMLPage.escape(l.value))</code></td></tr>")
        }
        page.raw("</table>")
        return page.resource()
    }

    // MARK: - scrape configs

    static func scrapeConfigs(_ r: RenderedSnapshot) -> HTTPResource {
        var page = HTMLPage(title: "Scrape configs")
        page.raw("<p>\(r.jobList.count) jobs. Secrets read &lt;secret&gt;. JSON: <a href=\"/scrape_configs\">/scrape_configs</a>.</p>")
        page.raw("<table><tr><th>Job</th><th>Scrape config</th></tr>")
        for job in r.jobList {
            page.raw("<tr><td>")
            page.link(jobHref(job.name), job.name)
            page.raw("</td><td><pre>")
            page.text(PrettyJSON.render(SecretRedaction.redact(job.scrapeConfig)))
            page.raw("</pre></td></tr>")
        }
        page.raw("</table>")
        return page.resource()
    }

    // MARK: - shared

    /// One page of targets: address (linked to the target view), job, collector and labels.
    private static func targetTable(
        _ page: inout HTMLPage, _ index: TargetIndex, _ entries: [Int], pageNumber: Int, showJob: Bool, showCollector: Bool = true,
        href: (Int) -> String
    ) {
        let first = min(pageNumber * perPage, entries.count)
        let shown = entries[first..<min(first + perPage, entries.count)]
        page.raw("<table><tr><th>Target</th>\(showJob ? "<th>Job</th>" : "")\(showCollector ? "<th>Collector</th>" : "")<th>Labels</th></tr>")
        for i in shown {
            page.raw("<tr><td>")
            page.link(targetHref(index.fingerprint[i]), index.address(i))
            if showJob {
                page.raw("</td><td>")
                let job = index.jobs[index.job(of: i)]
                page.link(jobHref(job), job)
            }
            if showCollector {
                page.raw("</td><td>")
                let c = Int(index.collector[i])
                if c >= 0 { page.link(collectorHref(index.collectors[c]), index.collectors[c]) } else { page.raw("<span class=bad>none</span>") }
            }
            page.raw("</td><td>")
            page.labels(index.labels(i))
            page.raw("</td></tr>")
        }
        page.raw("</table>")
        page.pages(current: pageNumber, total: entries.count, perPage: perPage, href: href)
    }
}

/// Indented JSON for reading: two spaces, members in their stored order, and strings escaped
/// only as JSON requires (the page escapes for HTML), so `<secret>` reads as itself.
enum PrettyJSON {
    static func render(_ value: JSONValue) -> String {
        var out: [UInt8] = []
        write(value, depth: 0, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func write(_ value: JSONValue, depth: Int, into out: inout [UInt8]) {
        func newline(_ d: Int) {
            out.append(0x0a)
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * d))
        }
        switch value {
        case .array(let items) where !items.isEmpty:
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                write(item, depth: depth + 1, into: &out)
            }
            newline(depth)
            out.append(UInt8(ascii: "]"))
        case .object(let members) where !members.isEmpty:
            out.append(UInt8(ascii: "{"))
            for (i, member) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                string(member.key, into: &out)
                out.append(contentsOf: ": ".utf8)
                write(member.value, depth: depth + 1, into: &out)
            }
            newline(depth)
            out.append(UInt8(ascii: "}"))
        case .string(let s):
            string(s, into: &out)
        default:
            value.write(into: &out)
        }
    }

    private static func string(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), c])
            case 0x0a: out.append(contentsOf: "\\n".utf8)
            case 0..<0x20: out.append(contentsOf: "\\u00\(c < 0x10 ? "0" : "1")\(String(c & 0xf, radix: 16))".utf8)
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
