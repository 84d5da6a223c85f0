/// `consistency=any|one|quorum|all` across circles, on three circles of one real influxd each, with circles down or
/// hung: each level's 204 or InfluxDB's 500, and every point accepted either way delivered to every circle.
module InfluxProxy.Testing.ConsistencyTests

open System
open Expecto
open InfluxProxy.Testing.Influxd
open InfluxProxy.Testing.Web
open InfluxProxy.Testing.Fixtures

/// Writes one point of its own measurement with `level`; the status and the error text.
let private write (proxy: ProxyProcess.Proxy) db (level: string) (measurement: string) =
    let reply = post $"{proxy.Url}/write?db={db}&consistency={level}" $"{measurement} v=1 1"
    reply.Status, reply.Body

let private expectAnswer (status, body: string) (expectedStatus, expectedWord: string) (what: string) =
    Expect.equal status expectedStatus $"{what}: {body}"
    Expect.stringContains body expectedWord what

let private heldEverywhere (servers: Server list) db (measurements: string list) =
    let holds (server: Server) measurement =
        (Influx.query server.Url db $"SELECT count(v) FROM \"{measurement}\"").ToString().Contains ",1]]"
    waitUntil (TimeSpan.FromSeconds 60.0) (fun () -> servers |> List.forall (fun s -> measurements |> List.forall (holds s)))

/// Waits until the proxy's /health shows `server` as down.
let private seenDown (proxy: ProxyProcess.Proxy) (server: Server) =
    let down () =
        use health = Text.Json.JsonDocument.Parse((get (proxy.Url + "/health?stats=false")).Body)
        health.RootElement.EnumerateArray()
        |> Seq.collect (fun circle -> circle.GetProperty("backends").EnumerateArray())
        |> Seq.exists (fun b -> b.GetProperty("name").GetString() = server.Name && b.GetProperty("state").GetString() = "down")
    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 20.0) down) $"{server.Name} seen down"

let tests =
    testSequenced <| testList "Consistency" [
        test "each level is answered 204 or InfluxDB's 500 by how many circles store the points; every point lands in the end" {
            withCluster 3 1 (fun circles ->
                let servers = List.concat circles
                let db = uniqueDb "consistency"
                for server in servers do Influx.createDatabase server.Url db
                ProxyProcess.using circles [ "\"rewrite_interval\": 1"; "\"write_timeout\": 2"; "\"check_interval\": 1" ] (fun proxy ->
                    let written = Collections.Generic.List<string>()
                    let writeAs level =
                        let measurement = $"m{written.Count}"
                        written.Add measurement
                        write proxy db level measurement
                    let invalid = post $"{proxy.Url}/write?db={db}&consistency=most" "m v=1"
                    Expect.equal (invalid.Status, invalid.Body) (400, "{\"error\":\"invalid consistency level\"}\n") "InfluxDB's 400"
                    for level in [ "any"; "one"; "quorum"; "all"; "ALL" ] do
                        expectAnswer (writeAs level) (204, "") $"{level}, every circle up"
                    kill servers[2]
                    seenDown proxy servers[2]
                    for level in [ "any"; "one"; "quorum" ] do
                        expectAnswer (writeAs level) (204, "") $"{level}, one circle of three down"
                    expectAnswer (writeAs "all") (500, "partial write: consistency all needs 3 of 3 circles to store the points, 2 did") "all, one down"
                    kill servers[1]
                    seenDown proxy servers[1]
                    expectAnswer (writeAs "one") (204, "") "one, two down"
                    expectAnswer (writeAs "quorum") (500, "partial write: consistency quorum needs 2 of 3") "quorum, two down"
                    kill servers[0]
                    seenDown proxy servers[0]
                    expectAnswer (writeAs "one") (500, "write failed: consistency one needs 1 of 3") "one, every circle down"
                    expectAnswer (writeAs "any") (204, "") "any, every circle down: kept"
                    for server in servers do restart server
                    Expect.isTrue (heldEverywhere servers db (List.ofSeq written)) "every point, answered 204 or 500, reaches every circle"))
        }

        test "a circle that hangs makes all wait at most write_timeout, then a timeout; its points arrive once it resumes" {
            withCluster 3 1 (fun circles ->
                let servers = List.concat circles
                let db = uniqueDb "hung"
                for server in servers do Influx.createDatabase server.Url db
                ProxyProcess.using circles [ "\"rewrite_interval\": 1"; "\"write_timeout\": 2"; "\"check_interval\": 30" ] (fun proxy ->
                    expectAnswer (write proxy db "all" "warm") (204, "") "all, every circle up"
                    let hung = servers[1]
                    Signals.send Signals.stop hung.Process
                    try
                        let watch = Diagnostics.Stopwatch.StartNew()
                        expectAnswer (write proxy db "all" "late") (500, "timeout: consistency all needs 3 of 3 circles to store the points, 2 did") "all, one hung"
                        Expect.isLessThan watch.Elapsed.TotalSeconds 4.5 "within write_timeout and a little"
                        expectAnswer (write proxy db "quorum" "quorum") (204, "") "quorum, one hung"
                    finally
                        Signals.send Signals.cont hung.Process
                    Expect.isTrue (heldEverywhere servers db [ "warm"; "late"; "quorum" ]) "kept and delivered to every circle"))
        }
    ]
