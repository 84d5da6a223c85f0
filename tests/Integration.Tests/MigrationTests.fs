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

let private startWith (extra: string list) (dir: string) (circles: Server list list) =
    let port = freePort ()
    ProxyProcess.startIn dir port (ProxyProcess.configFor circles port ([ "\"check_interval\": 1"; "\"rewrite_interval\": 1" ] @ extra))

let private start = startWith []

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


/// The owner of (db, measurement) in each circle, as the proxy's ring for `circles` says.
let private owners (circles: Server list list) (db: string) (measurement: string) =
    let config = ProxyProcess.configFor circles 1 [] |> InfluxProxy.Core.ProxyConfig.parse |> Result.defaultWith (failwithf "%A")
    let cluster = InfluxProxy.Host.Backends.Cluster config
    [ for owner in cluster.Owners(db, measurement) -> List.concat circles |> List.find (fun s -> s.Url = (owner.Url.OriginalString.TrimEnd '/')) ]

/// Wipes a server's data as a lost disk would, and starts it again empty.
let private wipe (server: Server) =
    kill server
    for sub in Directory.GetDirectories server.Dir do Directory.Delete(sub, true)
    restart server

let private writeTo (server: Server) (db: string) (body: string list) =
    let reply = post (sprintf "%s/write?db=%s" server.Url db) (String.Join("\n", body))
    Expect.equal reply.Status 204 reply.Body

let private count (url: string) (db: string) (measurement: string) =
    let result = (Influx.query url db (sprintf "SELECT count(i) FROM \"%s\"" measurement)).GetProperty("results")[0]
    match result.TryGetProperty "series" with
    | true, series -> series[0].GetProperty("values").[0].[1].GetInt64()
    | _ -> 0L

let private createThrough (proxy: ProxyProcess.Proxy) (db: string) =
    let created = post (sprintf "%s/query?q=%s" proxy.Url (escape $"CREATE DATABASE \"{db}\"")) ""
    Expect.equal created.Status 200 created.Body

/// Five servers: circle 2 holds two of them (`before`) or three (`grown`, the fifth added last).
let private growing (body: Server list -> Server list list -> Server list list -> unit) =
    withCluster 1 5 (fun servers ->
        let s = servers[0]
        body s [ [ s[0]; s[1] ]; [ s[2]; s[3] ] ] [ [ s[0]; s[1] ]; [ s[2]; s[3]; s[4] ] ])

/// Creates `db` and writes through a proxy in front of `circles` in `dir`, then stops it gracefully: every point
/// accepted reaches its owner under that ring.
let private loadThenStop (dir: string) (circles: Server list list) (db: string) (load: ProxyProcess.Proxy -> unit) =
    let proxy = start dir circles
    try
        createThrough proxy db
        load proxy
        Expect.isTrue (ProxyProcess.terminate (TimeSpan.FromSeconds 30.0) proxy) "stopped"
    finally ProxyProcess.kill proxy

/// A 2×2 cluster and a proxy in front of it, in which `db` holds `measurements` measurements of `lines`.
let private withWritten (label: string) (measurements: int) (body: Server list list -> string -> ProxyProcess.Proxy -> unit) =
    withCluster 2 2 (fun circles ->
        let db = uniqueDb label
        let proxy = start (ProxyProcess.newDir label) circles
        try
            createThrough proxy db
            write proxy db "" (lines measurements "")
            body circles db proxy
        finally ProxyProcess.dispose proxy)

let tests =
    testList "Migration" [
        test "a circle grows from 2 to 3 backends and back: rebalance add, clear, rebalance rm move every point bit-exactly, drop only what is verified" {
            growing (fun s before grown ->
                let db = uniqueDb "grow"
                let dir = ProxyProcess.newDir "migrate"
                let measurements = 16
                let names = [ for m in 0 .. measurements - 1 -> sprintf "m%d" m ]
                let weekNames = [ for m in 0..3 -> sprintf "m%dw" m ]
                let policies = [ "autogen", names; "week", weekNames ]
                loadThenStop dir before db (fun proxy ->
                    let week = post (sprintf "%s/query?db=%s&q=%s" proxy.Url db (escape $"CREATE RETENTION POLICY \"week\" ON \"{db}\" DURATION 7d REPLICATION 1")) ""
                    Expect.equal week.Status 200 week.Body
                    write proxy db "" (lines measurements "")
                    write proxy db "week" (lines 4 "w"))
                File.WriteAllText(Path.Combine(dir, "old.json"), ProxyProcess.configFor before 1 [])
                File.WriteAllText(Path.Combine(dir, "new.json"), ProxyProcess.configFor grown 1 [])
                let code, printed = ProxyProcess.run dir "-plan -config new.json -from old.json"
                Expect.equal code 0 printed
                let proxy = start dir grown
                try
                    Expect.isGreaterThan (incorrect proxy db) 0 "the new ring leaves measurements misplaced"
                    let dry = post (sprintf "%s/rebalance?circle_id=1&operation=add&dry_run=true" proxy.Url) ""
                    Expect.equal dry.Status 200 dry.Body
                    let plan = (JsonDocument.Parse dry.Body).RootElement
                    let moving = plan.GetProperty("measurements").GetInt32()
                    Expect.isGreaterThan moving 0 "the dry run moves measurements"
                    Expect.stringContains printed "circle 0 (circle-1): 0 measurements" "-plan: nothing moves in circle 0"
                    let points = plan.GetProperty("points").GetInt64()
                    Expect.stringContains printed $"circle 1 (circle-2): {moving} measurements, {points} points to move" "-plan: what the dry run says"
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
                // The copies of rm go gzip-compressed, as toward backends across the network (loopback ones get them plain).
                let proxy = startWith [ "\"write_compression\": \"fastest\"" ] dir before
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

        test "recovery rebuilds a wiped backend from the other circle, and only the backend named" {
            withWritten "recover" 12 (fun circles db proxy ->
                let names = [ for m in 0..11 -> sprintf "m%d" m ]
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) (fun () ->
                    names |> List.forall (fun m -> owners circles db m |> List.forall (fun o -> count o.Url db m = 10L)))) "landed"
                let lost, kept = circles[1][0], circles[1][1]
                wipe lost
                Influx.createDatabase lost.Url db
                let keptBefore = [ for m in measurementsOn kept db -> m, dump kept db "autogen" m ]
                let reply = post (sprintf "%s/recovery?from_circle_id=0&to_circle_id=1&backend_urls=%s" proxy.Url (escape lost.Url)) ""
                Expect.equal reply.Status 202 reply.Body
                expectDone proxy (lastJobEnded proxy)
                for m in names do
                    match owners circles db m with
                    | [ source; owner ] when owner = lost -> Expect.equal (dump lost db "autogen" m) (dump source db "autogen" m) $"{m} recovered bit-exactly"
                    | _ -> ()
                Expect.isNonEmpty (measurementsOn lost db) "the wiped backend holds its measurements again"
                Expect.equal [ for m in measurementsOn kept db -> m, dump kept db "autogen" m ] keptBefore "the backend not named is untouched")
        }

        test "resync copies to the other circle what it missed inside the window, and nothing older" {
            withWritten "resync" 6 (fun circles db proxy ->
                let old = (DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3L * 86400L) * 1_000_000_000L
                // Points only circle 0 got, as when circle 1 was down and its backlog lost: a recent one and an old one.
                for m in 0..5 do
                    let measurement = sprintf "m%d" m
                    let owner = (owners circles db measurement)[0]
                    writeTo owner db [ sprintf "%s,host=late i=7i %d" measurement nowNs; sprintf "%s,host=old i=8i %d" measurement old ]
                let reply = post (sprintf "%s/resync?days=1" proxy.Url) ""
                Expect.equal reply.Status 202 reply.Body
                let busy = post (sprintf "%s/rebalance?circle_id=0&operation=add" proxy.Url) ""
                Expect.equal (busy.Status, busy.Body.Contains "proxy is resyncing") (409, true) busy.Body
                expectDone proxy (lastJobEnded proxy)
                for m in 0..5 do
                    let measurement = sprintf "m%d" m
                    let target = (owners circles db measurement)[1]
                    let hosts = (Influx.query target.Url db (sprintf "SHOW TAG VALUES FROM \"%s\" WITH KEY = \"host\"" measurement)).GetRawText()
                    Expect.stringContains hosts "late" $"{measurement}: the point inside the window was copied"
                    Expect.isFalse (hosts.Contains "old") $"{measurement}: the point before the window was not"
                let state = (get (proxy.Url + "/migrate/state")).Body
                Expect.stringContains state "\"is_resyncing\":false" "the flag is cleared at the end")
        }

        test "clear drops a misplaced measurement only once its owner holds it: an unverified one is kept and said why" {
            withCluster 2 2 (fun circles ->
                let db = uniqueDb "clear"
                let dir = ProxyProcess.newDir "clear"
                let proxy = start dir circles
                try
                    createThrough proxy db
                    // In circle 1, one measurement written to its non-owner only (its owner has none of it), and one
                    // written to both (its owner holds it all).
                    let name owned = [ for m in 0..50 -> sprintf "c%d" m ] |> List.find (fun m -> ((owners circles db m)[1] = circles[1][0]) = owned)
                    let lonely, copied = name false, name true
                    let point m i = sprintf "%s,host=h i=%di %d" m i (nowNs + int64 i)
                    writeTo (circles[1][0]) db [ for i in 0..9 -> point lonely i ]
                    for server in circles[1] do writeTo server db [ for i in 0..9 -> point copied i ]
                    let stray = circles[1][1]
                    Expect.isTrue ((measurementsOn stray db).Contains copied) "the stray copy is there"
                    let reply = post (sprintf "%s/clear?circle_id=1" proxy.Url) ""
                    Expect.equal reply.Status 202 reply.Body
                    let job = lastJobEnded proxy
                    Expect.equal (job.GetProperty("state").GetString()) "failed" (job.GetRawText())
                    Expect.isFalse ((measurementsOn stray db).Contains copied) "the verified stray copy is dropped"
                    Expect.isTrue ((measurementsOn (circles[1][0]) db).Contains lonely) "the only copy is kept"
                    Expect.equal (count (circles[1][0]).Url db lonely) 10L "with every point"
                    let stats = (get (proxy.Url + "/migrate/stats?circle_id=1&type=clear")).Body
                    Expect.stringContains stats "the owner holds 0 of the source's 10 points" stats
                finally ProxyProcess.dispose proxy)
        }

        test "a proxy killed (-9) in the middle of a rebalance goes on with it at restart, without copying finished steps again" {
            growing (fun s before grown ->
                let db = uniqueDb "resume"
                let dir = ProxyProcess.newDir "resume"
                loadThenStop dir before db (fun proxy -> write proxy db "" (lines 60 ""))
                let proxy = start dir grown
                let id =
                    try
                        // One line per batch, one copy at a time: slow enough to be caught in the middle.
                        let reply = post (sprintf "%s/rebalance?circle_id=1&operation=add&batch=1&worker=1" proxy.Url) ""
                        Expect.equal reply.Status 202 reply.Body
                        let doneSteps () =
                            let job = jobs proxy
                            let last = job[job.GetArrayLength() - 1]
                            match last.TryGetProperty "steps" with
                            | true, steps -> steps.EnumerateArray() |> Seq.filter (fun st -> st.GetProperty("status").GetString() = "done") |> Seq.length
                            | _ -> 0
                        Expect.isTrue (waitUntil (TimeSpan.FromSeconds 60.0) (fun () -> doneSteps () >= 2)) "some steps done"
                        let state = (jobs proxy).[0].GetProperty("state").GetString()
                        Expect.equal state "running" "killed while running"
                        (reply.Header "X-Influx-Proxy-Job").Value
                    finally ProxyProcess.kill proxy
                let proxy = start dir grown
                try
                    let job = lastJobEnded proxy
                    expectDone proxy job
                    Expect.equal (job.GetProperty("id").GetString()) id "the same job went on"
                    let stepLog = File.ReadAllLines(Path.Combine(dir, "data", "migrate", "jobs", id, "steps.log"))
                    let doneIds = stepLog |> Array.filter (fun l -> l.Contains " done ") |> Array.map (fun l -> l.Split(' ')[0])
                    Expect.equal (Array.distinct doneIds).Length doneIds.Length "no step done twice"
                    Expect.stringContains (File.ReadAllText(Path.Combine(dir, "log", "rebalance.log"))) "rebalance resumed" "logged"
                    for m in [ for m in 0..59 -> sprintf "m%d" m ] do
                        match owners grown db m with
                        | [ source; owner ] when owner = s[4] -> Expect.equal (dump owner db "autogen" m) (dump source db "autogen" m) $"{m} whole on its new owner"
                        | _ -> ()
                finally ProxyProcess.dispose proxy)
        }

        test "writes and queries go on during a rebalance: nothing lost, every answer whole" {
            growing (fun s before grown ->
                let db = uniqueDb "live"
                let dir = ProxyProcess.newDir "live"
                let names = [ for m in 0..29 -> sprintf "m%d" m ]
                loadThenStop dir before db (fun proxy -> write proxy db "" (lines 30 ""))
                let proxy = start dir grown
                try
                    let reply = post (sprintf "%s/rebalance?circle_id=1&operation=add&batch=1&worker=1" proxy.Url) ""
                    Expect.equal reply.Status 202 reply.Body
                    let written = Collections.Generic.Dictionary<string, int64>()
                    for m in names do written[m] <- 10L
                    let mutable round = 0
                    let running () = (let all = jobs proxy in all[all.GetArrayLength() - 1].GetProperty("state").GetString()) <> "done"
                    while running () && round < 2000 do
                        let m = names[round % names.Length]
                        write proxy db "" [ sprintf "%s,host=live i=%di,f=1.5 %d" m round (nowNs + 10_000_000_000L + int64 round) ]
                        written[m] <- written[m] + 1L
                        // Answered once journaled, the point reaches its owners a moment later; an answer from
                        // the half-filled new owner would stay short.
                        let counted () =
                            let answer = (Influx.query proxy.Url db (sprintf "SELECT count(i) FROM \"%s\"" m)).GetProperty("results").[0]
                            answer.GetProperty("series").[0].GetProperty("values").[0].[1].GetInt64()
                        Expect.isTrue (waitUntil (TimeSpan.FromSeconds 5.0) (fun () -> counted () = written[m])) $"{m}: the answer counts every point written"
                        round <- round + 1
                    Expect.isGreaterThan round 5 "writes and queries ran during the copy"
                    expectDone proxy (lastJobEnded proxy)
                    let clear = post (sprintf "%s/clear?circle_id=1" proxy.Url) ""
                    Expect.equal clear.Status 202 clear.Body
                    expectDone proxy (lastJobEnded proxy)
                    for m in names do
                        let circle0, circle1 = (owners grown db m)[0], (owners grown db m)[1]
                        Expect.equal (count circle1.Url db m) (written[m]) $"{m}: every point on its owner in circle 1"
                        Expect.equal (dump circle1 db "autogen" m) (dump circle0 db "autogen" m) $"{m}: both circles hold the same points"
                finally ProxyProcess.dispose proxy)
        }

        test "while clients write, a rebalance runs one step at a time (migrate_workers_while_writing); without them, its worker count" {
            growing (fun _ before grown ->
                let paced, unpaced = uniqueDb "paced", uniqueDb "unpaced"
                let dir = ProxyProcess.newDir "pace"
                loadThenStop dir before paced (fun proxy ->
                    // Enough for the copy to last (a batch per point) while it is looked at.
                    write proxy paced "" (lines 90 "")
                    createThrough proxy unpaced
                    write proxy unpaced "" (lines 30 ""))
                let log () = File.ReadAllText(Path.Combine(dir, "log", "rebalance.log"))
                let proxy = start dir grown
                let job () = let all = jobs proxy in all[all.GetArrayLength() - 1]
                let stepsAtOnce () = match (job ()).TryGetProperty "steps_at_once" with | true, n -> n.GetInt32() | _ -> 0
                try
                    write proxy paced "" [ sprintf "live i=0i %d" nowNs ]
                    let reply = post (sprintf "%s/rebalance?circle_id=1&operation=add&worker=4&batch=1&db=%s" proxy.Url paced) ""
                    Expect.equal reply.Status 202 reply.Body
                    // The write above counts for 15 s (ClientWrites.Window): the job's steps start well within it.
                    let mutable seen = 0
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> seen <- stepsAtOnce (); seen > 0)) "its steps run"
                    Expect.equal seen 1 "/migrate/jobs shows the pace"
                    expectDone proxy (lastJobEnded proxy)
                    Expect.stringContains (log ()) "one step at a time: clients are writing" "stepped back while clients wrote"
                finally ProxyProcess.kill proxy
                // A proxy no client has written through yet, in the same folder.
                let before = log().Length
                let proxy = start dir grown
                try
                    let reply = post (sprintf "%s/rebalance?circle_id=1&operation=add&worker=4&db=%s" proxy.Url unpaced) ""
                    Expect.equal reply.Status 202 reply.Body
                    expectDone proxy (lastJobEnded proxy)
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 5.0) (fun () -> log().Substring(before).Contains "rebalance done")) "the second job logged its end"
                    let second = log().Substring before
                    Expect.isFalse (second.Contains "one step at a time") $"no client wrote: {second}"
                finally ProxyProcess.dispose proxy)
        }

        test "peers (ha_addrs) are told of the flag with the proxy's credentials; a flag a peer set with a lease runs out" {
            withCluster 2 2 (fun circles ->
                let credentials = [ "\"username\": \"admin\""; "\"password\": \"s3cret\"" ]
                let auth = "u=admin&p=s3cret"
                let portA, portB = freePort (), freePort ()
                let proxyA = ProxyProcess.startIn (ProxyProcess.newDir "ha-a") portA (ProxyProcess.configFor circles portA credentials)
                let proxyB = ProxyProcess.startIn (ProxyProcess.newDir "ha-b") portB (ProxyProcess.configFor circles portB credentials)
                let migrating (proxy: ProxyProcess.Proxy) circle =
                    let state = (JsonDocument.Parse((get (sprintf "%s/migrate/state?%s" proxy.Url auth)).Body)).RootElement
                    state.GetProperty("circles").[circle].GetProperty("is_migrating").GetBoolean()
                try
                    // A hung source holds the job in its inventory while the peer is looked at.
                    Signals.send Signals.stop (circles[1][0]).Process
                    try
                        let reply = post (sprintf "%s/rebalance?circle_id=1&operation=add&ha_addrs=127.0.0.1:%d,127.0.0.1:%d&%s" proxyA.Url portA portB auth) ""
                        Expect.equal reply.Status 202 reply.Body
                        Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> migrating proxyB 1)) "the peer got the flag"
                    finally Signals.send Signals.cont (circles[1][0]).Process
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 60.0) (fun () -> not (migrating proxyA 1) && not (migrating proxyB 1))) "cleared everywhere at the end"
                    let leased = new Net.Http.HttpRequestMessage(Net.Http.HttpMethod.Post, sprintf "%s/migrate/state?circle_id=0&migrating=true&%s" proxyB.Url auth)
                    leased.Headers.Add("X-Influx-Proxy-Lease", "2")
                    Expect.equal (send leased).Status 200 "set with a lease"
                    Expect.isTrue (migrating proxyB 0) "set"
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> not (migrating proxyB 0))) "the lease ran out"
                    Expect.equal (post (sprintf "%s/migrate/state?circle_id=0&migrating=true&%s" proxyB.Url auth) "").Status 200 "set without a lease"
                    Threading.Thread.Sleep 2500
                    Expect.isTrue (migrating proxyB 0) "a flag set without a lease holds"
                finally
                    ProxyProcess.dispose proxyA
                    ProxyProcess.dispose proxyB)
        }

        test "a running job can be cancelled: its flag is released and the circle takes a new job" {
            withCluster 2 2 (fun circles ->
                let db = uniqueDb "cancel"
                let dir = ProxyProcess.newDir "cancel"
                let proxy = start dir circles
                try
                    createThrough proxy db
                    Signals.send Signals.stop (circles[1][0]).Process
                    let id =
                        try
                            let reply = post (sprintf "%s/rebalance?circle_id=1&operation=add" proxy.Url) ""
                            Expect.equal reply.Status 202 reply.Body
                            let id = (reply.Header "X-Influx-Proxy-Job").Value
                            let cancelled = methodTo "DELETE" (sprintf "%s/migrate/job?id=%s" proxy.Url id)
                            Expect.equal cancelled.Status 200 cancelled.Body
                            id
                        finally Signals.send Signals.cont (circles[1][0]).Process
                    let job = lastJobEnded proxy
                    Expect.equal (job.GetProperty("id").GetString(), job.GetProperty("state").GetString()) (id, "cancelled") "cancelled"
                    Expect.equal (methodTo "DELETE" (sprintf "%s/migrate/job?id=%s" proxy.Url id)).Status 404 "not running any more"
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> (get (proxy.Url + "/migrate/state")).Body.Contains "\"is_migrating\":true" |> not)) "flag released"
                    let again = post (sprintf "%s/rebalance?circle_id=1&operation=add" proxy.Url) ""
                    Expect.equal again.Status 202 again.Body
                    expectDone proxy (lastJobEnded proxy)
                finally ProxyProcess.dispose proxy)
        }
    ]
