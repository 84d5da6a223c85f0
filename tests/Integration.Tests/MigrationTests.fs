/// The migration tools on real influxd: a circle grows and shrinks, a wiped backend is recovered, a circle that
/// missed writes is resynced, and nothing is dropped that its owner does not hold.
module InfluxProxy.Testing.MigrationTests

open System
open System.IO
open System.Text.Json
open Expecto
open InfluxProxy.Testing.Influxd
open InfluxProxy.Testing.Web
open InfluxProxy.Testing.Fixtures

let private nowNs = (DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3600L) * 1_000_000_000L

/// Points of every field type, the hard values included: integers past 1e6 and 2^53, negative ones, floats whole
/// and tiny, strings with a quote, a backslash and a newline, booleans; m0 has a field named like its tag.
let private lines (measurements: int) (rpLabel: string) =
    [ for m in 0 .. measurements - 1 do
          for host in [ "a"; "b" ] do
              for i in 0..4 do
                  let time = nowNs + int64 (m * 100 + i) * 1_000_000L
                  let clash = if m = 0 then ",host=\"field-host\"" else ""
                  sprintf "m%d%s,host=%s i=%di,big=9007199254740993i,neg=-%di,f=%s,s=\"q\\\"b\\\\n\nx\",ok=%s%s %d"
                      m rpLabel host (1_234_567 + i) (i + 1) (if i % 2 = 0 then "3" else "0.1") (if i % 2 = 0 then "true" else "false") clash time ]

let private write (proxy: ProxyProcess.Proxy) (db: string) (rp: string) (body: string list) =
    let reply = post (sprintf "%s/write?db=%s&rp=%s" proxy.Url db rp) (String.Join("\n", body))
    Expect.equal reply.Status 204 reply.Body

/// Every point of a measurement in a retention policy as the backend answers it: the text compared bit for bit.
let private dump (server: Server) (db: string) (rp: string) (measurement: string) =
    let reply = get (sprintf "%s/query?db=%s&epoch=ns&q=%s" server.Url (escape db) (escape (sprintf "SELECT * FROM \"%s\".\"%s\" GROUP BY *" rp measurement)))
    let result = (JsonDocument.Parse reply.Body).RootElement.GetProperty("results")[0]
    match result.TryGetProperty "series" with
    | true, series -> series.GetRawText()
    | _ -> ""

let private measurementsOn (server: Server) (db: string) =
    let result = (Influx.query server.Url db "SHOW MEASUREMENTS").GetProperty("results")[0]
    match result.TryGetProperty "series" with
    | true, series -> [ for row in series[0].GetProperty("values").EnumerateArray() -> row[0].GetString() ] |> Set.ofList
    | _ -> Set.empty

/// Which servers of a circle hold each measurement.
let private holders (circle: Server list) (db: string) =
    [ for server in circle do for m in measurementsOn server db -> m, server ] |> List.groupBy fst |> List.map (fun (m, s) -> m, List.map snd s) |> Map.ofList

let private jobs (proxy: ProxyProcess.Proxy) = (JsonDocument.Parse((get (proxy.Url + "/migrate/jobs")).Body)).RootElement

/// Waits for the proxy's last job to end; its JSON.
let private lastJobEnded (proxy: ProxyProcess.Proxy) =
    let ended () =
        let all = jobs proxy
        all.GetArrayLength() > 0 && (let s = all[all.GetArrayLength() - 1].GetProperty("state").GetString() in s = "done" || s = "failed" || s = "cancelled")
    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 120.0) ended) ("the job ended:\n" + (get (proxy.Url + "/migrate/jobs")).Body)
    let all = jobs proxy
    all[all.GetArrayLength() - 1]

let private expectDone (proxy: ProxyProcess.Proxy) (job: JsonElement) =
    Expect.equal (job.GetProperty("state").GetString()) "done" (job.GetRawText() + "\n" + proxy.Log)

let private start (dir: string) (circles: Server list list) =
    let port = freePort ()
    ProxyProcess.startIn dir port (ProxyProcess.configFor circles port [ "\"check_interval\": 1"; "\"rewrite_interval\": 1" ])

let private incorrect (proxy: ProxyProcess.Proxy) (db: string) =
    let health = (JsonDocument.Parse((get (proxy.Url + "/health")).Body)).RootElement
    [ for circle in health.EnumerateArray() do
          for backend in circle.GetProperty("backends").EnumerateArray() do
              match backend.TryGetProperty "load" with
              | true, load when load.TryGetProperty db |> fst -> load.GetProperty(db).GetProperty("incorrect").GetInt32()
              | _ -> 0 ]
    |> List.sum

/// Every measurement of each policy sits on exactly one server of `circle`, with exactly the points `reference` has.
let private expectWholeAndPlaced (reference: Server list) (circle: Server list) (db: string) (policies: (string * string list) list) =
    let held = holders circle db
    for rp, measurements in policies do
        for m in measurements do
            let source = reference |> List.find (fun s -> (measurementsOn s db).Contains m)
            match Map.tryFind m held with
            | Some [ owner ] -> Expect.equal (dump owner db rp m) (dump source db rp m) $"{rp}.{m} on {owner.Name} is bit-exact"
            | other -> failtestf "%s is held by %A" m (other |> Option.map (List.map _.Name))

let tests =
    testList "Migration" [
        test "a circle grows from 2 to 3 backends and back: rebalance add, clear, rebalance rm move every point bit-exactly, drop only what is verified" {
            withCluster 1 5 (fun servers ->
                let s = servers[0]
                let before = [ [ s[0]; s[1] ]; [ s[2]; s[3] ] ]
                let grown = [ [ s[0]; s[1] ]; [ s[2]; s[3]; s[4] ] ]
                let db = uniqueDb "grow"
                let dir = ProxyProcess.newDir "migrate"
                let measurements = 16
                let names = [ for m in 0 .. measurements - 1 -> sprintf "m%d" m ]
                let weekNames = [ for m in 0..3 -> sprintf "m%dw" m ]
                let policies = [ "autogen", names; "week", weekNames ]
                let proxy = start dir before
                try
                    let created = post (sprintf "%s/query?q=%s" proxy.Url (escape $"CREATE DATABASE \"{db}\"")) ""
                    Expect.equal created.Status 200 created.Body
                    let week = post (sprintf "%s/query?db=%s&q=%s" proxy.Url db (escape $"CREATE RETENTION POLICY \"week\" ON \"{db}\" DURATION 7d REPLICATION 1")) ""
                    Expect.equal week.Status 200 week.Body
                    write proxy db "" (lines measurements "")
                    write proxy db "week" (lines 4 "w")
                    // Stopped gracefully: every accepted point reaches its owner under the old ring.
                    Expect.isTrue (ProxyProcess.terminate (TimeSpan.FromSeconds 30.0) proxy) "stopped"
                finally ProxyProcess.kill proxy
                let proxy = start dir grown
                try
                    Expect.isGreaterThan (incorrect proxy db) 0 "the new ring leaves measurements misplaced"
                    let dry = post (sprintf "%s/rebalance?circle_id=1&operation=add&dry_run=true" proxy.Url) ""
                    Expect.equal dry.Status 200 dry.Body
                    let plan = (JsonDocument.Parse dry.Body).RootElement
                    Expect.isGreaterThan (plan.GetProperty("measurements").GetInt32()) 0 "the dry run moves measurements"
                    Expect.isEmpty (measurementsOn s[4] db) "a dry run moves nothing"
                    let reply = post (sprintf "%s/rebalance?circle_id=1&operation=add" proxy.Url) ""
                    Expect.equal (reply.Status, reply.Body) (202, "accepted\n") "accepted"
                    let busy = post (sprintf "%s/clear?circle_id=1" proxy.Url) ""
                    Expect.equal busy.Status 409 busy.Body
                    let job = lastJobEnded proxy
                    expectDone proxy job
                    Expect.isNonEmpty (measurementsOn s[4] db) "the new backend got its measurements"
                    // Before clear every copy is still where it was too.
                    Expect.isGreaterThan (incorrect proxy db) 0 "rebalance drops nothing"
                    let clear = post (sprintf "%s/clear?circle_id=1" proxy.Url) ""
                    Expect.equal clear.Status 202 clear.Body
                    expectDone proxy (lastJobEnded proxy)
                    Expect.equal (incorrect proxy db) 0 "nothing misplaced after clear"
                    expectWholeAndPlaced before[0] grown[1] db policies
                    let stats = (JsonDocument.Parse((get (proxy.Url + "/migrate/stats?circle_id=1&type=clear")).Body)).RootElement
                    Expect.equal (stats.EnumerateObject() |> Seq.length) 3 $"one entry per backend of circle 1: {stats}"
                    Expect.isTrue (File.Exists(Path.Combine(dir, "log", "rebalance.log"))) "rebalance.log"
                finally ProxyProcess.kill proxy
                let proxy = start dir before
                try
                    let body = sprintf """{"backends":[{"name":"%s","url":"%s"}]}""" s[4].Name s[4].Url
                    let reply = post (sprintf "%s/rebalance?circle_id=1&operation=rm" proxy.Url) body
                    Expect.equal reply.Status 202 reply.Body
                    expectDone proxy (lastJobEnded proxy)
                    Expect.isEmpty (measurementsOn s[4] db) "the removed backend was drained and emptied"
                    Expect.equal (incorrect proxy db) 0 "nothing misplaced after rm"
                    expectWholeAndPlaced before[0] before[1] db policies
                finally ProxyProcess.dispose proxy)
        }
    ]
