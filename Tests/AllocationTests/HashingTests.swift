import Testing
@testable import Allocation

@Suite struct HashingTests {
    @Test func xxhash64KnownVectors() {
        #expect(XXH64.hash("") == 0xEF46_DB37_51D8_E999)
        #expect(XXH64.hash("abc") == 0x44BC_2CF5_AD77_0999)
        #expect(XXH64.hash("Nobody inspects the spammish repetition") == 0xFBCE_A83C_8A37_8BF1)
    }

    @Test func targetIDIgnoresMetaLabelsAndOrder() {
        let a = TargetID.of(
            job: "pods", labels: [(name: "__address__", value: "10.0.0.1:8080"), (name: "__meta_kubernetes_pod_name", value: "a"), (name: "app", value: "x")])
        let b = TargetID.of(
            job: "pods", labels: [(name: "app", value: "x"), (name: "__address__", value: "10.0.0.1:8080"), (name: "__meta_kubernetes_pod_name", value: "b")])
        #expect(a == b)
        #expect(a != TargetID.of(job: "other", labels: [(name: "app", value: "x"), (name: "__address__", value: "10.0.0.1:8080")]))
        #expect(a != TargetID.of(job: "pods", labels: [(name: "app", value: "y"), (name: "__address__", value: "10.0.0.1:8080")]))
    }

    @Test func targetIDSeparatorsDoNotCollide() {
        let ids = [
            TargetID.of(job: "ab", labels: [(name: "c", value: "d")]),
            TargetID.of(job: "a", labels: [(name: "bc", value: "d")]),
            TargetID.of(job: "a", labels: [(name: "b", value: "cd")]),
            TargetID.of(job: "a", labels: [(name: "b", value: ""), (name: "c", value: "d")]),
            TargetID.of(job: "abcd", labels: [(name: String, value: String)]()),
        ]
        #expect(Set(ids).count == ids.count)
    }

    /// Pinned values: changing them reshuffles every deployment, so it must never happen silently.
    @Test func targetIDIsStableAcrossVersions() {
        let id = TargetID.of(job: "serviceMonitor/ns/app/0", labels: [(name: "__address__", value: "10.0.0.1:8080"), (name: "job", value: "app")])
        #expect(id.rawValue == 3_067_182_730_410_486_266)
        #expect(AllocationKey.of("10.0.0.1:8080") == XXH64.hash("10.0.0.1:8080"))
    }

    @Test func portableLogMatchesKnownValues() {
        #expect(abs(portableLog(0.5) + 0.693_147_180_559_945_3) < 1e-15)
        #expect(abs(portableLog(0.1) + 2.302_585_092_994_045_7) < 1e-15)
        #expect(abs(portableLog(1e-10) + 23.025_850_929_940_457) < 1e-13)
        #expect(portableLog(1) == 0)
    }

    /// Scores are pinned too: they decide placement.
    @Test func rendezvousScoresAreStable() {
        let cols = Collectors(makeCollectors(6))
        #expect(cols.preferences(42) == [1, 3, 5, 2, 0, 4])
        #expect(cols.score(42, 0) == 2_471_292_253_841_772_538)
        let weighted = Collectors(makeCollectors(6, weights: [1, 2, 3]))
        #expect(weighted.uniform == false)
        #expect(weighted.preferences(42) == [1, 5, 2, 3, 4, 0])
        #expect(weighted.score(42, 0) == 4_602_633_353_214_906_082)
        #expect(mix64(Core.prioritySalt) == 16_852_473_371_444_490_038)
    }

    @Test func strategyNames() {
        #expect(AllocationStrategy(name: "consistent-hashing") == .consistentHashing)
        #expect(AllocationStrategy(name: "") == .consistentHashing)
        #expect(AllocationStrategy(name: "least-weighted") == .leastWeighted)
        #expect(AllocationStrategy(name: "per-node") == .perNode(fallback: .consistentHashing))
        #expect(AllocationStrategy(name: "per-node", fallback: .leastWeighted) == .perNode(fallback: .leastWeighted))
        #expect(AllocationStrategy(name: "round-robin") == nil)
        #expect(FallbackStrategy(name: "") == .consistentHashing)
        #expect(FallbackStrategy(name: "least-weighted") == .leastWeighted)
        #expect(FallbackStrategy(name: "per-node") == nil)
        let c = AllocatorConfiguration(strategy: .perNode, fallbackStrategy: .leastWeighted)
        #expect(c.fallbackStrategy == .leastWeighted)
        #expect(c.strategy.name == "per-node")
    }
}
