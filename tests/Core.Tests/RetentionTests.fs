module InfluxProxy.Core.Tests.RetentionTests

open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

let private hour = 3_600_000_000_000L
let private now = 1_800_000_001_234_567_890L // not on a shard group boundary

let private policy duration shardGroup =
    Some { Policy = { Name = "p"; Duration = duration; ShardGroupDuration = shardGroup; Default = false }; Groups = [] }

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

        test "an existing shard group wider than the policy's current width lowers the floor to its start" {
            let narrowed = policy (24L * hour) hour |> Option.map (fun b ->
                { b with Groups = [ { Start = now - 200L * hour; End = now - 20L * hour }; { Start = now - 400L * hour; End = now - 300L * hour } ] })
            Expect.equal (Retention.refusalFloor now [ narrowed ]) (now - 200L * hour - Retention.clockMargin)
                "the group reaching past now - duration counts, the expired one does not"
            let nearly = policy (24L * hour) hour |> Option.map (fun b -> { b with Groups = [ { Start = now - 100L * hour; End = now - 24L * hour - hour / 12L } ] })
            Expect.equal (Retention.refusalFloor now [ nearly ]) (now - 100L * hour - Retention.clockMargin)
                "a group ending within the clocks' margin of now - duration may still reach past the backend's"
        }
    ]

/// InfluxDB's MapShards for one request: a point older than now − duration is stored only when a point of the
/// request not that old falls in its shard group: an existing one covering that point, or a new one aligned to the
/// policy's current width.
let private influxStores (state: RetentionState) (times: int64 list) (t: int64) =
    let min = now - state.Policy.Duration
    let width = state.Policy.ShardGroupDuration
    let groupOf (x: int64) =
        match state.Groups |> List.tryFind (fun g -> g.Start <= x && x < g.End) with
        | Some g -> g
        | None -> let start = x - ((x % width) + width) % width in { Start = start; End = start + width }
    t >= min || times |> List.exists (fun q -> q >= min && (let g = groupOf q in g.Start <= t && t < g.End))

let private laws =
    testList "laws" [
        testProperty "a point under the floor is one InfluxDB refuses, whatever else the request holds"
            (Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.choose (1, 200)) (Gen.listOf (Gen.choose (-60, 3000))) (Gen.choose (0, 4)))) (fun (hours, offsets, wideGroups) ->
                // Groups of a week left from before the policy's shard groups were narrowed to an hour.
                let week = 168L * hour
                let lastWeek = now - now % week
                let groups = [ for k in 0 .. wideGroups - 1 -> { Start = lastWeek - int64 k * week; End = lastWeek - int64 (k - 1) * week } ]
                let state = { Policy = { Name = "p"; Duration = int64 hours * hour; ShardGroupDuration = hour; Default = false }; Groups = groups }
                let times = offsets |> List.map (fun o -> now - int64 o * hour / 7L)
                let floor = Retention.refusalFloor now [ Some state ]
                times |> List.filter (fun t -> t < floor) |> List.forall (fun t -> not (influxStores state times t))))
    ]

let tests = testList "Retention" [ examples; laws ]
