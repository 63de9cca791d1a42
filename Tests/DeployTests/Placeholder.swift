import Testing
@Suite struct DeployTestsPlaceholder { @Test func placeholder() { #expect(Bool(true)) } }
