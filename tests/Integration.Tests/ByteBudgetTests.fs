/// The bound on the bytes of the requests written at once (the host's ByteBudget).
module InfluxProxy.Testing.ByteBudgetTests

open System
open System.Threading.Tasks
open Expecto
open InfluxProxy.Host.Write

let private patient = TimeSpan.FromSeconds 30.0

/// Whether the task ends within a short while (a waiter granted is woken on another thread).
let private endsSoon (task: Task<bool>) = task.Wait(TimeSpan.FromSeconds 5.0) && task.Result

let tests =
    testList "ByteBudget" [
        test "within the budget a request goes at once; beyond it, it waits for room, behind those that came first" {
            let budget = ByteBudget(100L, TimeProvider.System)
            Expect.isTrue (budget.TakeAsync(60L, patient).Result) "60 of 100 at once"
            let fifty = budget.TakeAsync(50L, patient)
            let ten = budget.TakeAsync(10L, patient)
            Threading.Thread.Sleep 100
            Expect.isFalse fifty.IsCompleted "50 more do not fit"
            Expect.isFalse ten.IsCompleted "10 would fit, but wait behind the 50"
            Expect.equal budget.Waiting 2 "both waiting"
            budget.Give 60L
            Expect.isTrue (endsSoon fifty) "the 50 go once the 60 are given back"
            Expect.isTrue (endsSoon ten) "then the 10"
            Expect.equal budget.Held 60L "both held"
        }

        test "a body larger than the whole budget goes alone, once nothing else is held" {
            let budget = ByteBudget(100L, TimeProvider.System)
            Expect.isTrue (budget.TakeAsync(30L, patient).Result) "30"
            let large = budget.TakeAsync(500L, patient)
            Threading.Thread.Sleep 100
            Expect.isFalse large.IsCompleted "not beside the 30"
            budget.Give 30L
            Expect.isTrue (endsSoon large) "alone"
            Expect.equal budget.Held 500L "held"
            budget.Give 500L
            Expect.isTrue (budget.TakeAsync(100L, patient).Result) "the whole budget again"
        }

        test "a request that waits past its timeout takes nothing, and those behind it go on" {
            let budget = ByteBudget(100L, TimeProvider.System)
            Expect.isTrue (budget.TakeAsync(50L, patient).Result) "50"
            let eighty = budget.TakeAsync(80L, TimeSpan.FromMilliseconds 200.0)
            let ten = budget.TakeAsync(10L, patient)
            Expect.isFalse (eighty.Result) "the 80 timed out"
            Expect.isTrue (endsSoon ten) "the 10 behind it go once it has left"
            Expect.equal budget.Held 60L "the 80 took nothing"
            Expect.equal budget.TimedOut 1L "counted"
            Expect.equal budget.Waiting 0 "none left waiting"
        }
    ]
