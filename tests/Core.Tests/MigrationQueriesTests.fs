module InfluxProxy.Core.Tests.MigrationQueriesTests

open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

/// Names of any text but a carriage return: InfluxDB reads one in a quoted name, the proxy's parser (FParsec, which
/// reads `\r\n` and `\r` as `\n`) does not.
let private name = Arb.text |> Gen.map (fun n -> n.Replace("\r", "")) |> Gen.filter (fun n -> n <> "")

/// The statement as the proxy's own parser reads it: kind, ON and sources.
let private parsed (q: string) =
    match InfluxQL.parse q with
    | Ok [ s ] -> Some(s.Kind, s.On, s.Sources)
    | _ -> None

let private policy name duration shardGroup isDefault =
    { Name = name; Duration = duration; ShardGroupDuration = shardGroup; Default = isDefault }

let private window = Gen.map2 (fun from until -> { From = from; Until = until }) (Gen.optionOf Arb.anyInt64) (Gen.optionOf Arb.anyInt64)

let private laws =
    testList "laws" [
        testProperty "every statement reads back with the names it was given"
            (Prop.forAll (Arb.fromGen (Gen.zip (Gen.zip3 name name name) window)) (fun ((db, rp, m), window) ->
                let measurement = [ Measurement(None, Some rp, m) ]
                parsed (MigrationQueries.points rp m window) = Some(Select, None, measurement)
                && parsed (MigrationQueries.seriesCounts rp m) = Some(Select, None, measurement)
                && parsed (MigrationQueries.measurementCounts rp) = Some(Select, None, [ MeasurementRegex(None, Some rp, ".*") ])
                && parsed (MigrationQueries.fieldKeys rp m) = Some(ShowFieldKeys, None, measurement)
                && parsed (MigrationQueries.dropMeasurement m) = Some(DropMeasurement m, None, [ Measurement(None, None, m) ])
                && parsed (MigrationQueries.createDatabase db) = Some(CreateDatabase db, Some db, [])
                && parsed (MigrationQueries.createRetentionPolicy db (policy rp 0L 3_600_000_000_000L false) true)
                   = Some(CreateRetentionPolicy rp, Some db, [])))
    ]

let private examples =
    testList "examples" [
        test "a copy reads its window, every bound it has" {
            let points window = MigrationQueries.points "rp" "m" window
            Expect.equal (points { From = None; Until = None }) "SELECT * FROM \"rp\".\"m\" GROUP BY *" "all time"
            Expect.equal (points { From = Some(-5L); Until = None }) "SELECT * FROM \"rp\".\"m\" WHERE time >= -5 GROUP BY *" "from"
            Expect.equal (points { From = None; Until = Some 100L }) "SELECT * FROM \"rp\".\"m\" WHERE time < 100 GROUP BY *" "until"
            Expect.equal (points { From = Some 100L; Until = Some 200L }) "SELECT * FROM \"rp\".\"m\" WHERE time >= 100 AND time < 200 GROUP BY *" "both"
        }

        test "names are quoted whatever they hold" {
            Expect.equal (MigrationQueries.fieldKeys "a\"b" "c\\d\ne") "SHOW FIELD KEYS FROM \"a\\\"b\".\"c\\\\d\\ne\"" "quote, backslash, newline"
            Expect.equal (MigrationQueries.seriesCounts "autogen" "cpu load") "SELECT count(*) FROM \"autogen\".\"cpu load\" GROUP BY *" "counts"
            Expect.equal (MigrationQueries.measurementCounts "week") "SELECT count(*) FROM \"week\"./.*/" "every measurement"
            Expect.equal (MigrationQueries.dropMeasurement "cpu") "DROP MEASUREMENT \"cpu\"" "drop"
            Expect.equal (MigrationQueries.createDatabase "db") "CREATE DATABASE \"db\"" "database"
        }

        test "a policy keeps its durations, and is the default only when asked" {
            let create duration shardGroup isDefault asDefault =
                MigrationQueries.createRetentionPolicy "db" (policy "rp" duration shardGroup isDefault) asDefault
            Expect.equal (create 0L 604_800_000_000_000L false false)
                "CREATE RETENTION POLICY \"rp\" ON \"db\" DURATION INF REPLICATION 1 SHARD DURATION 604800s" "forever, a week's groups"
            Expect.equal (create 604_800_000_000_000L 3_600_000_000_000L true false)
                "CREATE RETENTION POLICY \"rp\" ON \"db\" DURATION 604800s REPLICATION 1 SHARD DURATION 3600s" "the source's default is not copied"
            Expect.equal (create 3_000_000L 1_500_000L false true)
                "CREATE RETENTION POLICY \"rp\" ON \"db\" DURATION 3ms REPLICATION 1 SHARD DURATION 1500u DEFAULT" "ms, µs, DEFAULT asked"
            // 0 would read as INF.
            Expect.equal (create 500L 500L false false) "CREATE RETENTION POLICY \"rp\" ON \"db\" DURATION 1u REPLICATION 1 SHARD DURATION 1u" "under a µs"
        }
    ]

let tests = testList "MigrationQueries" [ examples; laws ]
