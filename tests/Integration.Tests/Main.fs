module InfluxProxy.Testing.Main

open Expecto

[<EntryPoint>]
let main argv =
    Tests.runTestsWithCLIArgs [] argv (testList "integration" [ FoundationTests.tests; WriteTests.tests; OperationsTests.tests ])
