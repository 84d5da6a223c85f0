// InfluxProxy build script. Usage: dotnet fsi build.fsx <target>
//   build   compile the solution (Release)
//   test    install what is missing, build, run every test; ends with "N passed, N failed"
//   run     install what is missing, start 4 real influxd on 8086-8089 and the proxy on :7076 with proxy.json
//   bench   install what is missing, benchmark the write path against 4 real influxd
//   bench-migrate  install what is missing, benchmark a rebalance (1M points; a circle of 2 real influxd grown to 3)
//                  under live writes: copy rate, CPU, RSS, live write latency, and a bit-exact check of the moved data
//   bench-scale    install what is missing, measure how the write path's cost grows with clients, measurements,
//                  request size and a backend down (bench/Scale.fsx); tables and plots into docs/bench-scale/
// The repository's root, the build configuration, how the proxy is started and what the benchmarks measure it with:
#load "bench/Measure.fsx"

open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
open InfluxProxy.Testing
open Measure

let fail (message: string) =
    eprintfn "build.fsx: %s" message
    exit 1

/// Runs a program in the repository root, streaming its output; returns the exit code.
let exec (program: string) (args: string) (env: (string * string) list) =
    let info = ProcessStartInfo(program, args, WorkingDirectory = root)
    for key, value in env do info.Environment[key] <- value
    use proc = Process.Start info
    proc.WaitForExit()
    proc.ExitCode

/// Runs a program and captures stdout; None when it cannot start or fails.
let capture (program: string) (args: string) =
    try
        let info = ProcessStartInfo(program, args, WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true)
        use proc = Process.Start info
        let output = proc.StandardOutput.ReadToEnd()
        proc.WaitForExit()
        if proc.ExitCode = 0 then Some(output.Trim()) else None
    with _ -> None

// ---------------------------------------------------------------- system packages

let debianPackages = [ "influxdb"; "influxdb-client"; "python3-influxdb"; "prometheus"; "chromium"; "haproxy" ]

let missingPackages () =
    [ if (capture "influxd" "version").IsNone then "influxdb"
      if (capture "influx" "-version").IsNone then "influxdb-client"
      // Debian's python client imports only under the system python, not the first python3 on PATH.
      if (capture "/usr/bin/python3" "-c \"import influxdb\"").IsNone then "python3-influxdb"
      // The real Prometheus the remote write tests write through.
      if (capture "prometheus" "--version").IsNone then "prometheus"
      // The status page's tests load it in headless Chromium.
      if (capture "chromium" "--version").IsNone then "chromium"
      // The load balancer two proxies run behind in the HAProxy test (deploy/haproxy.cfg).
      if (capture "haproxy" "-v").IsNone then "haproxy" ]

/// Installs Debian's InfluxDB 1.x server, shell and python client, Prometheus, Chromium and HAProxy, when missing, without starting the packaged services.
let ensurePackages () =
    match missingPackages () with
    | [] -> ()
    | missing ->
        printfn "installing %s" (String.concat " " missing)
        // Keep the package's own influxd service from starting (it would take port 8086).
        let policy = "/usr/sbin/policy-rc.d"
        let ownPolicy = not (File.Exists policy)
        if ownPolicy then File.WriteAllText(policy, "#!/bin/sh\nexit 101\n"); exec "chmod" $"+x {policy}" [] |> ignore
        try
            let env = [ ("DEBIAN_FRONTEND", "noninteractive") ]
            if exec "apt-get" "update -q" env <> 0 then fail "apt-get update failed"
            if exec "apt-get" ("install -y -q " + String.concat " " debianPackages) env <> 0 then fail "apt-get install failed"
        finally
            if ownPolicy then File.Delete policy
        match missingPackages () with
        | [] -> ()
        | still -> fail ("still missing after install: " + String.concat " " still)

// ---------------------------------------------------------------- build

let build () =
    let commit = capture "git" "rev-parse --short=7 HEAD" |> Option.defaultValue "unknown"
    if exec "dotnet" $"build InfluxProxy.sln -c {configuration} -p:SourceRevisionId={commit} -v:q -nologo" [] <> 0 then
        fail "build failed"

// ---------------------------------------------------------------- test

type Counts = { Passed: int; Failed: int }

/// Runs one Expecto test program and reads its summary line; a run without one counts as one failure.
let runSuite (project: string) =
    let dll = Path.Combine(root, "tests", project, "bin", configuration, "net10.0", project + ".dll")
    let info = ProcessStartInfo("dotnet", $"\"{dll}\" --colours 0 --no-spinner", WorkingDirectory = root, RedirectStandardOutput = true)
    use proc = Process.Start info
    let mutable counts = None
    let summary = Regex(@"(\d+) passed, (\d+) ignored, (\d+) failed, (\d+) errored")
    let rec pump () =
        match proc.StandardOutput.ReadLine() with
        | null -> ()
        | line ->
            printfn "%s" line
            let m = summary.Match line
            if m.Success then
                counts <- Some { Passed = int m.Groups[1].Value; Failed = int m.Groups[3].Value + int m.Groups[4].Value }
            pump ()
    pump ()
    proc.WaitForExit()
    match counts with
    | Some c when proc.ExitCode = 0 || c.Failed > 0 -> c
    | Some c -> { c with Failed = c.Failed + 1 }
    | None -> { Passed = 0; Failed = 1 }

let test () =
    ensurePackages ()
    build ()
    let results = [ "Core.Tests"; "Integration.Tests" ] |> List.map runSuite
    let passed, failed = results |> List.sumBy (fun c -> c.Passed), results |> List.sumBy (fun c -> c.Failed)
    printfn "%d passed, %d failed" passed failed
    if failed > 0 then exit 1

// ---------------------------------------------------------------- run

/// The four backends of proxy.json: 2 circles × 2 influxd on 8086-8089, data under .local/.
let startLocalCluster () =
    [ "influxdb-1-1", 8086; "influxdb-1-2", 8087; "influxdb-2-1", 8088; "influxdb-2-2", 8089 ]
    |> List.map (fun (name, port) ->
        if Influxd.ping (sprintf "http://127.0.0.1:%d" port) then fail $"port {port} is already taken by a running InfluxDB"
        let server = Influxd.start name (Path.Combine(root, ".local", "influxd", name)) port
        printfn "started %s on %s" name server.Url
        server)

let run () =
    ensurePackages ()
    build ()
    let servers = startLocalCluster ()
    let proxy = Process.Start(proxyStartInfo root)
    let stopAll () =
        if not proxy.HasExited then
            Influxd.Signals.send Influxd.Signals.term proxy
            proxy.WaitForExit 30_000 |> ignore
        for server in servers do Influxd.kill server
    let onSignal (context: Runtime.InteropServices.PosixSignalContext) =
        context.Cancel <- true
        stopAll ()
    use _interrupt = Runtime.InteropServices.PosixSignalRegistration.Create(Runtime.InteropServices.PosixSignal.SIGINT, onSignal)
    use _terminate = Runtime.InteropServices.PosixSignalRegistration.Create(Runtime.InteropServices.PosixSignal.SIGTERM, onSignal)
    printfn "proxy on http://127.0.0.1:7076 — Ctrl-C stops the proxy and the four influxd"
    proxy.WaitForExit()
    stopAll ()
    exit proxy.ExitCode

// ---------------------------------------------------------------- bench

/// The workload of shared/spec/README.md, three times: 1,000,000 points over 100 measurements × 10 hosts, batches of 5,000
/// lines, 4 concurrent keep-alive clients, against 2 circles × 2 real influxd.
module Bench =
    open System.Net.Http

    let points = 1_000_000
    let batchLines = 5_000
    let clients = 4

    let measurements = 100
    let hosts = 10

    /// 1000 series, 1000 distinct timestamps each.
    let bodies = Array.init (points / batchLines) (workloadBody measurements hosts batchLines)

    let post (url: string) (bodies: byte[][]) = postBodies clients url bodies

    /// p50 and p99 in ms of `count` sequential GETs of one query on a keep-alive connection.
    let queryLatency (baseUrl: string) (q: string) (count: int) =
        use http = new HttpClient()
        let url = baseUrl + "/query?db=bench&q=" + Uri.EscapeDataString q
        for _ in 1..50 do http.GetStringAsync(url).Result |> ignore
        let times =
            [| for _ in 1..count ->
                let watch = Stopwatch.StartNew()
                http.GetStringAsync(url).Result |> ignore
                watch.Elapsed.TotalMilliseconds |] |> Array.sort
        percentile 0.50 times, percentile 0.99 times

    let landedCount (db: string) (servers: Influxd.Server list) = servers |> List.sumBy (pointCount db "value" "bench.*")

    /// The measured rounds, each into a database of its own; queries are timed against the first.
    let roundDatabases = [ "bench"; "bench2"; "bench3" ]

    /// The round that posts the bodies to the servers themselves, without the proxy.
    let directDatabase = "bench_direct"

    /// The figures of one round: rates in points/s, latencies in ms; per million points the proxy's CPU-seconds (none
    /// when the servers are written directly), the four servers' CPU-seconds and the /write requests they took.
    type Round = { Accepted: float; Landed: float; P50: float; P99: float; User: float; Kernel: float; ServerCpu: float; ServerPosts: float }

    /// Writes the workload into `db` with `post` and waits until every copy is queryable. The proxy's CPU is taken
    /// until then; the servers' once they have stored every copy, before the counting queries.
    let writeRound (post: string -> float[]) (db: string) (servers: Influxd.Server list) (proxyId: int option) =
        let proxyCpu () = proxyId |> Option.map cpuTimes |> Option.defaultValue (0.0, 0.0)
        let countersBefore = totalCounters servers
        let serverCpuBefore = serversCpuSeconds servers
        let userBefore, systemBefore = proxyCpu ()
        let watch = Stopwatch.StartNew()
        let latencies = post db
        let accepted = watch.Elapsed.TotalSeconds
        let expected = int64 points * 2L
        // Counting every point is a heavy query: until the servers have stored every copy (their write counters,
        // cheap to read), only those are polled, so the count does not slow the influxd it waits for.
        Influxd.waitUntil (TimeSpan.FromMinutes 5.0) (fun () -> (totalCounters servers - countersBefore).PointsWritten >= expected) |> ignore
        let serverCpu = serversCpuSeconds servers - serverCpuBefore
        let serverPosts = (totalCounters servers - countersBefore).WriteRequests
        if not (Influxd.waitUntil (TimeSpan.FromMinutes 5.0) (fun () -> landedCount db servers >= expected)) then
            fail (sprintf "only %d of %d point copies landed in %s" (landedCount db servers) expected db)
        let landed = watch.Elapsed.TotalSeconds
        let userAfter, systemAfter = proxyCpu ()
        let perMillion value = value / (float points / 1_000_000.0)
        { Accepted = float points / accepted; Landed = float points / landed
          P50 = percentile 0.50 latencies; P99 = percentile 0.99 latencies
          User = perMillion (userAfter - userBefore); Kernel = perMillion (systemAfter - systemBefore)
          ServerCpu = perMillion serverCpu; ServerPosts = perMillion (float serverPosts) }

    let throughProxy (url: string) (db: string) = post $"{url}/write?db={db}" bodies

    /// Posts each body to one server of each circle, the first and the second server in turn, so that every point
    /// is stored twice, as through the proxy.
    let directly (circles: Influxd.Server list list) (db: string) =
        postRequests clients
            [| for i, body in Array.indexed bodies do
                   for circle in circles -> $"{circle[i % circle.Length].Url}/write?db={db}", body |]

    /// Starts the proxy in front of the servers, writes the workload through it and prints the figures.
    let measure (dir: string) (circles: Influxd.Server list list) =
        let all = List.concat circles
        let proxy = startProxy dir circles
        try
            let url = proxy.Url
            use http = new HttpClient()
            for db in "warmup" :: directDatabase :: roundDatabases do createDatabase db all
            // The JIT compiles the hot path on first use; a long-running proxy pays that once, so measure after it,
            // and after its points are stored, so their delivery is not measured either.
            let warmup = bodies |> Array.take 40
            post $"{url}/write?db=warmup" warmup |> ignore
            if not (Influxd.waitUntil (TimeSpan.FromMinutes 5.0) (fun () -> landedCount "warmup" all >= int64 (warmup.Length * batchLines * 2))) then
                fail "the warm-up did not land"
            let rounds = [ for db in roundDatabases -> writeRound (throughProxy url) db all (Some proxy.Process.Id) ]
            let median (figure: Round -> float) = rounds |> List.map figure |> List.sort |> List.item (rounds.Length / 2)
            let show format (figure: Round -> float) =
                let values = rounds |> List.map figure
                sprintf "%s (%s to %s)" (sprintf format (median figure)) (sprintf format (List.min values)) (sprintf format (List.max values))
            printfn "bench: %d points (2 circles × 2 influxd), batches of %d lines, %d clients, after a 200k-point warm-up, proxy with %s" points batchLines clients recommendedVariables
            printfn "%d rounds of %d points, each into its own database: each figure's median over the rounds (lowest to highest)" rounds.Length points
            printfn "accepted points/s:          %s" (show "%.0f" _.Accepted)
            printfn "landed points/s:            %s" (show "%.0f" _.Landed)
            printfn "POST p50 / p99 ms:          %s / %s" (show "%.1f" _.P50) (show "%.1f" _.P99)
            printfn "proxy CPU-s per 1M points:  %s, of it kernel %s" (show "%.2f" (fun r -> r.User + r.Kernel)) (show "%.2f" _.Kernel)
            printfn "proxy peak RSS MB:          %.0f (over every round)" (peakRssMb proxy.Process.Id)
            let owner = all |> List.find (fun s -> http.GetStringAsync(s.Url + "/query?db=bench&q=SHOW+MEASUREMENTS").Result.Contains "\"bench5\"")
            for label, q, direct in
                [ "SELECT (one owner)", "SELECT last(value) FROM bench5 WHERE host = 'host1'", owner.Url
                  "SHOW MEASUREMENTS (fan-out)", "SHOW MEASUREMENTS", all.Head.Url ] do
                let proxyP50, proxyP99 = queryLatency url q 500
                let directP50, directP99 = queryLatency direct q 500
                printfn "%-27s proxy %.2f / %.2f ms, backend directly %.2f / %.2f ms (p50 / p99), p50 overhead %.2f ms"
                    (label + ":") proxyP50 proxyP99 directP50 directP99 (proxyP50 - directP50)
            let direct = writeRound (directly circles) directDatabase all None
            let ceiling (r: Round) = cpuCeiling 1_000_000.0 (r.ServerCpu + r.User + r.Kernel)
            printfn "influxd CPU-s / 1M points:  %s through the proxy (the four summed, until they stored every copy); %.2f written directly"
                (show "%.2f" _.ServerCpu) direct.ServerCpu
            printfn "influxd POSTs / 1M points:  %s through the proxy; %.0f written directly" (show "%.0f" _.ServerPosts) direct.ServerPosts
            printfn "written directly:           one round, each body posted to one server of each circle in turn by %d clients: landed %.0f points/s, POST p50 / p99 %.1f / %.1f ms"
                clients direct.Landed direct.P50 direct.P99
            printfn "%.0f-core ceiling points/s:    %s through the proxy (%.0f / (influxd + proxy CPU-s per 1M points)), landed %s of it; %.0f directly, landed %.0f%% of it"
                cores (show "%.0f" ceiling) cores (show "%.0f%%" (fun r -> 100.0 * r.Landed / ceiling r)) (ceiling direct) (100.0 * direct.Landed / ceiling direct)
            let warnings = warnings proxy
            if warnings.Length > 0 then printfn "proxy warnings (%d), first: %s" warnings.Length warnings.[0]
        finally
            stopProxy (TimeSpan.FromSeconds 30.0) proxy |> ignore

    let run () =
        withServers "bench" (fun dir startServer -> measure dir [ for c in 1..2 -> [ for b in 1..2 -> startServer $"influxdb-{c}-{b}" ] ])

// ---------------------------------------------------------------- bench-migrate

/// A rebalance on real influxd: 1,000,000 points written through a proxy in front of 2 circles × 2 influxd (and as
/// many into a second database), then the proxy restarted with the second circle grown to 3 (a fifth influxd last)
/// and `rebalance add` run with 4 workers: the copy's rate, CPU and memory; then again over the second database while
/// one client keeps writing to a third, for the live writes' latency before and during a copy; and whether the moved
/// measurements are bit-exact against the first circle.
module BenchMigrate =
    open System.Net.Http
    open System.Text.Json
    open System.Threading
    open System.Threading.Tasks

    let db = "bench_migrate"
    /// Copied second, while live writes go to `liveDb`.
    let liveCopyDb = "bench_migrate_live"
    /// A small copy first, so the JIT has compiled the migration's code.
    let warmupDb = "bench_migrate_warmup"
    let liveDb = "bench_live"
    let points = 1_000_000
    let measurements = 100
    let hosts = 10
    let batchLines = 5_000
    let clients = 4
    let liveLines = 500
    /// The proxy's default.
    let workers = 8
    let targetRate = 270_000.0
    let targetRssMb = 200.0
    let goRate = 54_000.0
    /// Measurements whose copies are compared point for point.
    let compared = 5

    /// m000..m099 × host=h0..h9, a float `f` and an integer `i` per point (every 7th i = 2^53 + 1, every 5th
    /// 1234567, the others the point's number, up to 1e6), each series' 1000 points spread over the last 3 days with
    /// nanoseconds of their own; bodies of 5000 lines.
    let makeBodies () =
        let series = measurements * hosts
        let span = 3L * 86_400L * 1_000_000_000L
        let spacing = span / int64 (points / series)
        let start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000L - span - 60_000_000_000L
        let invariant = Globalization.CultureInfo.InvariantCulture
        [| for b in 0 .. points / batchLines - 1 ->
            let sb = Text.StringBuilder(batchLines * 64)
            for j in 0 .. batchLines - 1 do
                let n = b * batchLines + j
                let time = start + int64 (n / series) * spacing + (int64 n * 7919L) % 999_983L
                let i = if n % 7 = 0 then "9007199254740993" elif n % 5 = 0 then "1234567" else string n
                let f = (float (n % 100_003) / 7.0).ToString("R", invariant)
                sb.Append('m').Append((n % series / hosts).ToString("000", invariant)).Append(",host=h").Append(n % hosts)
                  .Append(" f=").Append(f).Append(",i=").Append(i).Append("i ").Append(time).Append('\n') |> ignore
            Text.Encoding.UTF8.GetBytes(sb.ToString()) |]

    /// Phases of the live writes: each POST's latency is kept with the phase it started in.
    let warmingUp, beforeCopy, duringCopy, afterCopy = 0, 1, 2, 3

    type Live =
        { Phase: int ref
          Latencies: Collections.Concurrent.ConcurrentQueue<int * float>
          Failures: Collections.Concurrent.ConcurrentQueue<string>
          Stop: CancellationTokenSource
          Loop: Task }

        member l.Sorted(phase: int) = l.Latencies |> Seq.filter (fun (p, _) -> p = phase) |> Seq.map snd |> Seq.toArray |> Array.sort

    /// One keep-alive client posting bodies of `liveLines` lines to `liveDb`, back to back, until stopped.
    let startLive (url: string) =
        let phase = ref warmingUp
        let latencies = Collections.Concurrent.ConcurrentQueue<int * float>()
        let failures = Collections.Concurrent.ConcurrentQueue<string>()
        let stop = new CancellationTokenSource()
        let loop () : Task =
            task {
                use http = new HttpClient(Timeout = TimeSpan.FromMinutes 1.0)
                let start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000L
                let mutable n = 0L
                while not stop.IsCancellationRequested do
                    let sb = Text.StringBuilder(liveLines * 48)
                    for _ in 1..liveLines do
                        sb.Append("live").Append(n % 10L).Append(",host=l").Append(n % 7L).Append(" v=").Append(n).Append("i ").Append(start + n).Append('\n') |> ignore
                        n <- n + 1L
                    let started = Volatile.Read &phase.contents
                    let watch = Stopwatch.StartNew()
                    try
                        use! response = http.PostAsync($"{url}/write?db={liveDb}", new ByteArrayContent(Text.Encoding.UTF8.GetBytes(sb.ToString())))
                        let elapsed = watch.Elapsed.TotalMilliseconds
                        if int response.StatusCode = 204 then latencies.Enqueue((started, elapsed))
                        else
                            let! body = response.Content.ReadAsStringAsync()
                            failures.Enqueue $"{int response.StatusCode}: {body.Trim()}"
                    with e -> failures.Enqueue e.Message
            }
        { Phase = phase; Latencies = latencies; Failures = failures; Stop = stop; Loop = Task.Run loop }

    let stopLive (live: Live) =
        live.Stop.Cancel()
        live.Loop.Wait()

    /// Each circle's points in `db`.
    let circleCounts (circles: Influxd.Server list list) =
        circles |> List.map (List.sumBy (pointCount db "i" @"^m\d+$"))

    let private http = new HttpClient(Timeout = TimeSpan.FromMinutes 5.0)

    /// Every point of a measurement as the server answers `SELECT * ... GROUP BY *` with times in ns: the series' raw
    /// JSON, and how many points it holds.
    let dump (server: Influxd.Server) (measurement: string) =
        let q = Uri.EscapeDataString $"SELECT * FROM \"{measurement}\" GROUP BY *"
        let root = JsonDocument.Parse(http.GetStringAsync($"{server.Url}/query?db={db}&epoch=ns&q={q}").Result).RootElement
        match (root.GetProperty("results")[0]).TryGetProperty "series" with
        | true, series -> series.GetRawText(), series.EnumerateArray() |> Seq.sumBy (fun s -> s.GetProperty("values").GetArrayLength())
        | _ -> "", 0

    let holds (server: Influxd.Server) (measurement: string) =
        http.GetStringAsync($"{server.Url}/query?db={db}&q=SHOW+MEASUREMENTS").Result.Contains $"[\"{measurement}\"]"

    /// The proxy's last migration job.
    let lastJob (url: string) =
        let jobs = JsonDocument.Parse(http.GetStringAsync(url + "/migrate/jobs").Result).RootElement
        if jobs.GetArrayLength() = 0 then None else Some jobs[jobs.GetArrayLength() - 1]

    let state (job: JsonElement) = job.GetProperty("state").GetString()

    let number (job: JsonElement) (name: string) =
        match job.TryGetProperty name with
        | true, v when v.ValueKind = JsonValueKind.Number -> v.GetInt64()
        | _ -> 0L

    /// The steps of a job that did not succeed, as the proxy shows them.
    let unfinishedSteps (job: JsonElement) =
        match job.TryGetProperty "steps" with
        | true, steps ->
            [ for s in steps.EnumerateArray() do
                  match s.TryGetProperty "status" with
                  | true, status when status.GetString() <> "done" -> s.GetRawText()
                  | _ -> () ]
        | _ -> []

    /// Loads the points through a proxy in front of `before`, stops it, and runs the rebalance with `added` as the
    /// last backend of the second circle; prints the figures. False when the job failed or a copy is not exact.
    let measure (dir: string) (before: Influxd.Server list list) (added: Influxd.Server) =
        let grown = [ before[0]; before[1] @ [ added ] ]
        // The new backend gets bench_migrate from the migration itself; the live writes may land on any of the five.
        for database in [ db; liveCopyDb; warmupDb ] do createDatabase database (List.concat before)
        createDatabase liveDb (List.concat grown)

        let bodies = makeBodies ()
        let loader = startProxy dir before
        let loadSeconds =
            try
                let watch = Stopwatch.StartNew()
                postBodies clients $"{loader.Url}/write?db={db}" bodies |> ignore
                let seconds = watch.Elapsed.TotalSeconds
                postBodies clients $"{loader.Url}/write?db={liveCopyDb}" bodies |> ignore
                postBodies clients $"{loader.Url}/write?db={warmupDb}" (Array.truncate 2 bodies) |> ignore
                if not (stopProxy (TimeSpan.FromMinutes 5.0) loader) then failwith "the loading proxy did not exit within 5 minutes of SIGTERM"
                seconds
            finally
                stopProxy (TimeSpan.FromSeconds 5.0) loader |> ignore
        let expected = List.replicate before.Length (int64 points)
        if not (Influxd.waitUntil (TimeSpan.FromMinutes 2.0) (fun () -> circleCounts before = expected || (Thread.Sleep 1000; false))) then
            failwithf "not every point landed: the circles hold %A of %d" (circleCounts before) points
        printfn "bench-migrate: %d points into %s (%d measurements × %d hosts, f float and i integer) through a proxy in front of 2 circles × 2 influxd, %d-line bodies, %d clients; proxy with %s"
            points db measurements hosts batchLines clients recommendedVariables
        printfn "loaded in %.1f s (%.0f points/s accepted), stopped with SIGTERM; each circle holds %s points" loadSeconds (float points / loadSeconds)
            (circleCounts before |> List.map string |> String.concat " and ")

        let proxy = startProxy dir grown
        let mutable live = None
        try
            /// Runs `rebalance add` of circle 2 over one database and waits for the job to end; the job and its seconds.
            let rebalance (database: string) =
                use reply = http.PostAsync($"{proxy.Url}/rebalance?circle_id=1&operation=add&worker={workers}&db={database}", null).Result
                let replyBody = reply.Content.ReadAsStringAsync().Result
                if int reply.StatusCode <> 202 then failwithf "POST /rebalance answered %d: %s" (int reply.StatusCode) replyBody
                let jobId = reply.Headers.GetValues("X-Influx-Proxy-Job") |> Seq.head
                let watch = Stopwatch.StartNew()
                let ended (job: JsonElement option) = job |> Option.exists (fun j -> List.contains (state j) [ "done"; "failed"; "cancelled" ])
                let mutable job = lastJob proxy.Url
                let mutable reported = 0
                while not (ended job) && watch.Elapsed < TimeSpan.FromMinutes 30.0 do
                    Thread.Sleep 50
                    job <- lastJob proxy.Url
                    if int watch.Elapsed.TotalSeconds / 15 > reported then
                        reported <- int watch.Elapsed.TotalSeconds / 15
                        job |> Option.iter (fun j -> printfn "  … %3.0f s: %s, %d of %d points copied" watch.Elapsed.TotalSeconds (state j) (number j "points_copied") (number j "points_total"))
                (match job with Some j -> j | None -> failwith "/migrate/jobs lists no job"), watch.Elapsed.TotalSeconds, jobId
            // The JIT compiles the migration's code on its first job (tiered compilation is off): a small one first.
            rebalance warmupDb |> ignore
            let serverCpu () = [ for s in List.concat grown -> s, cpuSeconds s.Process.Id ]
            let serversBefore = serverCpu ()
            let userBefore, kernelBefore = cpuTimes proxy.Process.Id
            let job, seconds, jobId = rebalance db
            let userAfter, kernelAfter = cpuTimes proxy.Process.Id
            let serversAfter = serverCpu ()
            // Then the same again on the other database, with live writes before and during it.
            let writing = startLive proxy.Url
            live <- Some writing
            Thread.Sleep 3_000
            Volatile.Write(&writing.Phase.contents, beforeCopy)
            Thread.Sleep 5_000
            Volatile.Write(&writing.Phase.contents, duringCopy)
            let liveJob, liveSeconds, _ = rebalance liveCopyDb
            Volatile.Write(&writing.Phase.contents, afterCopy)
            stopLive writing
            let finalState = state job
            let copied = number job "points_copied"
            let millions = float copied / 1_000_000.0
            let rate = float copied / seconds
            let rss = peakRssMb proxy.Process.Id
            let liveBefore, liveDuring = writing.Sorted beforeCopy, writing.Sorted duringCopy
            let p (q: float) (sorted: float[]) = if sorted.Length = 0 then nan else percentile q sorted
            printfn "rebalance add of circle 2 (2 → 3 influxd) over %s, %d workers, after a warm-up job on a small database" db workers
            printfn "job state:                           %s" finalState
            printfn "points copied:                       %d (points_total %d)" copied (number job "points_total")
            let logged (text: string) =
                let line = File.ReadAllLines(Path.Combine(dir, "log", "rebalance.log")) |> Array.find (fun l -> l.Contains text)
                DateTimeOffset.Parse(line.Split(' ')[0], Globalization.CultureInfo.InvariantCulture)
            printfn "seconds from 202 to done:            %.2f (of which planning: inventory and counts %.2f)" seconds
                (logged $"plan of job {jobId}" - logged $"start: job {jobId}").TotalSeconds
            printfn "points/s copied:                     %.0f (target ≥ %.0f; the Go original ~%.0f)" rate targetRate goRate
            printfn "proxy CPU-s per 1M points copied:    %.2f (user %.2f, kernel %.2f)"
                ((userAfter - userBefore + kernelAfter - kernelBefore) / millions) ((userAfter - userBefore) / millions) ((kernelAfter - kernelBefore) / millions)
            let serverSeconds = List.map2 (fun (s: Influxd.Server, b) (_, a) -> s, a - b) serversBefore serversAfter
            let destination = serverSeconds |> List.sumBy (fun (s, c) -> if s = added then c else 0.0)
            let sources = (serverSeconds |> List.sumBy snd) - destination
            let proxySeconds = userAfter - userBefore + kernelAfter - kernelBefore
            printfn "influxd CPU-s per 1M points copied:  %.2f reading (the other four), %.2f writing (%s)" (sources / millions) (destination / millions) added.Name
            printfn "2-core ceiling from CPU alone:       %.0f points/s (2 / CPU-s per point of the four influxd, the new one and the proxy); cores busy %.0f%% of the copy"
                (cpuCeiling (float copied) (sources + destination + proxySeconds)) (coresBusyPercent (sources + destination + proxySeconds) seconds)
            printfn "proxy peak RSS MB:                   %.0f (target ≤ %.0f; VmHWM over both copies and the live writes)" rss targetRssMb
            printfn "the same over %s while 1 client writes %d-line bodies to %s: %s, %.0f points/s"
                liveCopyDb liveLines liveDb (state liveJob) (float (number liveJob "points_copied") / liveSeconds)
            printfn "live write p50 ms before the copy:   %.1f (%d POSTs of %d lines in 5 s)" (p 0.50 liveBefore) liveBefore.Length liveLines
            printfn "live write p99 ms before the copy:   %.1f" (p 0.99 liveBefore)
            printfn "live write p50 ms during the copy:   %.1f (%d POSTs)" (p 0.50 liveDuring) liveDuring.Length
            printfn "live write p99 ms during the copy:   %.1f" (p 0.99 liveDuring)
            printfn "live writes during / before:         p50 ×%.1f, p99 ×%.1f (target: not doubled)"
                (p 0.50 liveDuring / p 0.50 liveBefore) (p 0.99 liveDuring / p 0.99 liveBefore)
            if not writing.Failures.IsEmpty then
                printfn "live writes failed:                  %d, first: %s" writing.Failures.Count (Seq.head writing.Failures)
            let warned = warnings proxy
            if warned.Length > 0 then
                printfn "proxy warnings (%d), first: %s" warned.Length warned[0]
            if finalState <> "done" || state liveJob <> "done" then
                let failed = if finalState <> "done" then job else liveJob
                printfn "the job did not succeed:\n  error: %s" (match failed.TryGetProperty "error" with | true, e -> e.GetString() | _ -> "(none)")
                for step in unfinishedSteps failed |> List.truncate 10 do printfn "  %s" step
                let rebalanceLog = Path.Combine(dir, "log", "rebalance.log")
                if File.Exists rebalanceLog then
                    printfn "last lines of log/rebalance.log:"
                    for l in File.ReadAllLines rebalanceLog |> Array.rev |> Array.truncate 20 |> Array.rev do printfn "  %s" l
                false
            else
                // The moved measurements: copy steps of bench_migrate toward the new backend, a few spread over them.
                let moved =
                    [ for s in job.GetProperty("steps").EnumerateArray() do
                          if s.GetProperty("kind").GetString() = "copy" && s.GetProperty("db").GetString() = db
                             && (s.GetProperty("destinations").EnumerateArray() |> Seq.exists (fun d -> d.GetString() = added.Url)) then
                              s.GetProperty("measurement").GetString() ]
                    |> List.distinct |> List.sort
                let chosen = [ for k in 0 .. min compared moved.Length - 1 -> moved[k * moved.Length / min compared moved.Length] ]
                let exact =
                    chosen
                    |> List.map (fun m ->
                        let owner = before[0] |> List.find (fun s -> holds s m)
                        let expectedText, expectedPoints = dump owner m
                        let actualText, actualPoints = dump added m
                        let equal = expectedPoints = points / measurements && expectedText = actualText
                        printfn "  %s: %d points on %s, %d on %s: %s" m expectedPoints owner.Name actualPoints added.Name (if equal then "equal" else "DIFFERENT")
                        equal)
                    |> List.forall id
                let exact = exact && not chosen.IsEmpty
                printfn "measurements moved to %s:   %d, compared: %d" added.Name moved.Length chosen.Length
                printfn "exact: %s" (if exact then "yes" else "no")
                exact
        finally
            live |> Option.iter (fun l -> if not l.Stop.IsCancellationRequested then (try stopLive l with _ -> ()))
            stopProxy (TimeSpan.FromSeconds 30.0) proxy |> ignore

    let run () =
        let succeeded =
            withServers "bench-migrate" (fun dir startServer ->
                try
                    let before = [ for c in 1..2 -> [ for b in 1..2 -> startServer $"influxdb-{c}-{b}" ] ]
                    measure dir before (startServer "influxdb-2-3")
                with e ->
                    let e = match e with :? AggregateException as a -> a.Flatten().InnerExceptions[0] | e -> e
                    eprintfn "bench-migrate: %s" e.Message
                    false)
        if not succeeded then fail "the rebalance failed or a copy is not exact"

let bench () =
    ensurePackages ()
    build ()
    Bench.run ()

let benchMigrate () =
    ensurePackages ()
    build ()
    BenchMigrate.run ()

/// Runs bench/Scale.fsx in a dotnet fsi of its own, so that only this target restores the plotting package it uses.
let benchScale () =
    ensurePackages ()
    build ()
    if exec "dotnet" "fsi bench/Scale.fsx" [] <> 0 then fail "bench-scale failed"

match fsi.CommandLineArgs |> Array.tail |> List.ofArray with
| [ "build" ] -> build ()
| [ "test" ] -> test ()
| [ "run" ] -> run ()
| [ "bench" ] -> bench ()
| [ "bench-migrate" ] -> benchMigrate ()
| [ "bench-scale" ] -> benchScale ()
| _ -> fail "usage: dotnet fsi build.fsx build|test|run|bench|bench-migrate|bench-scale"
