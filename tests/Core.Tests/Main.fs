module InfluxProxy.Core.Tests.Main

open Expecto

[<EntryPoint>]
let main argv =
    Tests.runTestsWithCLIArgs [] argv (testList "core" [ PrecisionTests.tests; LineScannerTests.tests; RetentionTests.tests; InfluxQLTests.tests; QueryRoutingTests.tests; MigrationFlagsTests.tests; MigrationPlanTests.tests; MigrationRequestTests.tests; MigrationPaceTests.tests; PlacementTests.tests; CipherTests.tests; ConfigTests.tests; ResultMergeTests.tests; ResultChunksTests.tests; FailedStatementTests.tests; CsvFieldTests.tests; WriteAnswerTests.tests; ConsistencyTests.tests; PromRemoteTests.tests; QuarantineTests.tests; WriteOutcomeTests.tests; BackendHealthTests.tests; LineFormatTests.tests; MigrationJobTests.tests; MigrationPrerequisitesTests.tests; MigrationProgressTests.tests; MigrationQueriesTests.tests; VerificationTests.tests ])
