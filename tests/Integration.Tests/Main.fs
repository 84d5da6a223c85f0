module InfluxProxy.Testing.Main

open Expecto

[<EntryPoint>]
let main argv =
    Tests.runTestsWithCLIArgs [] argv (testList "integration" [ BacklogTests.tests; FoundationTests.tests; WriteTests.tests; OperationsTests.tests; QueryTests.tests ])
