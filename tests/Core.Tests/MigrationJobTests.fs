module InfluxProxy.Core.Tests.MigrationJobTests

open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

let private anyInt = ArbMap.defaults |> ArbMap.generate<int>

let private job: Gen<MigrationJob> =
    gen {
        let! id = Arb.text
        let! endpoint = Arb.text
        let! parameters = Gen.listOf (Gen.zip Arb.text Arb.text)
        let! body = Arb.text
        let! accepted = Arb.anyInt64
        return { Id = id; Endpoint = endpoint; Parameters = parameters; Body = body; AcceptedNs = accepted }
    }

let private bound = Gen.optionOf Arb.anyInt64

let private kind: Gen<StepKind> =
    Gen.oneof [
        Gen.map3 (fun destinations from until -> Copy(destinations, { From = from; Until = until })) (Gen.listOf anyInt) bound bound
        anyInt |> Gen.map Verify
        Gen.constant Drop
        Gen.constant Drained ]

let private step: Gen<MigrationStep> =
    gen {
        let! id = anyInt
        let! kind = kind
        let! source = anyInt
        let! db, rp, measurement = Gen.zip3 Arb.text Arb.text Arb.text
        let! points = Gen.optionOf Arb.anyInt64
        return { Id = id; Kind = kind; Source = source; Db = db; Rp = rp; Measurement = measurement; Points = points }
    }

let private plan: Gen<PlannedJob> =
    let mem = Gen.map4 (fun id circle name url -> { Id = id; Circle = circle; Name = name; Url = url }) anyInt anyInt Arb.text Arb.text
    let holding =
        Gen.map5 (fun backend db rp m points -> { Backend = backend; Db = db; Rp = rp; Measurement = m; Points = points })
            anyInt Arb.text Arb.text Arb.text (Gen.optionOf Arb.anyInt64)
    Gen.map3 (fun members holdings steps -> { Members = members; Holdings = holdings; Steps = steps }) (Gen.listOf mem) (Gen.listOf holding) (Gen.listOf step)

let private record (ids: Gen<int>) : Gen<StepRecord> =
    Gen.oneof [ Gen.map2 (fun id points -> StepDone(id, points)) ids Arb.anyInt64; Gen.map2 (fun id reason -> StepFailed(id, reason)) ids Arb.text ]

/// A record as the log keeps it: a reason on one line.
let private asKept =
    function
    | StepFailed(id, reason) -> StepFailed(id, reason.ReplaceLineEndings " ")
    | other -> other

let private logOf (records: StepRecord list) = records |> List.map MigrationJob.encodeRecord |> String.concat ""

/// A log cut anywhere, as a crash may leave it.
let private torn =
    gen {
        let! records = Gen.listOf (record anyInt)
        let log = logOf records
        let! cut = Gen.choose (0, log.Length)
        return records, log.Substring(0, cut)
    }

let private recordId =
    function
    | StepDone(id, _)
    | StepFailed(id, _) -> id

/// Steps of distinct ids out of a few, and records of those ids and of others.
let private stepsAndRecords =
    gen {
        let! ids = Gen.subListOf [ 0..9 ]
        let! steps = ids |> List.map (fun id -> step |> Gen.map (fun s -> { s with Id = id })) |> Gen.sequenceToList
        let! records = Gen.listOf (record (Gen.choose (0, 12)))
        return steps, records
    }

let private jobEnd = Gen.oneof [ Gen.constant Finished; Gen.constant Cancelled; Arb.text |> Gen.map Abandoned ]

let private copied =
    Gen.listOf (Gen.map5 (fun a b db rp m -> a, b, db, rp, m) Arb.text Arb.text Arb.text Arb.text Arb.text) |> Gen.map Set.ofList

let private laws =
    testList "laws" [
        testProperty "a job reads back as written" (Prop.forAll (Arb.fromGen job) (fun job -> MigrationJob.decode (MigrationJob.encode job) = Some job))

        testProperty "a plan reads back as written" (Prop.forAll (Arb.fromGen plan) (fun plan -> MigrationJob.decodePlan (MigrationJob.encodePlan plan) = Some plan))

        testProperty "the step log reads back as written, each reason on one line"
            (Prop.forAll (Arb.fromGen (Gen.listOf (record anyInt))) (fun records ->
                MigrationJob.decodeRecords (logOf records) = List.map asKept records))

        testProperty "a log torn anywhere reads as the records whose lines it holds whole"
            (Prop.forAll (Arb.fromGen torn) (fun (records, log) ->
                let whole = log |> Seq.filter ((=) '\n') |> Seq.length
                MigrationJob.decodeRecords log = (records |> List.truncate whole |> List.map asKept)))

        testProperty "each step's status is its last record's; a step without one is pending"
            (Prop.forAll (Arb.fromGen stepsAndRecords) (fun (steps, records) ->
                let statuses = MigrationJob.statuses steps records
                steps
                |> List.forall (fun s ->
                    let expected =
                        match records |> List.filter (fun r -> recordId r = s.Id) |> List.tryLast with
                        | Some(StepDone(_, points)) -> Done points
                        | Some(StepFailed(_, reason)) -> FailedWith reason
                        | None -> Pending
                    statuses[s.Id] = expected)))

        testProperty "a job's end reads back as written" (Prop.forAll (Arb.fromGen jobEnd) (fun e -> MigrationJob.decodeEnd (MigrationJob.encodeEnd e) = Some e))

        testProperty "the copies done read back as written"
            (Prop.forAll (Arb.fromGen copied) (fun s -> MigrationJob.decodeCopied (MigrationJob.encodeCopied s) = Some s))
    ]

let private examples =
    testList "examples" [
        test "the step log's lines" {
            Expect.equal (MigrationJob.encodeRecord (StepDone(3, 42L))) "3 done 42\n" "done"
            Expect.equal (MigrationJob.encodeRecord (StepFailed(4, "timeout\r\nafter 5s"))) "4 failed timeout after 5s\n" "failed, on one line"
            Expect.equal (MigrationJob.decodeRecords "1 done 5\nnonsense\n2 done x\n3 failed \n") [ StepDone(1, 5L); StepFailed(3, "") ] "lines that are none left out"
        }

        test "what is not a job, a plan, an end or the copies reads as none" {
            Expect.isNone (MigrationJob.decode "garbage") "not JSON"
            Expect.isNone (MigrationJob.decode """{"id":"j1"}""") "fields missing"
            Expect.isNone (MigrationJob.decodePlan "{}") "an empty object"
            let plan = { Members = []; Holdings = []; Steps = [ { Id = 0; Kind = Drop; Source = 0; Db = "db"; Rp = ""; Measurement = "m"; Points = None } ] }
            Expect.isNone (MigrationJob.decodePlan ((MigrationJob.encodePlan plan).Replace("\"drop\"", "\"move\""))) "a step of no known kind"
            Expect.isNone (MigrationJob.decodeEnd "finish") "no end"
            Expect.isNone (MigrationJob.decodeCopied "[1]") "not five names"
        }
    ]

let tests = testList "MigrationJob" [ examples; laws ]
