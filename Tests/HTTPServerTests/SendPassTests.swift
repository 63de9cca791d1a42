import NIOCore
import NIOPosix
import Testing

@testable import HTTPServer

/// The send pass answers the connections read in one event-loop tick after all of the tick's
/// reads, those answered longest ago first (their requests arrived first).
@Suite struct SendPassTests {
    /// Records its sends in a log shared by every member of the test.
    final class Member: SendPassMember {
        let name: String
        let log: Log
        var lastSent: UInt64 = 0
        var isQueuedForSend = false
        init(_ name: String, log: Log) {
            self.name = name
            self.log = log
        }
        func send() { log.sends.append(name) }
    }

    final class Log {
        var sends: [String] = []
    }

    @Test func ordersEachPassByLastAnswerNotByReadOrder() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let state = try await loop.submit {
            let log = Log()
            return NIOLoopBound((SendPass(eventLoop: loop), log, ["a", "b", "c"].map { Member($0, log: log) }), eventLoop: loop)
        }.get()

        /// Enqueues the named members in one task (as reads in one tick would) and returns what was
        /// sent during that task and what the pass sent after it.
        func tick(_ names: [String]) async throws -> (during: [String], pass: [String]) {
            let during = try await loop.submit {
                let (pass, log, members) = state.value
                for name in names { pass.enqueue(members.first { $0.name == name }!) }
                return log.sends
            }.get()
            // The pass is a task queued by the one above, so it has run before this one.
            let sent = try await loop.submit {
                let log = state.value.1
                defer { log.sends.removeAll() }
                return log.sends
            }.get()
            return (during, sent)
        }

        let first = try await tick(["a", "b", "c"])
        #expect(first.during.isEmpty, "nothing is sent while the tick's reads go on")
        #expect(first.pass == ["a", "b", "c"], "first answers keep the read order")
        #expect(try await tick(["c", "b", "a"]).pass == ["a", "b", "c"], "a was answered first, so its request came first")
        #expect(try await tick(["c", "a"]).pass == ["a", "c"])
        #expect(try await tick(["c", "a", "b"]).pass == ["b", "a", "c"], "b skipped a tick: answered longest ago, it goes first")
        #expect(try await tick(["b", "b", "b"]).pass == ["b"], "several reads in one tick: one send")
        #expect(try await tick(["a"]).pass == ["a"], "a member is queued again after its pass")
    }
}
