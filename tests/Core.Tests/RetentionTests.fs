module InfluxProxy.Core.Tests.RetentionTests

open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

let private hour = 3_600_000_000_000L
let private now = 1_800_000_001_234_567_890L // not on a shard group boundary

let private policy duration shardGroup =
    Some { Name = "p"; Duration = duration; ShardGroupDuration = shardGroup; Default = false }

let private examples =
    testList "examples" [
        test "reads durations as InfluxDB prints them" {
            for text, expected in
                [ "168h0m0s", Some(168L * hour); "1h0m0s", Some hour; "0s", Some 0L; "30m0s", Some(hour / 2L)
                  "1m30.5s", Some 90_500_000_000L; "500ms", Some 500_000_000L; "2us", Some 2_000L; "7ns", Some 7L
                  "", None; "1d", None; "h", None; "1h 2m", None ] do
                Expect.equal (Retention.parseDuration text) expected text
        }

        test "nothing is refused when some backend keeps points forever or cannot tell" {
            Expect.equal (Retention.refusalFloor now [ policy hour hour; policy 0L (168L * hour) ]) System.Int64.MinValue "forever"
            Expect.equal (Retention.refusalFloor now [ policy hour hour; None ]) System.Int64.MinValue "unknown"
            Expect.equal (Retention.refusalFloor now []) System.Int64.MinValue "no backend"
        }

        test "the floor is a whole shard group and the clock margin below the longest duration" {
            Expect.equal (Retention.refusalFloor now [ policy hour hour; policy (168L * hour) (24L * hour) ])
                (now - 192L * hour - Retention.clockMargin) "the longest reach of any backend"
            Expect.equal (Retention.refusalFloor 0L [ policy System.Int64.MaxValue System.Int64.MaxValue ]) System.Int64.MinValue "no overflow"
        }
    ]

/// InfluxDB's MapShards for one request: a point older than now − duration is stored only when a point of the
/// request not that old falls in its shard group (groups are aligned to their duration).
let private influxStores (duration: int64) (shardGroup: int64) (times: int64 list) (t: int64) =
    let min = now - duration
    let group (x: int64) = x - ((x % shardGroup) + shardGroup) % shardGroup
    t >= min || times |> List.exists (fun other -> other >= min && group other = group t)

let private laws =
    testList "laws" [
        testProperty "a point under the floor is one InfluxDB refuses, whatever else the request holds"
            (Prop.forAll (Arb.fromGen (Gen.zip (Gen.choose (1, 200)) (Gen.listOf (Gen.choose (-60, 3000))))) (fun (hours, offsets) ->
                let duration = int64 hours * hour
                let shardGroup = (if hours < 48 then 1L else 24L) * hour
                let times = offsets |> List.map (fun o -> now - int64 o * hour / 7L)
                let floor = Retention.refusalFloor now [ policy duration shardGroup ]
                times |> List.filter (fun t -> t < floor) |> List.forall (fun t -> not (influxStores duration shardGroup times t))))
    ]

let tests = testList "Retention" [ examples; laws ]
