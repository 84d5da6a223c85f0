module InfluxProxy.Testing.WriteTests

open System
open System.IO
open System.IO.Compression
open System.Net.Http
open System.Text
open Expecto
open InfluxProxy.Core
open InfluxProxy.Testing.Influxd
open InfluxProxy.Testing.Web
open InfluxProxy.Testing.Fixtures

/// `measurements` × `perMeasurement` lines, `value` = running index, timestamps `start + i` in the precision's unit.
let private lines (prefix: string) (measurements: int) (perMeasurement: int) (start: int64) =
    [ for i in 0 .. measurements * perMeasurement - 1 ->
        sprintf "%s%d,host=h%d value=%di %d" prefix (i % measurements) (i % 7) i (start + int64 i) ]

let private writeUrl (proxy: ProxyProcess.Proxy) db extra = sprintf "%s/write?db=%s%s" proxy.Url db extra

let private gzip (text: string) =
    use buffer = new MemoryStream()
    (use zip = new GZipStream(buffer, CompressionLevel.Fastest)
     zip.Write(Encoding.UTF8.GetBytes text))
    buffer.ToArray()

let private postGzip (url: string) (text: string) =
    let content = new ByteArrayContent(gzip text)
    content.Headers.ContentEncoding.Add "gzip"
    send (new HttpRequestMessage(HttpMethod.Post, url, Content = content))

let private createEverywhere (circles: Server list list) db =
    for server in List.concat circles do Influx.createDatabase server.Url db

/// A proxy in front of the shared cluster and a new database on every backend of it.
let private onSharedCluster (label: string) (extra: string list) (body: Server list list -> string -> ProxyProcess.Proxy -> unit) =
    let circles = shared.Value
    let db = uniqueDb label
    createEverywhere circles db
    ProxyProcess.using circles extra (body circles db)

/// The owner of `measurement` in each circle, from the same config the proxy runs with.
let private owners (proxy: ProxyProcess.Proxy) (circles: Server list list) db measurement =
    let config = File.ReadAllText(Path.Combine(proxy.Dir, "proxy.json")) |> ProxyConfig.parse |> Result.defaultWith (failwithf "%A")
    ProxyConfig.placement config |> Placement.owners db measurement |> List.mapi (fun c i -> circles[c][i])

/// Every circle holds exactly `expected` points of each measurement, all on the ring owner, none elsewhere.
let private expectPlaced (proxy: ProxyProcess.Proxy) (circles: Server list list) db (expected: Map<string, int64>) =
    for circle in circles do
        let found =
            [ for server in circle -> server, Influx.countsByMeasurement server.Url db "value" ]
        for KeyValue(measurement, count) in expected do
            let owner = owners proxy circles db measurement |> List.find (fun s -> List.contains s circle)
            for server, counts in found do
                let actual = counts |> Map.tryFind measurement |> Option.defaultValue 0L
                Expect.equal actual (if server = owner then count else 0L) (sprintf "%s on %s" measurement server.Name)

/// `total` points over the measurements `prefix`0 to `prefix`9.
let private expectedCounts prefix total =
    Map.ofList [ for m in 0..9 -> sprintf "%s%d" prefix m, int64 (total / 10) ]

/// Polls until every circle holds the expected points on their owners: delivery follows the answer (write_ack
/// journaled), and backlog replay is asynchronous.
let private eventuallyPlaced proxy circles db expected =
    let placed () = try expectPlaced proxy circles db expected; true with _ -> false
    if not (waitUntil (TimeSpan.FromSeconds 60.0) placed) then expectPlaced proxy circles db expected

/// Answers once every owner stored the points: a backend's refusal reaches the client.
let private storedAck = "\"write_ack\": \"stored\""

/// The landing tests under one `write_ack` ("journaled" is the default).
let private landing (ack: string) =
    let onSharedCluster label extra body = onSharedCluster label (sprintf "\"write_ack\": \"%s\"" ack :: extra) body
    testList ("landing, write_ack " + ack) [
        test "100k points over 50 measurements land on every circle, each on its ring owner" {
            onSharedCluster "bulk" [] (fun circles db proxy ->
                let all = lines "m" 50 2000 1_600_000_000L
                // plain text and gzip, in 5 requests each, precision s
                let batches = all |> List.chunkBySize 10_000
                for i, batch in List.indexed batches do
                    let body = String.concat "\n" batch
                    let url = writeUrl proxy db "&precision=s"
                    let reply = if i % 2 = 0 then post url body else postGzip url body
                    Expect.equal reply.Status 204 reply.Body
                eventuallyPlaced proxy circles db (Map.ofList [ for m in 0..49 -> sprintf "m%d" m, 2000L ]))
        }

        test "every write_compression setting delivers the same points (one gzip stream of members, or plain)" {
            for compression in [ "none"; "fastest"; "optimal"; "smallest" ] do
                onSharedCluster ("compress_" + compression) [ sprintf "\"write_compression\": \"%s\"" compression ] (fun circles db proxy ->
                    // several requests group into one batch per backend: a body of several members
                    let replies =
                        [ for part in lines "z" 8 500 1_600_000_000L |> List.chunkBySize 400 ->
                            async { return post (writeUrl proxy db "&precision=s") (String.concat "\n" part) } ]
                        |> Async.Parallel |> Async.RunSynchronously
                    for reply in replies do Expect.equal reply.Status 204 reply.Body
                    eventuallyPlaced proxy circles db (Map.ofList [ for m in 0..7 -> sprintf "z%d" m, 500L ]))
        }

        test "precisions s, ms and ns mean the same instant" {
            onSharedCluster "precision" [] (fun circles db proxy ->
                for precision, stamp in [ "s", "1600000000"; "ms", "1600000000000"; "ns", "1600000000000000000"; "h", "444444" ] do
                    let reply = post (writeUrl proxy db ("&precision=" + precision)) (sprintf "p_%s value=1 %s" precision stamp)
                    Expect.equal reply.Status 204 reply.Body
                for precision, expected in [ "s", 1600000000000000000L; "ms", 1600000000000000000L; "ns", 1600000000000000000L; "h", 444444L * 3_600_000_000_000L ] do
                    for server in owners proxy circles db ("p_" + precision) do
                        let times () = Influx.times server.Url db ("p_" + precision)
                        waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> not (List.isEmpty (times ()))) |> ignore
                        Expect.equal (times ()) [ expected ] (precision + " on " + server.Name))
        }

        test "lines without a timestamp get one proxy clock, the same in every circle" {
            onSharedCluster "now" [] (fun circles db proxy ->
                let before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000L
                let body = [ for i in 0..99 -> sprintf "nots,host=h%d value=%d" i i ] |> String.concat "\n"
                let reply = post (writeUrl proxy db "&precision=s") body
                Expect.equal reply.Status 204 reply.Body
                let perCircle () = owners proxy circles db "nots" |> List.map (fun s -> Influx.times s.Url db "nots")
                waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> perCircle () |> List.forall (fun t -> t.Length = 100)) |> ignore
                let perCircle = perCircle ()
                Expect.equal perCircle[0].Length 100 "100 series, one point each"
                Expect.equal perCircle[0] perCircle[1] "identical timestamps across circles"
                let t = perCircle[0].Head
                Expect.equal (t % 1_000_000_000L) 0L "truncated to the requested precision (s)"
                Expect.isTrue (t / 1_000_000_000L >= before && t / 1_000_000_000L <= before + 60L) "the proxy's clock")
        }
    ]

let private errors =
    testList "errors" [
        test "bad lines are rejected as InfluxDB does while the valid ones land" {
            onSharedCluster "partial" [] (fun circles db proxy ->
                let body = "good value=1 1\nbad value= 2\ngood value=3 3\nalso,bad\n"
                let reply = post (writeUrl proxy db "") body
                Expect.equal reply.Status 400 reply.Body
                Expect.stringContains reply.Body "partial write: unable to parse 'bad value= 2': " "first bad line"
                Expect.stringContains reply.Body "unable to parse 'also,bad': " "second bad line"
                Expect.stringContains reply.Body "dropped=2" "dropped count"
                eventuallyPlaced proxy circles db (Map.ofList [ "good", 2L ])
                let allBad = post (writeUrl proxy db "") "bad value="
                Expect.equal allBad.Status 400 allBad.Body
                Expect.stringStarts allBad.Body "{\"error\":\"unable to parse 'bad value=': " "no partial write when nothing is valid")
        }

        test "points InfluxDB's storage would refuse are refused before the answer, in its words, and the others land" {
            onSharedCluster "storage" [] (fun circles db proxy ->
                // The field refusal comes first, yet InfluxDB names the tag one: it checks tag keys first.
                let body = "kept value=1 1\nonly time=1 4\nbad value= 2\ntagged,time=1 value=1 3\nkept value=2 5"
                let reply = post (writeUrl proxy db "") body
                // The same body written to an influxd directly, into a database of its own.
                let direct = circles[0][0]
                let directDb = uniqueDb "storage_direct"
                Influx.createDatabase direct.Url directDb
                let influxd = post (sprintf "%s/write?db=%s" direct.Url directDb) body
                Expect.equal (reply.Status, reply.Body) (influxd.Status, influxd.Body) "InfluxDB's status and text"
                Expect.stringContains reply.Body "invalid tag key: input tag \\\"time\\\" on measurement \\\"tagged\\\" is invalid dropped=2" reply.Body
                eventuallyPlaced proxy circles db (Map.ofList [ "kept", 2L ])
                expectPlaced proxy circles db (Map.ofList [ "kept", 2L; "tagged", 0L ])
                let onlyTime = post (writeUrl proxy db "") "only time=1 4"
                Expect.equal onlyTime.Status 400 onlyTime.Body
                Expect.stringContains onlyTime.Body "invalid field name: input field \\\"time\\\" on measurement \\\"only\\\" is invalid dropped=1" onlyTime.Body)
        }

        test "points beyond their retention policy are refused as InfluxDB refuses them, and the others land" {
            onSharedCluster "retention" [] (fun circles db proxy ->
                let policy = "CREATE RETENTION POLICY short ON \"%s\" DURATION 1h REPLICATION 1 SHARD DURATION 1h"
                Influx.query proxy.Url db (sprintf (Printf.StringFormat<string -> string> policy) db) |> ignore
                let now = DateTimeOffset.UtcNow.ToUnixTimeSeconds()
                let body = sprintf "kept value=1 %d\nold value=1 %d\nolder value=1 %d" now (now - 3L * 86400L) (now - 30L * 86400L)
                let reply = post (writeUrl proxy db "&rp=short&precision=s") body
                let direct = circles[0][0]
                let directDb = uniqueDb "retention_direct"
                Influx.createDatabase direct.Url directDb
                Influx.query direct.Url directDb (sprintf (Printf.StringFormat<string -> string> policy) directDb) |> ignore
                let influxd = post (sprintf "%s/write?db=%s&rp=short&precision=s" direct.Url directDb) body
                Expect.equal (reply.Status, reply.Body) (influxd.Status, influxd.Body) "InfluxDB's status and text"
                Expect.stringContains reply.Body "partial write: points beyond retention policy dropped=2" reply.Body
                let held (s: Server) = (Influx.query s.Url db "SELECT count(value) FROM \"short\".\"kept\"").ToString().Contains ",1]]"
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> circles |> List.forall (List.exists held))) "the recent point landed in every circle"
                let forever = post (writeUrl proxy db "&precision=s") (sprintf "old value=1 %d" (now - 30L * 86400L))
                Expect.equal forever.Status 204 "the default policy keeps points forever"
                eventuallyPlaced proxy circles db (Map.ofList [ "old", 1L ])
                // A finite default policy, asked for by no rp; a tag key time is named before the old points, as by InfluxDB.
                let short = "CREATE RETENTION POLICY two ON \"%s\" DURATION 2h REPLICATION 1 SHARD DURATION 1h DEFAULT"
                Influx.query proxy.Url db (sprintf (Printf.StringFormat<string -> string> short) db) |> ignore
                Influx.query direct.Url directDb (sprintf (Printf.StringFormat<string -> string> short) directDb) |> ignore
                for body, expected in
                    [ sprintf "old value=1 %d\nrecent value=1 %d" (now - 3L * 86400L) now, "points beyond retention policy dropped=1"
                      sprintf "old value=1 %d\ntagged,time=1 value=1 %d" (now - 3L * 86400L) now, "invalid tag key" ] do
                    let reply = post (writeUrl proxy db "&precision=s") body
                    let influxd = post (sprintf "%s/write?db=%s&precision=s" direct.Url directDb) body
                    Expect.equal (reply.Status, reply.Body) (influxd.Status, influxd.Body) "InfluxDB's status and text, default policy"
                    Expect.stringContains reply.Body expected body)
        }

        test "request errors have InfluxDB's status codes and texts" {
            onSharedCluster "errors" [ "\"max_body_size\": 1000" ] (fun circles db proxy ->
                let expectError (reply: Reply) status (text: string) =
                    Expect.equal reply.Status status reply.Body
                    Expect.stringContains reply.Body text reply.Body
                    Expect.isSome (reply.Header "X-Influxdb-Error") "X-Influxdb-Error"
                expectError (post (proxy.Url + "/write") "m value=1") 400 "database is required"
                expectError (post (writeUrl proxy db "&precision=y") "m value=1") 400 "invalid precision \\\"y\\\""
                expectError (post (writeUrl proxy "no_such_db_xyz" "") "m value=1") 404 "database not found: \\\"no_such_db_xyz\\\""
                expectError (post (writeUrl proxy db "") "m value=3u") 400 "unable to parse 'm value=3u': invalid number"
                expectError (get (writeUrl proxy db "")) 405 "method not allowed"
                expectError (post (writeUrl proxy db "") (String.replicate 200 "m value=1 1\n")) 413 "request entity too large"
                expectError (postGzip (writeUrl proxy db "") (String.replicate 2000 "m value=1 1\n")) 413 "request entity too large"
                let notGzip = new ByteArrayContent(Encoding.UTF8.GetBytes "m value=1")
                notGzip.Headers.ContentEncoding.Add "gzip"
                expectError (send (new HttpRequestMessage(HttpMethod.Post, writeUrl proxy db "", Content = notGzip))) 400 "unable to decode gzip body")
        }

        test "writes beyond max_concurrent_write_bytes wait their turn: 20 at once with a 1-byte budget, every point lands" {
            onSharedCluster "budget" [ "\"max_concurrent_write_bytes\": 1" ] (fun circles db proxy ->
                let body r = String.Join("\n", [ for i in 0..49 -> sprintf "b%d value=%d %d" (r % 10) i (r * 100 + i + 1) ])
                let replies = [ for r in 0..19 -> Threading.Tasks.Task.Run(fun () -> post (writeUrl proxy db "") (body r)) ]
                for reply in replies do Expect.equal reply.Result.Status 204 reply.Result.Body
                eventuallyPlaced proxy circles db (expectedCounts "b" 1000))
        }

        test "a retention policy no backend has is refused as InfluxDB refuses it, and holds nothing up" {
            onSharedCluster "policies" [] (fun circles db proxy ->
                let refused = post (writeUrl proxy db "&rp=r1") "m value=1 1"
                Expect.equal refused.Status 500 refused.Body
                Expect.stringContains refused.Body "retention policy not found: r1" "InfluxDB's text"
                let unparsed = post (writeUrl proxy db "&rp=r1") "m value="
                Expect.equal (unparsed.Status, unparsed.Body) (400, "{\"error\":\"unable to parse 'm value=': missing field value\"}\n") "bad lines only: their 400 first, as InfluxDB answers"
                // Created through the proxy: written to at once, though r1 was just found missing.
                Influx.query proxy.Url db (sprintf "CREATE RETENTION POLICY r1 ON \"%s\" DURATION 1d REPLICATION 1" db) |> ignore
                // Recent: a 1d policy refuses older points.
                let recent () = sprintf "m value=1 %d" (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000L)
                let accepted = post (writeUrl proxy db "&rp=r1") (recent ())
                Expect.equal accepted.Status 204 accepted.Body
                let heldInPolicy (s: Server) = (Influx.query s.Url db "SELECT count(value) FROM \"r1\".\"m\"").ToString().Contains ",1]]"
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> circles |> List.forall (List.exists heldInPolicy))) "landed in r1 in every circle"
                let health = get (proxy.Url + "/health")
                Expect.isFalse (health.Body.Contains "\"backlog\":true") health.Body
                Influx.query proxy.Url db (sprintf "DROP RETENTION POLICY r1 ON \"%s\"" db) |> ignore
                let afterDrop = post (writeUrl proxy db "&rp=r1") "m value=1 1"
                Expect.equal afterDrop.Status 500 "a policy dropped through the proxy is refused again"
                Influx.query proxy.Url db (sprintf "CREATE RETENTION POLICY r2 ON \"%s\" DURATION 1d REPLICATION 1" db) |> ignore
                Expect.equal (post (writeUrl proxy db "&rp=r2") (recent ())).Status 204 "r2 known"
                Influx.query proxy.Url "" (sprintf "DROP DATABASE \"%s\"" db) |> ignore
                Influx.query proxy.Url "" (sprintf "CREATE DATABASE \"%s\"" db) |> ignore
                Expect.equal (post (writeUrl proxy db "&rp=r2") (recent ())).Status 500 "the policies of a dropped database are forgotten with it")
        }
    ]

/// Writes `batches` of `perBatch` lines to the proxy, `pause` between them; every answer must be 204.
let private writeSeries (proxy: ProxyProcess.Proxy) db (prefix: string) batches perBatch (between: int -> unit) =
    for b in 0 .. batches - 1 do
        let body =
            [ for i in 0 .. perBatch - 1 ->
                let n = b * perBatch + i
                sprintf "%s%d,host=h value=%di %d" prefix (n % 10) n (1_600_000_000_000_000_000L + int64 n) ]
            |> String.concat "\n"
        let reply = post (writeUrl proxy db "") body
        Expect.equal reply.Status 204 (sprintf "batch %d: %s" b reply.Body)
        between b

/// Runs `body` while `server` is stopped (SIGSTOP) and resumes it afterwards, whatever happens.
let private whileHung (server: Server) (body: unit -> 'a) =
    Signals.send Signals.stop server.Process
    try body () finally Signals.send Signals.cont server.Process

/// One write through the proxy, so it knows the database before a test breaks a backend.
let private knowDatabase (proxy: ProxyProcess.Proxy) db =
    Expect.equal (post (writeUrl proxy db "") "warm value=1 1").Status 204 "the database is known"

/// The proxy started again in its folder (journal and backlogs) and on its port, with `config` as its proxy.json.
let private restartWith (config: string) (proxy: ProxyProcess.Proxy) = ProxyProcess.startIn proxy.Dir proxy.Port config

/// Runs `body` on the proxy restarted with its own proxy.json, then kills that restarted proxy, whatever happens.
let private usingRestarted (proxy: ProxyProcess.Proxy) (body: ProxyProcess.Proxy -> unit) =
    let again = restartWith (File.ReadAllText(Path.Combine(proxy.Dir, "proxy.json"))) proxy
    try body again finally ProxyProcess.kill again

let private outages =
    testSequenced <| testList "outages" [
        test "a backend killed mid-stream and restarted later gets every point" {
            withCluster 2 2 (fun circles ->
                let db = uniqueDb "killed"
                createEverywhere circles db
                ProxyProcess.using circles [ "\"rewrite_interval\": 1"; "\"write_timeout\": 2" ] (fun proxy ->
                    let victim = circles[0][0]
                    writeSeries proxy db "k" 20 500 (fun b ->
                        if b = 5 then kill victim
                        if b = 15 then restart victim)
                    eventuallyPlaced proxy circles db (expectedCounts "k" 10_000)))
        }

        test "a backend hung past write_timeout and resumed gets every point" {
            withCluster 2 2 (fun circles ->
                let db = uniqueDb "hung"
                createEverywhere circles db
                ProxyProcess.using circles [ "\"rewrite_interval\": 1"; "\"write_timeout\": 1" ] (fun proxy ->
                    let victim = circles[1][1]
                    try
                        writeSeries proxy db "s" 12 500 (fun b ->
                            if b = 3 then Signals.send Signals.stop victim.Process
                            if b = 9 then Signals.send Signals.cont victim.Process)
                    finally
                        Signals.send Signals.cont victim.Process
                    eventuallyPlaced proxy circles db (expectedCounts "s" 6_000)))
        }

        test "points accepted while a backend is down survive a proxy SIGTERM and restart" {
            withCluster 2 2 (fun circles ->
                let db = uniqueDb "restart"
                createEverywhere circles db
                let victim = circles[0][1]
                kill victim
                let extra = [ "\"rewrite_interval\": 1"; "\"write_timeout\": 2" ]
                let proxy = ProxyProcess.start circles extra
                try
                    writeSeries proxy db "r" 10 300 ignore
                    Expect.isTrue (ProxyProcess.terminate (TimeSpan.FromSeconds 30.0) proxy) "graceful stop"
                    Expect.equal proxy.Process.ExitCode 0 proxy.Log
                    usingRestarted proxy (fun again ->
                        restart victim
                        eventuallyPlaced again circles db (expectedCounts "r" 3_000))
                finally ProxyProcess.dispose proxy)
        }

        test "points answered from the journal survive a kill -9 of the proxy while a backend hangs" {
            withCluster 2 2 (fun circles ->
                let db = uniqueDb "journal"
                createEverywhere circles db
                let victim = circles[1][0]
                // Sends to the hung backend wait for write_timeout: nothing the proxy answered has reached it yet.
                let proxy = ProxyProcess.start circles [ "\"rewrite_interval\": 1"; "\"write_timeout\": 30" ]
                try
                    knowDatabase proxy db
                    whileHung victim (fun () ->
                        let started = Diagnostics.Stopwatch.StartNew()
                        writeSeries proxy db "j" 10 300 ignore
                        Expect.isLessThan started.Elapsed (TimeSpan.FromSeconds 10.0) "answered before the hung backend had the points"
                        ProxyProcess.kill proxy)
                    usingRestarted proxy (fun again ->
                        eventuallyPlaced again circles db (expectedCounts "j" 3_000)
                        waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> again.Log.Contains "records of the previous run replayed") |> ignore
                        Expect.stringContains again.Log "records of the previous run replayed" "the journal was replayed")
                finally ProxyProcess.dispose proxy)
        }

        test "after a restart, new writes wait behind the journal's replay: 503 while it cannot finish, stored once it has" {
            withCluster 1 1 (fun circles ->
                let db = uniqueDb "behind"
                createEverywhere circles db
                let backend = circles[0][0]
                let proxy = ProxyProcess.start circles [ "\"write_timeout\": 30" ]
                try
                    knowDatabase proxy db
                    // Restarted with a backlog too small to take the replayed record: the replay cannot finish while
                    // the backend hangs.
                    let extra = [ "\"write_timeout\": 1"; "\"rewrite_interval\": 1"; "\"check_interval\": 1"; "\"backlog_max_size\": 10" ]
                    let again, waiting =
                        whileHung backend (fun () ->
                            Expect.equal (post (writeUrl proxy db "") "old value=1 1").Status 204 "journaled"
                            ProxyProcess.kill proxy
                            let again = restartWith (ProxyProcess.configFor circles proxy.Port extra) proxy
                            again, post (writeUrl again db "") "new value=2 2")
                    try
                        Expect.equal waiting.Status 503 waiting.Body
                        Expect.stringContains waiting.Body "write journal of the previous run is still being delivered" "why"
                        let accepted () = (post (writeUrl again db "") "new value=2 2").Status = 204
                        Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) accepted) again.Log
                        eventuallyPlaced again circles db (Map.ofList [ "warm", 1L; "old", 1L; "new", 1L ])
                    finally ProxyProcess.kill again
                finally ProxyProcess.dispose proxy)
        }

        test "points answered from the journal that the backend then neither takes nor fits in its backlog are delivered again from the journal" {
            withCluster 1 1 (fun circles ->
                let db = uniqueDb "redeliver"
                createEverywhere circles db
                let backend = circles[0][0]
                // A backlog too small for any batch: a failed send cannot be backlogged.
                let extra = [ "\"backlog_max_size\": 10"; "\"write_timeout\": 1"; "\"rewrite_interval\": 1"; "\"check_interval\": 2" ]
                ProxyProcess.using circles extra (fun proxy ->
                    knowDatabase proxy db
                    whileHung backend (fun () ->
                        let reply = post (writeUrl proxy db "") "late value=1 1"
                        Expect.equal reply.Status 204 "answered from the journal while the backend still looked up"
                        let redelivering () = proxy.Log.Contains "delivering them again from the journal"
                        Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) redelivering) proxy.Log)
                    eventuallyPlaced proxy circles db (Map.ofList [ "warm", 1L; "late", 1L ])))
        }
    ]

let private fullBacklog =
    test "a backend down with a full backlog makes writes fail loudly with 503, naming it, instead of vanishing" {
        withCluster 2 1 (fun circles ->
            let db = uniqueDb "full"
            createEverywhere circles db
            kill circles.[1].[0]
            ProxyProcess.using circles [ "\"backlog_max_size\": 2000"; "\"write_timeout\": 1"; "\"check_interval\": 1" ] (fun proxy ->
                let body n = [ for i in 1..20 -> sprintf "full,host=h%d value=%d %d" i n (1_600_000_000_000_000_000L + int64 n) ] |> String.concat "\n"
                let first = post (writeUrl proxy db "") (body 1)
                Expect.equal first.Status 204 first.Body
                let replies = [ for n in 2..20 -> post (writeUrl proxy db "") (body n) ]
                let refused = replies |> List.filter (fun r -> r.Status = 503)
                Expect.isNonEmpty refused "the cap is reached"
                Expect.stringContains refused.Head.Body "backlog is full" "clear reason"
                Expect.stringContains refused.Head.Body circles.[1].[0].Name "names the backend"
                Expect.isTrue (replies |> List.forall (fun r -> r.Status = 204 || r.Status = 503)) "nothing else"))
    }

let private refusals =
    testList "backend refusals" [
        test "with write_ack journaled (the default), a field type conflict is answered 204, counted and logged, and the rest lands" {
            onSharedCluster "conflict_journaled" [] (fun circles db proxy ->
                Expect.equal (post (writeUrl proxy db "") "typed value=1i 1").Status 204 "integer first"
                eventuallyPlaced proxy circles db (Map.ofList [ "typed", 1L ])
                let reply = post (writeUrl proxy db "") "typed value=1.5 2\nother value=1 2"
                Expect.equal reply.Status 204 "answered from the journal"
                eventuallyPlaced proxy circles db (Map.ofList [ "typed", 1L; "other", 1L ])
                let counted () = (get (proxy.Url + "/metrics")).Body.Split('\n') |> Array.exists (fun l -> l.StartsWith "influxproxy_backend_partial_write_points_total{" && not (l.EndsWith " 0"))
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) counted) "counted in /metrics"
                // The proxy's output is read as it comes: the line may follow the counter by a moment.
                waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> proxy.Log.Contains "field type conflict") |> ignore
                Expect.stringContains proxy.Log "field type conflict" "logged with the backend's reason")
        }

        test "with write_ack stored, a field type conflict is refused by the backend and reported to the client as InfluxDB does" {
            onSharedCluster "conflict" [ storedAck ] (fun circles db proxy ->
                Expect.equal (post (writeUrl proxy db "") "typed value=1i 1").Status 204 "integer first"
                let reply = post (writeUrl proxy db "") "typed value=1.5 2\nother value=1 2"
                Expect.equal reply.Status 400 reply.Body
                Expect.stringContains reply.Body "field type conflict" "the backend's reason"
                expectPlaced proxy circles db (Map.ofList [ "typed", 1L; "other", 1L ]))
        }

        test "with write_ack stored, a refusal in a batch grouped from several requests reaches only the request that sent the refused line" {
            withCluster 1 1 (fun circles ->
                let db = uniqueDb "blame"
                createEverywhere circles db
                let backend = circles[0][0]
                ProxyProcess.using circles [ storedAck ] (fun proxy ->
                    Expect.equal (post (writeUrl proxy db "") "typed value=1i 1").Status 204 "integer first"
                    // A thread each (not the pool, which adds threads slowly), so every request is on its way at once.
                    let later (body: string) =
                        Threading.Tasks.Task.Factory.StartNew((fun () -> post (writeUrl proxy db "") body), Threading.Tasks.TaskCreationOptions.LongRunning)
                    // While the backend is stopped, one request's send hangs and the next two queue behind it: the
                    // writer then sends those two as one batch, which the backend answers with one partial write.
                    let writer () = (Text.Json.JsonDocument.Parse((get (proxy.Url + "/debug/vars")).Body)).RootElement.GetProperty("backends")[0]
                    let first, conflicting, valid =
                        whileHung backend (fun () ->
                            let first = later "first value=1 2"
                            Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> (writer ()).GetProperty("writer_sending").GetBoolean())) "the first send hangs"
                            let conflicting = later "typed value=1.5 2"
                            let valid = later "other value=1 2"
                            Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> (writer ()).GetProperty("writer_queued_chunks").GetInt32() = 2)) "the next two queue behind it"
                            first, conflicting, valid)
                    Expect.equal first.Result.Status 204 first.Result.Body
                    Expect.equal conflicting.Result.Status 400 conflicting.Result.Body
                    Expect.stringContains conflicting.Result.Body "field type conflict" "the backend's reason, to the request that caused it"
                    Expect.equal valid.Result.Status 204 valid.Result.Body
                    expectPlaced proxy circles db (Map.ofList [ "typed", 1L; "other", 1L; "first", 1L ])))
        }

        test "a batch a backend finds too large (413) is split until it fits, and every point lands" {
            let dir = Path.Combine(Path.GetTempPath(), sprintf "influx-proxy-413-%s" (Guid.NewGuid().ToString "N"))
            let small = startOnFreePortWith [ "max-body-size = 20000" ] "small-1" (Path.Combine(dir, "small-1"))
            try
                let circles = [ [ small ] ]
                let db = uniqueDb "split"
                createEverywhere circles db
                ProxyProcess.using circles [] (fun proxy ->
                    let body = [ for i in 0..2999 -> sprintf "big%d,host=h%d,rack=r%d value=%d.%d,other=%di %d" (i % 10) i (i % 13) i (i % 7) i (1_600_000_000_000_000_000L + int64 i) ] |> String.concat "\n"
                    let reply = post (writeUrl proxy db "") body
                    Expect.equal reply.Status 204 reply.Body
                    eventuallyPlaced proxy circles db (Map.ofList [ for m in 0..9 -> sprintf "big%d" m, 300L ]))
            finally
                dispose small
                Directory.Delete(dir, true)
        }
    ]

let tests = testList "Write" [ landing "journaled"; landing "stored"; errors; outages; fullBacklog; refusals ]
