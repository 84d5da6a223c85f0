/// Lines that kill or jam a real influxd: refused at the door when the proxy can tell, and set aside (quarantined)
/// when a backlog record does it anyway, so the backend's later writes flow.
module InfluxProxy.Testing.QuarantineTests

open System
open System.IO
open System.Text
open System.Text.Json
open System.Threading
open Expecto
open Microsoft.Extensions.Logging.Abstractions
open InfluxProxy.Core
open InfluxProxy.Host.Backlog
open InfluxProxy.Testing.Influxd
open InfluxProxy.Testing.Web
open InfluxProxy.Testing.Fixtures

/// influxd 1.6.7 exits on it: its storage reads a string value of one quote.
let private deadly = "m a\\\\=\"=\" 1700000000000000000"
/// influxd 1.6.7 answers it 500 at every try: its storage reads the bool `b"`.
let private refused = "cpu value\\\\=\"a=b\" 1700000000000000000"

/// Lines whose field sets InfluxDB may read two ways, from a fixed seed.
let private escapeLadenLines (count: int) =
    let random = Random 20261206
    let pick (items: string[]) = items[random.Next items.Length]
    let keys = [| "a"; "b"; "a\\"; "a\\\\"; "a\\="; "k\\ x"; "\\\""; "v" |]
    let values = [| "1"; "-2i"; "t"; "\"x\""; "\"=\""; "\"a=b\""; "\"=1\""; "\"=1i\""; "\"=t\""; "\"x,y=1\""; "\"\\\\\""; "\"\\\"\""; "\"=\\\"\""; "\"=t,b=1\""; "\"=1,\"" |]
    [ for i in 1..count ->
        let fields = String.Join(",", [ for _ in 1 .. random.Next(1, 4) -> pick keys + "=" + pick values ])
        let edited = if random.Next 2 = 0 then fields.Insert(random.Next(fields.Length + 1), pick [| "\\"; "\""; "="; "," |]) else fields
        sprintf "esc%d %s" i edited ]

let private accepted (line: string) =
    let bytes = Encoding.UTF8.GetBytes line
    (LineScanner.Scan(ReadOnlySpan bytes, 0, Nanosecond)).Kind = LineKind.Point

/// A proxy folder whose backend `server` already has `records` (db, line) waiting in its backlog, as an earlier run
/// (or an earlier version of the proxy) may have left them.
let private folderWithBacklog (server: Server) (records: (string * string) list) =
    let dir = ProxyProcess.newDir "quarantine"
    let backlog = FileBacklog.OpenAsync(Path.Combine(dir, "data"), server.Name, BacklogOptions(), TimeProvider.System, NullLogger.Instance, CancellationToken.None).AsTask().Result
    for db, line in records do
        let result = backlog.AppendAsync(db, "", ReadOnlyMemory(Encoding.UTF8.GetBytes(line + "\n")), CancellationToken.None).AsTask().Result
        Expect.equal result.Outcome AppendOutcome.Appended "backlogged"
    backlog.DisposeAsync().AsTask().Wait()
    dir

let private startIn (dir: string) (circles: Server list list) =
    let port = freePort ()
    ProxyProcess.startIn dir port (ProxyProcess.configFor circles port [ "\"rewrite_interval\": 1"; "\"check_interval\": 1" ])

let private quarantined (proxy: ProxyProcess.Proxy) (server: Server) =
    let folder = Path.Combine(proxy.Dir, "data", "quarantine", server.Name)
    if Directory.Exists folder then Directory.GetFiles(folder, "*.lp") |> Array.sort |> List.ofArray else []

let private description (lines: string) = JsonDocument.Parse(File.ReadAllText(Path.ChangeExtension(lines, ".json"))).RootElement

let private healthOf (proxy: ProxyProcess.Proxy) =
    (JsonDocument.Parse((get (proxy.Url + "/health?stats=false")).Body)).RootElement[0].GetProperty("backends")[0]

let private timesOf (server: Server) db measurement = Influx.times server.Url db measurement

let tests =
    testList "Quarantine" [
        test "a line a backend would die on or refuse forever is answered 400 in InfluxDB's form, and every owner stays up" {
            let circles = shared.Value
            let db = uniqueDb "poison"
            for server in List.concat circles do Influx.createDatabase server.Url db
            ProxyProcess.using circles [] (fun proxy ->
                let reply = post (sprintf "%s/write?db=%s" proxy.Url db) deadly
                Expect.equal reply.Status 400 reply.Body
                Expect.stringContains reply.Body "unable to parse 'm a\\\\\\\\=\\\"=\\\" 1700000000000000000': ambiguous field set: InfluxDB reads key a\\\\\\\\=\\\" with value \\\", which is not a valid field value" reply.Body
                let partial = post (sprintf "%s/write?db=%s" proxy.Url db) (refused + "\nkept value=1 1700000000000000000")
                Expect.equal partial.Status 400 partial.Body
                Expect.stringStarts partial.Body "{\"error\":\"partial write: unable to parse 'cpu value" partial.Body
                Expect.stringContains partial.Body "dropped=1" partial.Body
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) (fun () ->
                    circles |> List.forall (List.exists (fun s -> timesOf s db "kept" = [ 1700000000000000000L ])))) "the valid line landed in every circle"
                for server in List.concat circles do
                    Expect.isTrue (ping server.Url) $"{server.Name} is up")
        }

        test "every escape-laden line the scanner takes, a real influxd stores or refuses with a 400: never a 500, never its death" {
            withCluster 1 1 (fun circles ->
                let server = circles[0][0]
                let db = uniqueDb "escapes"
                Influx.createDatabase server.Url db
                let taken = escapeLadenLines 1500 |> List.filter accepted
                Expect.isGreaterThan taken.Length 300 "enough lines taken"
                for line in taken do
                    let reply = post (sprintf "%s/write?db=%s" server.Url db) line
                    // A key read twice with two types is InfluxDB's own partial write, as for any type conflict.
                    if reply.Status <> 204 && not (reply.Status = 400 && reply.Body.Contains "field type conflict") then
                        failtestf "%s -> %d %s" line reply.Status reply.Body
                Expect.isTrue (ping server.Url) "influxd is up")
        }

        test "a backlog record the backend dies on twice is quarantined, and the backend's later writes land" {
            withCluster 1 1 (fun circles ->
                let server = circles[0][0]
                let db = uniqueDb "deadly"
                Influx.createDatabase server.Url db
                let dir = folderWithBacklog server [ db, deadly ]
                let proxy = startIn dir circles
                try
                    for death in 1..2 do
                        Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> server.Process.HasExited)) $"death {death}"
                        restart server
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> not (quarantined proxy server).IsEmpty)) "quarantined"
                    let reply = post (sprintf "%s/write?db=%s" proxy.Url db) "later value=1 1700000000000000001"
                    Expect.equal reply.Status 204 reply.Body
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> timesOf server db "later" = [ 1700000000000000001L ])) "later write landed"
                    Expect.isFalse server.Process.HasExited "the backend stays up"
                    let lines = quarantined proxy server |> List.exactlyOne
                    Expect.equal (File.ReadAllText lines) (deadly + "\n") "the record's lines, as sent"
                    let about = description lines
                    Expect.equal (about.GetProperty("db").GetString()) db "db"
                    Expect.equal (about.GetProperty("backend").GetString()) server.Name "backend"
                    Expect.stringStarts (about.GetProperty("reason").GetString()) "the backend went away while taking it, 2 times" "reason"
                    Expect.equal ((healthOf proxy).GetProperty("quarantined_records").GetInt32()) 1 "/health"
                    Expect.stringContains (get (proxy.Url + "/metrics")).Body $"influxproxy_backlog_quarantined_records_total{{backend=\"{server.Name}\"}} 1" "/metrics"
                    let logged = proxy.Log.Split('\n') |> Array.filter (fun l -> l.Contains "is quarantined in")
                    Expect.equal logged.Length 1 "logged once"
                finally
                    ProxyProcess.dispose proxy)
        }

        test "a live batch after which the backend went away counts as the first death of its backlog record" {
            use backend = FaultyBackend.start "die"
            let proxy = FaultyBackend.proxyInFrontOf backend "faulty" [ "\"rewrite_interval\":1"; "\"check_interval\":1" ]
            try
                Expect.equal (post (sprintf "%s/write?db=db" proxy.Url) "die v=1 1").Status 204 "answered from the journal"
                let folder = Path.Combine(proxy.Dir, "data", "quarantine", "faulty")
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> Directory.Exists folder && Directory.GetFiles(folder, "*.lp").Length = 1)) "quarantined"
                Expect.equal backend.Deaths.Value 2 "the live send and one replay"
                Expect.equal (File.ReadAllText(Directory.GetFiles(folder, "*.lp")[0])) "die v=1 1\n" "its lines"
                Expect.equal (post (sprintf "%s/write?db=db" proxy.Url) "ok v=1 2").Status 204 "later write"
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> backend.Taken |> Seq.exists (fun b -> b.Contains "ok v=1 2"))) "later write taken"
            finally
                ProxyProcess.dispose proxy
        }

        test "a backlog record the backend keeps refusing is quarantined once the record behind it is taken" {
            withCluster 1 1 (fun circles ->
                let server = circles[0][0]
                let db = uniqueDb "refused"
                Influx.createDatabase server.Url db
                let dir = folderWithBacklog server [ db, refused; db, "behind value=1 1700000000000000002" ]
                let proxy = startIn dir circles
                try
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 60.0) (fun () -> not (quarantined proxy server).IsEmpty)) "quarantined"
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> (healthOf proxy).GetProperty("backlog_records").GetInt64() = 0L)) "backlog drained"
                    Expect.equal (timesOf server db "behind") [ 1700000000000000002L ] "the record behind landed, once"
                    let about = quarantined proxy server |> List.exactlyOne |> description
                    Expect.stringContains (about.GetProperty("reason").GetString()) "while the backend took the record behind it: status 500" "reason"
                    Expect.stringContains (about.GetProperty("reason").GetString()) "unable to parse bool value" "InfluxDB's words"
                finally
                    ProxyProcess.dispose proxy)
        }

        test "records a backend refuses for a reason they share (their database is missing) wait, and land once it exists" {
            withCluster 1 1 (fun circles ->
                let server = circles[0][0]
                let db = uniqueDb "missing"
                let dir = folderWithBacklog server [ db, "first value=1 1"; db, "second value=2 2" ]
                let proxy = startIn dir circles
                try
                    // Five refusals over five intervals, then the record behind is tried: refused too.
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> proxy.Log.Contains "sending the record behind it first")) "probed"
                    Expect.isEmpty (quarantined proxy server) "nothing quarantined"
                    Influx.createDatabase server.Url db
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> timesOf server db "second" = [ 2L ])) "delivered once the database exists"
                    // The record behind was sent out of turn, so it may land first; the head follows at its next replay.
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> timesOf server db "first" = [ 1L ])) "none lost"
                    Expect.isEmpty (quarantined proxy server) "still nothing quarantined"
                finally
                    ProxyProcess.dispose proxy)
        }
    ]
