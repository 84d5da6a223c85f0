module InfluxProxy.Core.Tests.PrecisionTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

let private examples =
    testList "examples" [
        test "precision names as InfluxDB accepts them" {
            for text, expected in [ "", Nanosecond; "n", Nanosecond; "ns", Nanosecond; "u", Microsecond; "us", Microsecond; "µ", Microsecond
                                    "ms", Millisecond; "s", Second; "m", Minute; "h", Hour ] do
                Expect.equal (Precision.parse text) (Ok expected) text
            Expect.equal (Precision.parse "y") (Error(UnknownPrecision "y")) "invalid"
            Expect.equal (PrecisionError.text (UnknownPrecision "y")) "invalid precision \"y\" (use n, ns, u, us, µ, ms, s, m or h)" "InfluxDB's text"
        }

        test "a point without timestamp gets the clock truncated to the precision" {
            Expect.equal (Precision.truncate Second 1_600_000_000_123_456_789L) 1_600_000_000_000_000_000L "seconds"
            Expect.equal (Precision.truncate Nanosecond 1_600_000_000_123_456_789L) 1_600_000_000_123_456_789L "ns"
            Expect.equal (Precision.truncate Second -1_500_000_000L) -2_000_000_000L "before 1970: toward the past, as Go's Truncate"
        }

        test "the two lowest and the highest int64 are InfluxDB's own, never a point's time" {
            Expect.equal (Precision.tryToNanoseconds Nanosecond Int64.MaxValue) ValueNone "max"
            Expect.equal (Precision.tryToNanoseconds Nanosecond (Int64.MinValue + 1L)) ValueNone "min + 1"
            Expect.equal (Precision.tryToNanoseconds Nanosecond (Int64.MaxValue - 1L)) (ValueSome(Int64.MaxValue - 1L)) "max - 1"
        }
    ]

let private precision = Gen.elements [ Nanosecond; Microsecond; Millisecond; Second; Minute; Hour ]

let private laws =
    testList "laws" [
        testProperty "conversion is the exact product, or nothing when it leaves InfluxDB's range"
            (Prop.forAll (Arb.fromGen (Gen.zip precision (ArbMap.defaults |> ArbMap.generate<int64>))) (fun (p, value) ->
                let exact = bigint value * bigint (Precision.nanosecondsPer p)
                let inRange = exact >= bigint Precision.minNanoTime && exact <= bigint Precision.maxNanoTime
                match Precision.tryToNanoseconds p value with
                | ValueSome ns -> inRange && bigint ns = exact
                | ValueNone -> not inRange))

        testProperty "truncation keeps a multiple of the unit at or below the time, less than a unit away"
            (Prop.forAll (Arb.fromGen (Gen.zip precision (ArbMap.defaults |> ArbMap.generate<int64> |> Gen.map (fun t -> t / 2L)))) (fun (p, now) ->
                let unit = Precision.nanosecondsPer p
                let t = Precision.truncate p now
                t <= now && now - t < unit && t % unit = 0L))
    ]

let tests = testList "Precision" [ examples; laws ]
