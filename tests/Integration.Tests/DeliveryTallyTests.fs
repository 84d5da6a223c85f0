/// What one request learns from its owners, circle by circle (the host's DeliveryTally), without a server.
module InfluxProxy.Testing.DeliveryTallyTests

open Expecto
open InfluxProxy.Core
open InfluxProxy.Host.Write

/// A tally for `chunks` chunks over `circles` circles, counting circles for `level`.
let private tally level circles chunks =
    let t = DeliveryTally()
    t.CountCircles(level, circles, chunks)
    t.Expect(circles * chunks)
    t

let tests =
    testList "DeliveryTally" [
        test "a circle stores a request once its owner answered for every chunk; one backlogged chunk misses it" {
            let t = tally All 2 2
            t.Report(Delivered, 0)
            Expect.equal t.Circles { Circles = 2; Stored = 0; Missed = 0 } "one chunk of two"
            t.Report(PartlyRefused "type conflict", 0)
            Expect.equal t.Circles { Circles = 2; Stored = 1; Missed = 0 } "a partial write answered for its points"
            Expect.equal t.WorstSoFar (PartlyRefused "type conflict") "the refusal is known before every owner answered"
            Expect.isFalse t.CirclesDecided.IsCompleted "all still waits for circle 1"
            t.Report(Backlogged, 1)
            Expect.equal t.Circles { Circles = 2; Stored = 1; Missed = 1 } "missed at its first backlogged chunk"
            Expect.isTrue t.CirclesDecided.IsCompleted "all cannot be met any more"
            t.Report(Delivered, 1)
            Expect.equal t.Circles { Circles = 2; Stored = 1; Missed = 1 } "a missed circle stays missed"
            Expect.isTrue t.Outcome.IsCompleted "every report in"
        }

        test "one is decided by the first circle to store everything" {
            let t = tally One 3 1
            t.Report(Failed "disk full", 0)
            Expect.isFalse t.CirclesDecided.IsCompleted "two circles left"
            t.Report(Delivered, 2)
            Expect.isTrue t.CirclesDecided.IsCompleted "met"
            Expect.equal (ConsistencyLevel.judge One t.Circles) Met "met"
        }

        test "a request without points has every circle stored; any is decided at once" {
            Expect.equal (tally Quorum 3 0).Circles { Circles = 3; Stored = 3; Missed = 0 } "nothing to store"
            Expect.isTrue (tally Any 2 1).CirclesDecided.IsCompleted "any"
        }
    ]
