module InfluxProxy.Core.Tests.MigrationPaceTests

open Expecto
open InfluxProxy.Core

let tests =
    testList "MigrationPace" [
        testProperty "a job runs its worker count, but no more than the while-writing count while clients write" (fun (workers: FsCheck.PositiveInt) (whileWriting: FsCheck.PositiveInt) ->
            let workers, whileWriting = workers.Get, whileWriting.Get
            Expect.equal (MigrationPace.stepsAtOnce workers whileWriting false) workers "no client writing"
            Expect.equal (MigrationPace.stepsAtOnce workers whileWriting true) (min workers whileWriting) "clients writing")
    ]
