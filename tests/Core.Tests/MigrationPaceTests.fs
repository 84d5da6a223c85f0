module InfluxProxy.Core.Tests.MigrationPaceTests

open Expecto
open InfluxProxy.Core

let tests =
    testList "MigrationPace" [
        testProperty "a job runs its worker count, but no more than the while-writing count while clients write" (fun (workers: FsCheck.PositiveInt) (whileWriting: FsCheck.PositiveInt) ->
            let workers, whileWriting = workers.Get, whileWriting.Get
            Expect.equal (MigrationPace.stepsAtOnce workers whileWriting false) workers "no client writing"
            Expect.equal (MigrationPace.stepsAtOnce workers whileWriting true) (min workers whileWriting) "clients writing")

        test "a change of pace is told, in words, and only a change" {
            Expect.equal (MigrationPace.change 8 1) (Some "one step at a time: clients are writing") "stepping back to one"
            Expect.equal (MigrationPace.change 8 2) (Some "2 steps at once: clients are writing") "stepping back to two"
            Expect.equal (MigrationPace.change 1 8) (Some "8 steps at once: clients stopped writing") "back to the worker count"
            Expect.equal (MigrationPace.change 4 4) None "no change"
        }
    ]
