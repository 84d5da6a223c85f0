/// Whether clients are writing, as a migration job asks it (the host's ClientWrites).
module InfluxProxy.Testing.ClientWritesTests

open System
open Expecto
open InfluxProxy.Host.Write

/// A clock that moves only when told.
type private ManualClock() =
    inherit TimeProvider()
    let mutable ticks = 0L
    member _.Advance(span: TimeSpan) = ticks <- ticks + span.Ticks
    override _.GetTimestamp() = ticks
    override _.TimestampFrequency = TimeSpan.TicksPerSecond

let tests =
    testList "ClientWrites" [
        test "clients are writing from a write on, until a whole window has passed without one" {
            let clock = ManualClock()
            let writes = ClientWrites(clock)
            Expect.isFalse writes.Ongoing "no write yet"
            writes.Mark()
            Expect.isTrue writes.Ongoing "just written"
            clock.Advance(ClientWrites.Window - TimeSpan.FromMilliseconds 1.0)
            Expect.isTrue writes.Ongoing "within the window"
            writes.Mark()
            clock.Advance(ClientWrites.Window - TimeSpan.FromMilliseconds 1.0)
            Expect.isTrue writes.Ongoing "a later write keeps it"
            clock.Advance(TimeSpan.FromMilliseconds 1.0)
            Expect.isFalse writes.Ongoing "a whole window without a write"
        }
    ]
