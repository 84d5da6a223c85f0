module InfluxProxy.Testing.Main

open Expecto

[<EntryPoint>]
let main argv =
    match argv with
    | [| "--backlog-crash-child"; dir |] -> BacklogTests.crashChild dir
    | _ ->
    Tests.runTestsWithCLIArgs [] argv (testList "integration" [ BacklogTests.tests; JournalTests.tests; ClusterOwnersTests.tests; AnswerLinesTests.tests; ChunkedStreamTests.tests; ByteBudgetTests.tests; ClientWritesTests.tests; DeliveryTallyTests.tests; JobStoreTests.tests; ReceiveBlockPoolTests.tests; FoundationTests.tests; WriteTests.tests; OperationsTests.tests; QueryTests.tests; QuarantineTests.tests; MigrationTests.tests; HostileInputTests.tests; ConsistencyTests.tests; TlsTests.tests; WriteV2Tests.tests; PromTests.tests; FuzzTests.tests; StatusPageTests.tests; HaproxyTests.tests ])
