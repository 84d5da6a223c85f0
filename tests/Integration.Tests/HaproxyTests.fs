/// Two proxies behind Debian's haproxy, run with the repository's deploy/haproxy.cfg: one is killed under load.
module InfluxProxy.Testing.HaproxyTests

open System
open System.Diagnostics
open System.IO
open System.Net.Http
open System.Text
open System.Threading
open System.Threading.Tasks
open Expecto
open InfluxProxy.Testing.Influxd
open InfluxProxy.Testing.Fixtures

/// A running haproxy in the foreground (`-db`) and everything it printed.
type private Balancer =
    { Port: int
      Process: Process
      Output: StringBuilder }
    member b.Url = sprintf "http://127.0.0.1:%d" b.Port
    member b.Log = lock b.Output (fun () -> b.Output.ToString())

/// deploy/haproxy.cfg with its frontend on `port` and its two servers on the two proxies' ports.
let private configFor (port: int) (first: int) (second: int) =
    File.ReadAllText(Path.Combine(ProxyProcess.repoRoot, "deploy", "haproxy.cfg"))
        .Replace("bind :7070", sprintf "bind 127.0.0.1:%d" port)
        .Replace("127.0.0.1:7076", sprintf "127.0.0.1:%d" first)
        .Replace("127.0.0.1:7077", sprintf "127.0.0.1:%d" second)

/// Starts haproxy on a free port in front of the two proxies and waits until a /ping through it answers 204.
let private startBalancer (dir: string) (first: ProxyProcess.Proxy) (second: ProxyProcess.Proxy) =
    let port = freePort ()
    let path = Path.Combine(dir, "haproxy.cfg")
    File.WriteAllText(path, configFor port first.Port second.Port)
    let program = if File.Exists "/usr/sbin/haproxy" then "/usr/sbin/haproxy" else "haproxy"
    let proc, output = ProxyProcess.startCapturing (ProcessStartInfo(program, sprintf "-f \"%s\" -db" path))
    let balancer = { Port = port; Process = proc; Output = output }
    if not (waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> proc.HasExited || ping balancer.Url)) || proc.HasExited then
        (if not proc.HasExited then proc.Kill())
        failwithf "haproxy did not start:\n%s" balancer.Log
    balancer

let private stopBalancer (balancer: Balancer) =
    if not balancer.Process.HasExited then
        balancer.Process.Kill()
        balancer.Process.WaitForExit()

/// How one request ended: its last status (0 for a connection error) and how many times it was sent again.
type private Outcome = { Status: int; Retries: int }

/// Sends again after a connection error or a 5xx, at most `maxRetries` times.
let private maxRetries = 5

let private postWithRetries (url: string) (body: string) =
    let once () =
        try
            use request = new HttpRequestMessage(HttpMethod.Post, url, Content = new StringContent(body, Encoding.UTF8, "text/plain"))
            (Web.send request).Status
        with :? HttpRequestException -> 0 // the connection failed or was cut: retried like a 5xx
    let rec attempt retries =
        let status = once ()
        if (status = 0 || status >= 500) && retries < maxRetries then attempt (retries + 1)
        else { Status = status; Retries = retries }
    attempt 0

let private clients = 4
let private requestsPerClient = 75
let private linesPerRequest = 500
let private measurementsPerClient = 5

/// Request `r` of client `c`: its own measurement (of the client's few) and timestamps no other request uses.
let private body (c: int) (r: int) =
    let start = 1_600_000_000_000_000_000L + int64 ((c * requestsPerClient + r) * linesPerRequest)
    [ for i in 0 .. linesPerRequest - 1 -> sprintf "lb%d_%d,host=h%d value=%di %d" c (r % measurementsPerClient) (i % 7) i (start + int64 i) ]
    |> String.concat "\n"

/// Every measurement's points, as the requests above hold them.
let private expected =
    Map.ofList
        [ for c in 0 .. clients - 1 do
            for m in 0 .. measurementsPerClient - 1 ->
                let requests = [ 0 .. requestsPerClient - 1 ] |> List.filter (fun r -> r % measurementsPerClient = m) |> List.length
                sprintf "lb%d_%d" c m, int64 (requests * linesPerRequest) ]

/// Points per measurement in one circle: the sum over its servers (each measurement lives on its ring owner).
let private circleCounts (circle: Server list) db =
    circle
    |> List.map (fun s -> Influx.countsByMeasurement s.Url db "value")
    |> List.fold (fun total counts -> Map.foldBack (fun m n acc -> Map.add m (n + (Map.tryFind m acc |> Option.defaultValue 0L)) acc) counts total) Map.empty

let tests =
    testSequenced <| testList "Haproxy" [
        test "one of two proxies behind haproxy killed -9 under load: every request ends 204, every point in every circle" {
            withCluster 2 2 (fun circles ->
                let db = uniqueDb "haproxy"
                for server in List.concat circles do Influx.createDatabase server.Url db
                let extra = [ "\"rewrite_interval\": 1"; "\"write_timeout\": 2" ]
                let startProxy label =
                    let port = freePort ()
                    ProxyProcess.startIn (ProxyProcess.newDir label) port (ProxyProcess.configFor circles port extra)
                let victim = startProxy "haproxy-a"
                let survivor = startProxy "haproxy-b"
                let dir = ProxyProcess.newDir "haproxy"
                let mutable restarted = None
                try
                    let balancer = startBalancer dir victim survivor
                    try
                        let url = sprintf "%s/write?db=%s" balancer.Url db
                        let answered = ref 0
                        // A third of the way through, while the four clients keep writing.
                        let killAt = clients * requestsPerClient / 3
                        let client c =
                            [| for r in 0 .. requestsPerClient - 1 ->
                                let outcome = postWithRetries url (body c r)
                                if Interlocked.Increment &answered.contents = killAt then ProxyProcess.kill victim
                                outcome |]
                        let outcomes =
                            [| for c in 0 .. clients - 1 -> Task.Run(fun () -> client c) |]
                            |> Task.WhenAll |> Async.AwaitTask |> Async.RunSynchronously |> Array.concat
                        let retries = outcomes |> Array.sumBy _.Retries
                        printfn "haproxy: %d requests, %d retried requests (%d sends again), victim killed after %d answers"
                            outcomes.Length (outcomes |> Array.filter (fun o -> o.Retries > 0) |> Array.length) retries killAt
                        Expect.isTrue victim.Process.HasExited "the victim was killed during the load"
                        let failed = outcomes |> Array.filter (fun o -> o.Status <> 204)
                        Expect.isEmpty failed (sprintf "every request ends 204 after its retries; haproxy said:\n%s" balancer.Log)
                    finally stopBalancer balancer
                    // What the victim acknowledged but had not delivered is in its journal: replayed from the same data_dir.
                    restarted <- Some(ProxyProcess.startIn victim.Dir victim.Port (File.ReadAllText(Path.Combine(victim.Dir, "proxy.json"))))
                    for i, circle in List.indexed circles do
                        let complete () = circleCounts circle db = expected
                        if not (waitUntil (TimeSpan.FromSeconds 90.0) complete) then
                            let found = circleCounts circle db
                            Expect.equal found expected (sprintf "points per measurement in circle %d" (i + 1))
                    // Logged once the replay is done; a victim killed between commits may have had nothing left to replay.
                    waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> restarted.Value.Log.Contains "previous run replayed") |> ignore
                    let replayed = restarted.Value.Log.Split('\n') |> Array.tryFind _.Contains("previous run replayed")
                    printfn "haproxy: the restarted victim: %s" (replayed |> Option.defaultValue "no journal records to replay")
                finally
                    restarted |> Option.iter ProxyProcess.kill
                    ProxyProcess.dispose victim
                    ProxyProcess.dispose survivor
                    try Directory.Delete(dir, true) with :? IOException | :? UnauthorizedAccessException -> ())
        }
    ]
