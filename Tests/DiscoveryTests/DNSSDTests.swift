import Discovery
import Foundation
import JSON
import Logging
import NIOConcurrencyHelpers
import TestSupport
import Testing

/// `dns_sd_configs` through c-ares against a DNS server the test runs on 127.0.0.1. The cases
/// and their expected groups are Prometheus's `TestDNS` (`discovery/dns/dns_test.go`), whose
/// mocked answers the server gives here for real; NS, CNAME, the kept group after a failure and
/// the refresh follow `discovery/dns/dns.go`.
@Suite(.serialized) struct DNSSDTests {
    /// A target's labels as Prometheus's `refreshOne` writes them.
    static func target(_ address: String, name: String, srv: (String, String) = ("", ""), mx: String = "", ns: String = "") -> [String: String] {
        [
            "__address__": address, "__meta_dns_name": name, "__meta_dns_srv_record_target": srv.0, "__meta_dns_srv_record_port": srv.1,
            "__meta_dns_mx_record_target": mx, "__meta_dns_ns_record_target": ns,
        ]
    }

    /// Runs a provider until its first publication.
    static func firstPublication(_ config: DNSSDConfig, server: TestDNSServer) async throws -> [TargetGroup] {
        let provider = DNSSDProvider(config: config, logger: Logger(label: "dns-test"), servers: [server.address])
        let published = NIOLockedValueBox<[[TargetGroup]]>([])
        let task = Task { await provider.run { groups in published.withLockedValue { $0.append(groups) } } }
        let done = await eventually(timeout: 60) { !published.withLockedValue { $0 }.isEmpty }
        task.cancel()
        await task.value
        try #require(done, "the provider published")
        return published.withLockedValue { $0 }[0]
    }

    @Test func aRecord() async throws {
        let server = try await TestDNSServer()
        server.table.set("web.example.com", "A", .records([.a("192.0.2.2")]))
        let groups = try await Self.firstPublication(DNSSDConfig(names: ["web.example.com."], type: .a, port: 80), server: server)
        #expect(groups == [TargetGroup(source: "web.example.com.", targets: [Self.target("192.0.2.2:80", name: "web.example.com.")])])
        await server.close()
    }

    @Test func aRecordQueryWithErrorGivesNoGroup() async throws {
        let server = try await TestDNSServer()
        server.table.set("web.example.com", "A", .rcode(2))  // SERVFAIL
        let groups = try await Self.firstPublication(DNSSDConfig(names: ["web.example.com."], type: .a, port: 80), server: server)
        #expect(groups == [])
        #expect(server.table.asked("web.example.com", "A") >= 1)
        await server.close()
    }

    @Test func aaaaRecord() async throws {
        let server = try await TestDNSServer()
        server.table.set("web.example.com", "AAAA", .records([.aaaa("::1")]))
        let groups = try await Self.firstPublication(DNSSDConfig(names: ["web.example.com."], type: .aaaa, port: 80), server: server)
        #expect(groups == [TargetGroup(source: "web.example.com.", targets: [Self.target("[::1]:80", name: "web.example.com.")])])
        await server.close()
    }

    @Test func srvRecords() async throws {
        let server = try await TestDNSServer()
        server.table.set(
            "_mysql._tcp.db.example.com", "SRV", .records([.srv(target: "db1.example.com", port: 3306), .srv(target: "db2.example.com", port: 3306)]))
        let name = "_mysql._tcp.db.example.com."
        let groups = try await Self.firstPublication(DNSSDConfig(names: [name]), server: server)
        #expect(
            groups == [
                TargetGroup(
                    source: name,
                    targets: [
                        Self.target("db1.example.com:3306", name: name, srv: ("db1.example.com.", "3306")),
                        Self.target("db2.example.com:3306", name: name, srv: ("db2.example.com.", "3306")),
                    ])
            ])
        await server.close()
    }

    @Test func srvRecordsWithUnsupportedRecordsKeepOnlyTheSRV() async throws {
        let server = try await TestDNSServer()
        server.table.set(
            "_mysql._tcp.db.example.com", "SRV", .records([.srv(target: "db1.example.com", port: 3306), .txt("this should be discarded")]))
        let name = "_mysql._tcp.db.example.com."
        let groups = try await Self.firstPublication(DNSSDConfig(names: [name]), server: server)
        #expect(groups == [TargetGroup(source: name, targets: [Self.target("db1.example.com:3306", name: name, srv: ("db1.example.com.", "3306"))])])
        await server.close()
    }

    @Test func nxdomainGivesAnEmptyGroup() async throws {
        let server = try await TestDNSServer()  // every unknown name is NXDOMAIN
        let name = "_mysql._tcp.db.example.com."
        let groups = try await Self.firstPublication(DNSSDConfig(names: [name]), server: server)
        #expect(groups == [TargetGroup(source: name)])
        await server.close()
    }

    @Test func mxRecords() async throws {
        let server = try await TestDNSServer()
        server.table.set("example.com", "MX", .records([.mx("smtp1.example.com", preference: 0), .mx("smtp2.example.com", preference: 10)]))
        let groups = try await Self.firstPublication(DNSSDConfig(names: ["example.com."], type: .mx, port: 25), server: server)
        #expect(
            groups == [
                TargetGroup(
                    source: "example.com.",
                    targets: [
                        Self.target("smtp1.example.com:25", name: "example.com.", mx: "smtp1.example.com."),
                        Self.target("smtp2.example.com:25", name: "example.com.", mx: "smtp2.example.com."),
                    ])
            ])
        await server.close()
    }

    @Test func nsRecords() async throws {
        let server = try await TestDNSServer()
        server.table.set("example.com", "NS", .records([.ns("ns1.example.com"), .ns("ns2.example.com")]))
        let groups = try await Self.firstPublication(DNSSDConfig(names: ["example.com"], type: .ns, port: 9100), server: server)
        #expect(
            groups == [
                TargetGroup(
                    source: "example.com",
                    targets: [
                        Self.target("ns1.example.com:9100", name: "example.com", ns: "ns1.example.com."),
                        Self.target("ns2.example.com:9100", name: "example.com", ns: "ns2.example.com."),
                    ])
            ])
        await server.close()
    }

    /// "CNAME responses can occur with "Type: A" dns_sd_config requests": the alias is skipped,
    /// the addresses it leads to are targets.
    @Test func aRecordsBehindACNAME() async throws {
        let server = try await TestDNSServer()
        server.table.set("www.example.com", "A", .records([.cname("web.example.com"), .a("192.0.2.7", owner: "web.example.com")]))
        let groups = try await Self.firstPublication(DNSSDConfig(names: ["www.example.com."], type: .a, port: 8080), server: server)
        #expect(groups == [TargetGroup(source: "www.example.com.", targets: [Self.target("192.0.2.7:8080", name: "www.example.com.")])])
        await server.close()
    }

    /// Every name is its own group; one whose lookup fails keeps its last group (the discovery
    /// manager replaces groups only by source), and each refresh picks up changed answers.
    @Test func refreshesAndKeepsTheLastGroupOfAFailingName() async throws {
        let server = try await TestDNSServer()
        server.table.set("a.example.com", "A", .records([.a("192.0.2.1")]))
        server.table.set("b.example.com", "A", .records([.a("192.0.2.2")]))
        let config = DNSSDConfig(names: ["a.example.com.", "b.example.com."], type: .a, port: 9100, refreshInterval: .milliseconds(200))
        let provider = DNSSDProvider(config: config, logger: Logger(label: "dns-test"), servers: [server.address])
        let published = NIOLockedValueBox<[[TargetGroup]]>([])
        let task = Task { await provider.run { groups in published.withLockedValue { $0.append(groups) } } }
        func latest() -> [TargetGroup] { published.withLockedValue { $0.last ?? [] } }
        func addresses() -> [String] { latest().flatMap { $0.targets.compactMap { $0["__address__"] } } }

        #expect(await eventually(timeout: 60) { addresses() == ["192.0.2.1:9100", "192.0.2.2:9100"] }, "\(latest())")
        #expect(latest().map(\.source) == ["a.example.com.", "b.example.com."])

        server.table.set("a.example.com", "A", .rcode(2))  // SERVFAIL: a keeps its group
        server.table.set("b.example.com", "A", .records([.a("192.0.2.3"), .a("192.0.2.4")]))
        #expect(await eventually(timeout: 60) { addresses() == ["192.0.2.1:9100", "192.0.2.3:9100", "192.0.2.4:9100"] }, "\(latest())")
        let failedBefore = provider.failures.value
        #expect(await eventually(timeout: 60) { provider.failures.value > failedBefore }, "the failing lookup is counted")

        server.table.set("a.example.com", "A", .rcode(3))  // NXDOMAIN: a is known to be gone
        #expect(await eventually(timeout: 60) { addresses() == ["192.0.2.3:9100", "192.0.2.4:9100"] }, "\(latest())")
        #expect(latest().first == TargetGroup(source: "a.example.com."))
        task.cancel()
        await task.value
        await server.close()
    }

    /// An unreachable server is a failed lookup, not a hang: the first publication still comes.
    @Test func anUnreachableServerIsAFailure() async throws {
        let server = try await TestDNSServer()
        let address = server.address
        await server.close()
        let config = DNSSDConfig(names: ["web.example.com."], type: .a, port: 80)
        let provider = DNSSDProvider(config: config, logger: Logger(label: "dns-test"), servers: [address])
        let published = NIOLockedValueBox<[[TargetGroup]]>([])
        let task = Task { await provider.run { groups in published.withLockedValue { $0.append(groups) } } }
        #expect(await eventually(timeout: 60) { !published.withLockedValue { $0 }.isEmpty })
        #expect(published.withLockedValue { $0 }.first == [])
        #expect(provider.failures.value >= 1)
        task.cancel()
        await task.value
    }
}

/// `dns_sd_configs` as Prometheus reads them (`SDConfig.UnmarshalYAML`, `TestSDConfigUnmarshalYAML`)
/// and as upstream serves them back.
@Suite struct DNSSDConfigTests {
    static func normalize(_ entry: String) -> (job: NormalizedJob?, problems: [String]) {
        let config = try! JSONValue.parse(#"{"job_name":"dns","dns_sd_configs":[\#(entry)]}"#)
        let r = ScrapeConfigModel.normalize(global: nil, scrapeConfigs: [config])
        return (r.jobs.first, r.problems)
    }

    @Test func defaultsAndServedForm() throws {
        let r = Self.normalize(#"{"names":["a.example.com","b.example.com"]}"#)
        #expect(r.problems.isEmpty)
        let job = try #require(r.job)
        #expect(job.dnsSD == [DNSSDConfig(names: ["a.example.com", "b.example.com"], type: .srv, port: 0, refreshInterval: .seconds(30))])
        #expect(job.scrapeConfig["dns_sd_configs"] == (try JSONValue.parse(#"[{"names":["a.example.com","b.example.com"],"port":0,"refresh_interval":"30s","type":"SRV"}]"#)))
        #expect(job.unsupportedSD.isEmpty)
    }

    @Test func typesAndPorts() throws {
        let a = Self.normalize(#"{"names":["a.example.com"],"type":"a","port":5300,"refresh_interval":"1m"}"#)
        #expect(a.problems.isEmpty)
        #expect(a.job?.dnsSD == [DNSSDConfig(names: ["a.example.com"], type: .a, port: 5300, refreshInterval: .seconds(60))])
        #expect(a.job?.scrapeConfig["dns_sd_configs"] == (try JSONValue.parse(#"[{"names":["a.example.com"],"port":5300,"refresh_interval":"1m","type":"a"}]"#)), "type served as given")
        for type in ["AAAA", "MX", "NS"] {
            #expect(Self.normalize(#"{"names":["a.example.com"],"type":"\#(type)","port":5300}"#).problems.isEmpty, "\(type)")
        }
    }

    @Test(arguments: [
        (#"{"names":["a.example.com"],"type":"A"}"#, "a port is required in DNS-SD configs for all record types except SRV"),
        (#"{"names":["a.example.com"],"type":"AAAA"}"#, "a port is required in DNS-SD configs for all record types except SRV"),
        (#"{"names":["a.example.com"],"type":"TXT","port":1}"#, "invalid DNS-SD records type TXT"),
        (#"{"names":[]}"#, "DNS-SD config must contain at least one SRV record name"),
        (#"{"names":["a"],"server":"x"}"#, "unknown field in dns_sd_config"),
    ])
    func invalid(_ c: (String, String)) {
        let r = Self.normalize(c.0)
        #expect(r.job == nil)
        #expect(r.problems.contains { $0.contains(c.1) }, "\(r.problems)")
    }
}

/// Mechanisms we do not discover with are reported with the job name.
@Suite struct UnsupportedSDTests {
    @Test func reportedWithTheJobName() throws {
        let config = try JSONValue.parse(#"{"job_name":"cloud","ec2_sd_configs":[{"region":"eu-west-1"}],"consul_sd_configs":[{"server":"c:8500"}]}"#)
        let r = ScrapeConfigModel.normalize(global: nil, scrapeConfigs: [config])
        let job = try #require(r.jobs.first)
        #expect(job.unsupportedSD == ["ec2", "consul"])
        #expect(r.problems.count == 2)
        #expect(r.problems.allSatisfy { $0.contains(#"job "cloud""#) && $0.contains("not supported") }, "\(r.problems)")
    }
}
