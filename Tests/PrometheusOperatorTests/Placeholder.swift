import Testing
@Suite struct PrometheusOperatorTestsPlaceholder { @Test func placeholder() { #expect(Bool(true)) } }
