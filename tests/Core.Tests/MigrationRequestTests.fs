module InfluxProxy.Core.Tests.MigrationRequestTests

open Expecto
open InfluxProxy.Core

let private idle = MigrationFlags.none 2

let private parse endpoint (parameters: (string * string) list) body flags =
    let values = Map.ofList parameters
    MigrationRequest.parse endpoint 2 4 1_000_000_000_000L flags (fun name -> Map.tryFind name values |> Option.defaultValue "") body

let private ok endpoint parameters = match parse endpoint parameters "" idle with Ok r -> r | Error e -> failtestf "%A" e
let private refused endpoint parameters body flags = match parse endpoint parameters body flags with Ok r -> failtestf "accepted %A" r | Error e -> e

let tests =
    testList "MigrationRequest" [
        test "each operation's parameters, with the defaults" {
            let rebalance = ok "rebalance" [ "circle_id", "1"; "operation", "add" ]
            Expect.equal rebalance { Operation = RebalanceRequest(1, []); Dbs = []; Workers = MigrationRequest.defaultWorkers; Batch = None; HaAddrs = None; DryRun = false } "rebalance add"
            Expect.equal (ok "recovery" [ "from_circle_id", "0"; "to_circle_id", "1"; "backend_urls", " http://a:1/, http://b:2 ," ]).Operation
                (RecoveryRequest(0, 1, [ "http://a:1"; "http://b:2" ])) "recovery, urls trimmed"
            Expect.equal (ok "resync" [ "hours", "1" ]).Operation (ResyncRequest(Some(1_000_000_000_000L - 3_600_000_000_000L))) "a window of an hour"
            Expect.equal (ok "resync" [ "since", "100" ]).Operation (ResyncRequest(Some 100_000_000_000L)) "v2.5's since, in seconds"
            Expect.equal (ok "resync" []).Operation (ResyncRequest None) "everything"
            Expect.equal (ok "cleanup" [ "circle_id", "0" ]).Operation (ClearRequest 0) "v2.5's name"
            let tuned = ok "clear" [ "circle_id", "0"; "cpus", "2"; "batch", "500"; "db", "db1, db2"; "dry_run", "true"; "ha_addrs", "p1:7076,p2:7076" ]
            Expect.equal (tuned.Workers, tuned.Batch, tuned.Dbs, tuned.DryRun, tuned.HaAddrs) (2, Some 500, [ "db1"; "db2" ], true, Some [ "p1:7076"; "p2:7076" ]) "tuned"
            Expect.equal (ok "resync" [ "dbs", "x"; "worker", "7" ]).Workers 7 "v2.5's worker and dbs"
        }

        test "a rebalance rm lists the backends it takes away in its body" {
            let body = """{"backends":[{"name":"b3","url":"http://h:8088/","username":"u","password":"p"}]}"""
            match parse "rebalance" [ "circle_id", "0"; "operation", "rm" ] body idle with
            | Ok r -> Expect.equal r.Operation (RebalanceRequest(0, [ { Name = "b3"; Url = "http://h:8088"; Username = "u"; Password = "p"; TlsInsecureSkipVerify = false } ])) "removed"
            | Error e -> failtestf "%A" e
            Expect.equal (refused "rebalance" [ "circle_id", "0"; "operation", "rm" ] "{" idle) (Invalid "invalid backends from body") "not JSON"
            Expect.equal (refused "rebalance" [ "circle_id", "0"; "operation", "rm" ] """{"backends":[]}""" idle) (Invalid "invalid backends from body") "none"
        }

        test "invalid parameters get the original's words, in its order" {
            Expect.equal (refused "rebalance" [ "circle_id", "2"; "operation", "add" ] "" idle) (Invalid "invalid circle_id") "circle"
            Expect.equal (refused "rebalance" [ "circle_id", "0"; "operation", "move" ] "" idle) (Invalid "invalid operation") "operation"
            Expect.equal (refused "recovery" [ "from_circle_id", "x"; "to_circle_id", "1" ] "" idle) (Invalid "invalid from_circle_id") "from"
            Expect.equal (refused "recovery" [ "from_circle_id", "1"; "to_circle_id", "1" ] "" idle) (Invalid "from_circle_id and to_circle_id cannot be same") "same"
            Expect.equal (refused "resync" [ "days", "-1" ] "" idle) (Invalid "invalid days, hours, minutes or seconds") "window"
            Expect.equal (refused "clear" [ "circle_id", "0"; "cpus", "9" ] "" idle) (Invalid "invalid cpus") "more cpus than cores"
            Expect.equal (refused "clear" [ "circle_id", "0"; "worker", "0" ] "" idle) (Invalid "invalid worker, require positive integer") "worker"
            Expect.equal (refused "clear" [ "circle_id", "0"; "batch", "x" ] "" idle) (Invalid "invalid batch, require positive integer") "batch"
            Expect.equal (refused "resync" [ "since", "-5" ] "" idle) (Invalid "invalid since, require non-negative integer") "since"
            Expect.equal (refused "clear" [ "circle_id", "0"; "ha_addrs", "p1:7076" ] "" idle) (Invalid "ha_addrs should contain two addrs at least") "one peer"
            Expect.equal (refused "clear" [ "circle_id", "0"; "ha_addrs", "p1:7076,[::1]:7076" ] "" idle) (Invalid "invalid ha_addrs") "a bad peer"
        }

        test "a busy circle is refused, after the ids and before the tuning, never accepted" {
            let migrating = MigrationFlags.none 2 |> MigrationFlags.apply { Resyncing = None; Circle = Some(1, true) }
            Expect.equal (refused "rebalance" [ "circle_id", "1"; "operation", "add"; "cpus", "99" ] "" migrating) (Busy "circle 1 is migrating") "before the cpus"
            Expect.equal (refused "recovery" [ "from_circle_id", "0"; "to_circle_id", "1" ] "" migrating) (Busy "circle 0 or 1 is migrating") "recovery"
            Expect.equal (refused "resync" [] "" migrating) (Busy "circle 1 is migrating") "resync"
            Expect.isOk (parse "clear" [ "circle_id", "0" ] "" migrating) "another circle is free"
            let resyncing = MigrationFlags.none 2 |> MigrationFlags.apply { Resyncing = Some true; Circle = None }
            Expect.equal (refused "clear" [ "circle_id", "0" ] "" resyncing) (Busy "proxy is resyncing") "resyncing"
            Expect.equal (refused "rebalance" [ "circle_id", "7"; "operation", "add" ] "" migrating) (Invalid "invalid circle_id") "ids first"
        }

        test "stats: a circle and a type" {
            let values (p: (string * string) list) name = Map.ofList p |> Map.tryFind name |> Option.defaultValue ""
            Expect.equal (MigrationRequest.parseStats 2 (values [ "circle_id", "1"; "type", "cleanup" ])) (Ok(1, ClearKind)) "v2.5 type name"
            Expect.equal (MigrationRequest.parseStats 2 (values [ "circle_id", "1"; "type", "x" ])) (Error(Invalid "invalid stats type")) "type"
            Expect.equal (MigrationRequest.parseStats 2 (values [ "type", "resync" ])) (Error(Invalid "invalid circle_id")) "circle"
        }
    ]
