module InfluxProxy.Core.Tests.MigrationProgressTests

open Expecto
open InfluxProxy.Core

let private mem id circle url = { Id = id; Circle = circle; Name = url; Url = url }

let private holding backend db rp m points = { Backend = backend; Db = db; Rp = rp; Measurement = m; Points = Some points }

let private step id kind source db rp m points = { Id = id; Kind = kind; Source = source; Db = db; Rp = rp; Measurement = m; Points = points }

let private whole = { From = None; Until = None }

/// Circle 0 is a (0), b (1) and r (3, removed); circle 1 is c (2). a moves cpu (two rps, one cut in two slices) and
/// disk to b, and keeps mem; r is drained onto b; b and c move nothing.
let private job =
    { Members = [ mem 0 0 "http://a"; mem 1 0 "http://b"; mem 2 1 "http://c"; mem 3 0 "http://r" ]
      Holdings =
        [ holding 0 "db1" "autogen" "cpu" 100L; holding 0 "db1" "week" "cpu" 50L; holding 0 "db1" "autogen" "mem" 10L
          holding 0 "db2" "autogen" "disk" 7L; holding 1 "db1" "autogen" "cpu" 5L; holding 3 "db1" "autogen" "cpu" 4L
          holding 2 "db1" "autogen" "cpu" 9L ]
      Steps =
        [ step 0 (Copy([ 1 ], { From = None; Until = Some 100L })) 0 "db1" "autogen" "cpu" (Some 100L)
          step 1 (Copy([ 1 ], { From = Some 100L; Until = None })) 0 "db1" "autogen" "cpu" (Some 100L)
          step 2 (Copy([ 1 ], whole)) 0 "db1" "week" "cpu" (Some 50L)
          step 3 (Copy([ 1 ], whole)) 0 "db2" "autogen" "disk" (Some 7L)
          step 4 (Verify 1) 0 "db1" "autogen" "cpu" (Some 100L)
          step 5 (Verify 1) 0 "db1" "week" "cpu" (Some 50L)
          step 6 Drop 0 "db1" "" "cpu" (Some 100L)
          step 7 (Copy([ 1 ], whole)) 3 "db1" "autogen" "cpu" (Some 4L)
          step 8 (Verify 1) 3 "db1" "autogen" "cpu" (Some 4L)
          step 9 Drop 3 "db1" "" "cpu" (Some 4L)
          step 10 Drained 3 "" "" "" None ] }

/// Midway: a's second cpu slice running, its disk copy failed and so its drop skipped; r drained but for the mark.
let private running =
    Map.ofList
        [ 0, Done 60L; 1, Running 30L; 2, Done 50L; 3, FailedWith "timeout"; 4, Done 0L; 5, Pending
          6, Skipped "a verification failed"; 7, Done 4L; 8, Done 0L; 9, Done 0L; 10, Pending ]

/// Every step's status, as the host keeps them from the plan on.
let private every status = job.Steps |> List.map (fun s -> s.Id, status) |> Map.ofList
let private pending = every Pending
let private allDone = every (Done 0L)

let private untouched =
    { Url = ""; DatabaseTotal = 1; DatabaseDone = 1; MeasurementTotal = 1; MeasurementDone = 1; MigrateCount = 0; InplaceCount = 1
      PointsCopied = 0L; StepsTotal = 0; StepsDone = 0; StepsFailed = 0; Errors = [] }

let tests =
    testList "MigrationProgress" [
        test "each source's counters, from what its steps did" {
            Expect.equal (MigrationProgress.bySource job running [ 0 ] 0)
                [ { Url = "http://a"; DatabaseTotal = 2; DatabaseDone = 1; MeasurementTotal = 3; MeasurementDone = 2; MigrateCount = 2; InplaceCount = 1
                    PointsCopied = 140L; StepsTotal = 7; StepsDone = 3; StepsFailed = 2
                    Errors =
                      [ "copy db db2 rp autogen measurement disk from http://a to http://b: timeout"
                        "drop db db1 measurement cpu from http://a: a verification failed" ] }
                  { untouched with Url = "http://b" }
                  { untouched with Url = "http://r"; MigrateCount = 1; InplaceCount = 0; PointsCopied = 4L; StepsTotal = 3; StepsDone = 3 } ]
                "circle 0: the drained mark is no step of r's"
            Expect.isEmpty (MigrationProgress.bySource job running [ 0 ] 1) "circle 1 is read from by none"
            Expect.equal (MigrationProgress.bySource job running [ 0; 1 ] 1) [ { untouched with Url = "http://c" } ] "unless it is a source circle"
        }

        test "the job's state" {
            let state plan statuses jobEnd = MigrationProgress.state plan statuses jobEnd
            Expect.equal (state None Map.empty None) Planned "no plan yet"
            Expect.equal (state (Some job) running None) CopyingPoints "a copy running"
            Expect.equal (state (Some job) pending None) CopyingPoints "nothing started"
            Expect.equal (state (Some job) (running |> Map.add 1 (Done 40L)) None) Verifying "every copy ended, a verify left"
            let clear = { job with Steps = job.Steps |> List.filter (fun s -> not s.Kind.IsCopy) }
            Expect.equal (state (Some clear) pending None) Verifying "a plan without copies verifies from the start"
            Expect.equal (state (Some job) allDone (Some Finished)) Succeeded "every step done"
            Expect.equal (state (Some job) (allDone |> Map.add 3 (FailedWith "timeout")) (Some Finished)) EndedWithErrors "a step failed"
            Expect.equal (state (Some job) (allDone |> Map.add 6 (Skipped "a verification failed")) (Some Finished)) EndedWithErrors "a step skipped"
            Expect.equal (state None Map.empty (Some(Abandoned "no plan"))) EndedWithErrors "abandoned before its plan"
            Expect.equal (state (Some job) running (Some(Abandoned "circle 1 is gone"))) EndedWithErrors "abandoned after"
            Expect.equal (state (Some job) running (Some Cancelled)) WasCancelled "cancelled midway"
            Expect.equal (state None Map.empty (Some Cancelled)) WasCancelled "cancelled before its plan"
        }

        test "the circles a job reads from" {
            Expect.equal (MigrationProgress.sourceCircles 3 (Rebalance(1, []))) [ 1 ] "rebalance"
            Expect.equal (MigrationProgress.sourceCircles 3 (Clear 2)) [ 2 ] "clear"
            Expect.equal (MigrationProgress.sourceCircles 3 (Recovery(0, 1, []))) [ 0 ] "recovery, from"
            Expect.equal (MigrationProgress.sourceCircles 3 (Resync None)) [ 0; 1; 2 ] "resync, every circle"
            Expect.equal (MigrationProgress.sourceCircles 2 (Resync(Some 5L))) [ 0; 1 ] "resync from a time"
        }

        test "points read so far, and in all with each holding once across its slices" {
            Expect.equal (MigrationProgress.points job running) (60L + 30L + 50L + 4L, 100L + 50L + 7L + 4L) "read, total"
            Expect.equal (MigrationProgress.points job Map.empty) (0L, 161L) "nothing read yet"
        }
    ]
