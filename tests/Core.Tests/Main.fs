module InfluxProxy.Core.Tests.Main

open Expecto

[<EntryPoint>]
let main argv =
    Tests.runTestsWithCLIArgs [] argv (testList "core" [ LineProtocolTests.tests; RetentionTests.tests; InfluxQLTests.tests; PlacementTests.tests; CipherTests.tests; ConfigTests.tests; ResultMergeTests.tests; QuarantineTests.tests ])
