import ByteStrings
import HTTPServer
import NIOCore

/// The `/` page: the cluster's story as this replica sees it. Who leads and for how long,
/// what each replica it knows serves, the balance across collectors against the allocator's
/// bound, and the recent leadership changes and commits with what they changed.
///
/// Server-rendered and self-contained (no fonts, images or scripts from elsewhere). The data
/// is all in the HTML; a small inline script swaps in a fresh `#live` section every two
/// seconds without reloading the page, and without JavaScript a meta refresh reloads it.
enum StatusPage {
    struct Input {
        let identity: String
        let leader: String?
        let isLeader: Bool
        let rendered: RenderedSnapshot?
        let nowMillis: Int64
        let history: ClusterHistory
        let allocation: AllocationDescription?
    }

    static let refreshMillis = 2000

    /// Re-fetches `/` and replaces the live section; counts swaps in `data-refreshes` on <body>.
    static let script = """
        (function(){function tick(){fetch('/',{headers:{Accept:'text/html'},cache:'no-store'}).then(function(r){return r.text()})
        .then(function(t){var n=new DOMParser().parseFromString(t,'text/html').getElementById('live'),o=document.getElementById('live');
        if(n&&o){o.replaceWith(n);document.body.dataset.refreshes=(+(document.body.dataset.refreshes||0))+1}})
        .catch(function(){}).then(function(){setTimeout(tick,\(refreshMillis))})}setTimeout(tick,\(refreshMillis))})();
        """

    static func render(_ input: Input) -> HTTPResource {
        var page = HTMLPage(title: "Target allocator", head: "<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>")
        let r = input.rendered
        let leadership = input.history.leadership
        let leader = input.leader
        page.raw("<div id=\"live\" data-leader=\"\(HTMLPage.escape(leader ?? ""))\" data-epoch=\"\(r.map { "\($0.epoch)" } ?? "")\"")
        page.raw(" data-generation=\"\(r.map { "\($0.generation)" } ?? "")\"><div class=cards>")

        // Leader card.
        page.raw("<div class=card id=leader><span class=muted>Leader</span><b>")
        page.text(leader ?? "none")
        page.raw("</b>")
        if let leadership, leader != nil, leadership.leader == leader {
            let held = spoken(input.nowMillis - leadership.since)
            page.raw(
                leadership.witnessed
                    ? "leading for \(held), since \(clockTime(leadership.since)) UTC"
                    : "leading for at least \(held) (since before \(clockTime(leadership.since)) UTC)")
        } else if leader == nil {
            page.raw("<span class=bad>no replica holds the Lease</span>")
        }
        page.raw("</div>")

        // This replica.
        page.raw("<div class=card id=self><span class=muted>This replica</span><b>")
        page.text(input.identity)
        page.raw("</b>\(input.isLeader ? "leader" : "follower"), ")
        page.raw(r == nil ? "<span class=bad>not ready</span>" : "<span class=ok>ready</span>")
        page.raw("</div>")

        if let r {
            page.raw("<div class=card><span class=muted>Snapshot</span><b>epoch \(r.epoch) · generation \(r.generation)</b>written by ")
            page.text(r.leader)
            page.raw(" \(spoken(input.nowMillis - r.createdAtMillis)) ago</div>")
            page.raw("<div class=card><span class=muted>Targets</span><b>\(r.targetCount)</b>")
            page.raw("<a href=\"/debug/jobs\">\(r.jobCount) jobs</a>, \(r.collectorLoads.count) collectors, ")
            page.raw(r.unassignedTargets == 0 ? "none unassigned" : "<span class=bad>\(r.unassignedTargets) unassigned</span>")
            page.raw("</div>")
        } else {
            page.raw("<div class=card><span class=muted>Snapshot</span><b>none loaded yet</b></div>")
        }
        page.raw("</div>")

        replicas(&page, input)
        if let r { balance(&page, r, input.allocation) }
        events(&page, input.history.events)
        page.raw("</div>")
        page.raw(
            "<p class=muted>JSON: <a href=\"/status\">/status</a> · <a href=\"/jobs\">/jobs</a> · <a href=\"/scrape_configs\">/scrape_configs</a> · <a href=\"/metrics\">/metrics</a></p>"
        )
        return page.resource(script: script)
    }

    private static func replicas(_ page: inout HTMLPage, _ input: Input) {
        page.raw("<h2>Replicas</h2><table><tr><th>Replica</th><th>Role</th><th>Ready</th><th>Epoch / generation</th></tr>")
        let r = input.rendered
        page.raw("<tr><td>")
        page.text(input.identity)
        page.raw(" <span class=muted>(this one)</span></td><td>\(input.isLeader ? "leader" : "follower")</td><td>")
        page.raw(r == nil ? "<span class=bad>no</span>" : "<span class=ok>yes</span>")
        page.raw("</td><td>\(r.map { "\($0.epoch) / \($0.generation)" } ?? "—")</td></tr>")
        if let leader = input.leader, !input.isLeader {
            page.raw("<tr><td>")
            page.text(leader)
            page.raw("</td><td>leader (holds the Lease)</td><td>—</td><td>")
            if let r, r.leader.bytesEqual(leader) {
                page.raw("committed \(r.epoch) / \(r.generation)")
            } else {
                page.raw("—")
            }
            page.raw("</td></tr>")
        }
        for former in input.history.formerLeaders.reversed() where !former.identity.utf8.elementsEqual((input.leader ?? "").utf8) {
            page.raw("<tr><td>")
            page.text(former.identity)
            page.raw("</td><td class=muted>held the Lease until \(clockTime(former.until)) UTC</td><td>—</td><td>—</td></tr>")
        }
        page.raw(
            "</table><p class=muted>Replicas know each other only through the Lease and the snapshot ConfigMaps (followers read nothing else), so other followers are not listed.</p>"
        )
    }

    /// Targets per collector as horizontal bars, with the balance bound and the mean drawn across.
    private static func balance(_ page: inout HTMLPage, _ r: RenderedSnapshot, _ allocation: AllocationDescription?) {
        let loads = r.collectorLoads
        page.raw("<h2>Targets per collector</h2>")
        guard !loads.isEmpty else {
            page.raw("<p class=bad>No collectors: every target is unassigned.</p>")
            return
        }
        let assigned = r.targetCount - r.unassignedTargets
        let bound = allocation?.bound(assigned: assigned, collectors: loads.count)
        let shownCount = min(loads.count, 200)
        let most = max(1, loads.map(\.1).max() ?? 1, bound ?? 0)
        let labelWidth = 190
        let barWidth = 460
        let row = 20
        let height = shownCount * row + 26
        func x(_ v: Double) -> Int { labelWidth + Int((v / Double(most) * Double(barWidth)).rounded()) }
        page.raw(
            "<svg id=\"balance\" role=\"img\" aria-label=\"targets per collector\" width=\"\(labelWidth + barWidth + 90)\" height=\"\(height)\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"12\" font-family=\"system-ui,sans-serif\">"
        )
        for (k, (collector, load)) in loads.prefix(shownCount).enumerated() {
            let y = k * row + 4
            let over = bound.map { load > $0 } ?? false
            page.raw("<a href=\"\(HTMLPage.escape(OperatorViews.collectorHref(collector)))\"><text x=\"0\" y=\"\(y + 13)\">")
            page.text(collector.utf8.count > 28 ? String(collector.prefix(27)) + "…" : collector)
            page.raw(
                "</text></a><rect class=\"bar\" data-collector=\"\(HTMLPage.escape(collector))\" x=\"\(labelWidth)\" y=\"\(y)\" width=\"\(max(1, x(Double(load)) - labelWidth))\" height=\"\(row - 6)\" fill=\"\(over ? "#b42318" : "#4a7bd0")\"><title>"
            )
            page.text("\(collector): \(load) targets")
            page.raw("</title></rect><text x=\"\(x(Double(load)) + 4)\" y=\"\(y + 12)\">\(load)</text>")
        }
        let bottom = shownCount * row + 4
        let mean = Double(assigned) / Double(loads.count)
        page.raw(
            "<line x1=\"\(x(mean))\" x2=\"\(x(mean))\" y1=\"0\" y2=\"\(bottom)\" stroke=\"#777\" stroke-dasharray=\"2 3\"/><text x=\"\(x(mean) - 4)\" y=\"\(bottom + 16)\" fill=\"#555\" text-anchor=\"end\">mean \(Int(mean.rounded()))</text>"
        )
        if let bound {
            page.raw(
                "<line id=\"bound\" data-bound=\"\(bound)\" x1=\"\(x(Double(bound)))\" x2=\"\(x(Double(bound)))\" y1=\"0\" y2=\"\(bottom)\" stroke=\"#b42318\" stroke-width=\"2\" stroke-dasharray=\"6 3\"/><text x=\"\(x(Double(bound)) + 4)\" y=\"\(bottom + 16)\" fill=\"#b42318\">bound \(bound)</text>"
            )
        }
        page.raw("</svg>")
        if loads.count > shownCount { page.raw("<p class=muted>\(loads.count - shownCount) more collectors not drawn.</p>") }
        if let allocation, let bound, let slack = allocation.slack {
            page.raw(
                "<p class=muted>\(HTMLPage.escape(allocation.strategy)): no collector holds more than ⌈(1+ε)·\(assigned)/\(loads.count)⌉ = \(bound) targets (ε = \(slack)).</p>"
            )
        } else if let allocation {
            page.raw("<p class=muted>\(HTMLPage.escape(allocation.strategy)): no balance bound (targets follow their nodes).</p>")
        }
    }

    private static func events(_ page: inout HTMLPage, _ events: [ClusterHistory.Event]) {
        page.raw("<h2>Recent changes</h2>")
        guard !events.isEmpty else {
            page.raw("<p class=muted>Nothing yet.</p>")
            return
        }
        page.raw("<table id=\"events\"><tr><th>Time (UTC)</th><th>What</th><th>Details</th></tr>")
        for event in events {
            page.raw("<tr class=ev><td>\(clockTime(event.millis))</td>")
            switch event.kind {
            case .leader(let from, let to):
                page.raw("<td class=\"leader-change\">Lease holder changed</td><td>")
                page.text(from ?? "none")
                page.raw(" → <b>")
                page.text(to ?? "none (released)")
                page.raw("</b></td>")
            case .term(let epoch, let leader):
                page.raw("<td class=\"term\">New term: epoch \(epoch)</td><td>first commit of <b>")
                page.text(leader)
                page.raw("</b> seen here</td>")
            case .commit(let epoch, let generation, let previous, let targets, let diff):
                page.raw("<td class=\"commit\">Commit \(epoch) / \(generation)</td><td>")
                if let diff, let previous {
                    let skipped = previous.epoch == epoch && generation > previous.generation + 1 ? " (since \(previous.epoch) / \(previous.generation))" : ""
                    if diff.isEmpty {
                        page.raw("no target changed\(skipped)")
                    } else {
                        page.raw("+\(diff.added) added, −\(diff.removed) removed, \(diff.moved) moved\(skipped)")
                    }
                    if !diff.collectorsAdded.isEmpty {
                        page.raw("; collectors joined: ")
                        page.text(diff.collectorsAdded.joined(separator: ", "))
                    }
                    if !diff.collectorsRemoved.isEmpty {
                        page.raw("; collectors left: ")
                        page.text(diff.collectorsRemoved.joined(separator: ", "))
                    }
                    for change in diff.samples {
                        page.raw("<br><span class=muted>")
                        let what = change.from == nil && change.to == nil ? "" : "\(change.from ?? "none") → \(change.to ?? "none")"
                        if let fingerprint = change.fingerprint {
                            page.link(OperatorViews.targetHref(fingerprint), change.address)
                        } else {
                            page.text(change.address)
                        }
                        page.raw(" (")
                        page.text(change.job)
                        page.raw(") ")
                        page.text(what)
                        page.raw("</span>")
                    }
                } else {
                    page.raw("loaded: \(targets) targets")
                }
                page.raw("</td>")
            }
            page.raw("</tr>")
        }
        page.raw("</table>")
    }
}
