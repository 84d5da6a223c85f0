// InfluxProxy build script. Usage: dotnet fsi build.fsx <target>
//   build   compile the solution (Release)
//   test    install what is missing, build, run every test; ends with "N passed, N failed"
//   run     install what is missing, start 4 real influxd on 8086-8089 and the proxy on :7076 with proxy.json
//   bench   install what is missing, benchmark the write path against 4 real influxd
#load "tests/Integration.Tests/Influxd.fs"

open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
open InfluxProxy.Testing

let root = __SOURCE_DIRECTORY__
let configuration = "Release"

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

let debianPackages = [ "influxdb"; "influxdb-client"; "python3-influxdb" ]

let missingPackages () =
    [ if (capture "influxd" "version").IsNone then "influxdb"
      if (capture "influx" "-version").IsNone then "influxdb-client"
      // Debian's python client imports only under the system python, not the first python3 on PATH.
      if (capture "/usr/bin/python3" "-c \"import influxdb\"").IsNone then "python3-influxdb" ]

/// Installs Debian's InfluxDB 1.x server, shell and python client when missing, without starting the packaged service.
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

let hostDll = Path.Combine(root, "src", "Host.CSharp", "bin", configuration, "net10.0", "influx-proxy.dll")

/// The proxy as we recommend running it (README, "Running the proxy yourself"): the framework's precompiled
/// (ReadyToRun) code is not used, so everything on the hot path is JIT-compiled once, fully optimised, and that code
/// is mapped once rather than twice (W^X). Both can only be set in the environment.
let proxyStartInfo (workingDirectory: string) =
    let info = ProcessStartInfo("dotnet", $"\"{hostDll}\" -config proxy.json", WorkingDirectory = workingDirectory)
    info.Environment["DOTNET_ReadyToRun"] <- "0"
    info.Environment["DOTNET_EnableWriteXorExecute"] <- "0"
    info

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
    open System.Threading.Tasks

    let points = 1_000_000
    let batchLines = 5_000
    let clients = 4

    let bodies =
        let start = 1_600_000_000_000_000_000L
        [| for b in 0 .. points / batchLines - 1 ->
            let sb = Text.StringBuilder(batchLines * 80)
            for i in 0 .. batchLines - 1 do
                let n = b * batchLines + i
                let series = n % 1000
                sb.AppendFormat("bench{0},host=host{1},region=eu-west value={2}.5,count={3}i {4}\n",
                                series / 10, series % 10, n % 977, n, start + int64 (n / 1000) * 1_000_000_000L) |> ignore
            Text.Encoding.UTF8.GetBytes(sb.ToString()) |] // 1000 series, 1000 distinct timestamps each

    /// User and kernel CPU time of a process in seconds, from /proc.
    let cpuTimes (pid: int) =
        let afterName = File.ReadAllText($"/proc/{pid}/stat").Split(')').[1]
        let fields = afterName.Split(' ', StringSplitOptions.RemoveEmptyEntries)
        float (int64 fields.[11]) / 100.0, float (int64 fields.[12]) / 100.0

    let peakRssMb (pid: int) =
        File.ReadAllLines($"/proc/{pid}/status")
        |> Array.find (fun l -> l.StartsWith "VmHWM:")
        |> fun l -> float (l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0

    let percentile (p: float) (sorted: float[]) = sorted[min (sorted.Length - 1) (int (p * float sorted.Length))]

    /// Posts every body with `clients` concurrent workers; returns each POST's latency in ms.
    let post (url: string) (bodies: byte[][]) =
        use http = new HttpClient(Timeout = TimeSpan.FromMinutes 2.0)
        let next = ref -1
        let latencies = Collections.Concurrent.ConcurrentBag<float>()
        let worker () =
            task {
                let mutable i = Threading.Interlocked.Increment next
                while i < bodies.Length do
                    let watch = Stopwatch.StartNew()
                    use! response = http.PostAsync(url, new ByteArrayContent(bodies[i]))
                    if int response.StatusCode <> 204 then
                        let! body = response.Content.ReadAsStringAsync()
                        failwithf "POST answered %d: %s" (int response.StatusCode) body
                    latencies.Add watch.Elapsed.TotalMilliseconds
                    i <- Threading.Interlocked.Increment next
            }
        Task.WaitAll [| for _ in 1..clients -> worker () :> Task |]
        latencies.ToArray() |> Array.sort

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

    let landedCount (db: string) (servers: Influxd.Server list) =
        use http = new HttpClient()
        servers
        |> List.sumBy (fun s ->
            let json = http.GetStringAsync(s.Url + $"/query?db={db}&q=" + Uri.EscapeDataString "SELECT count(value) FROM /bench.*/").Result
            Regex.Matches(json, @"\[""1970-01-01T00:00:00Z"",(\d+)\]") |> Seq.sumBy (fun m -> int64 m.Groups[1].Value))

    /// Points the servers were asked to write since they started (influxd's `write.pointReq` in /debug/vars).
    let pointsRequested (servers: Influxd.Server list) =
        use http = new HttpClient()
        servers
        |> List.sumBy (fun s ->
            let vars = http.GetStringAsync(s.Url + "/debug/vars").Result
            int64 (Regex.Match(vars, @"""write"": \{""name"":""write"",""tags"":null,""values"":\{""pointReq"":(\d+)").Groups[1].Value))

    /// The measured rounds, each into a database of its own; queries are timed against the first.
    let roundDatabases = [ "bench"; "bench2"; "bench3" ]

    type Round = { Accepted: float; Landed: float; P50: float; P99: float; User: float; Kernel: float }

    /// Writes the workload into `db` and waits until every copy is queryable: rates in points/s, latencies in ms,
    /// the proxy's CPU in seconds per million points.
    let writeRound (url: string) (db: string) (servers: Influxd.Server list) (proxyId: int) =
        let requestedBefore = pointsRequested servers
        let userBefore, systemBefore = cpuTimes proxyId
        let watch = Stopwatch.StartNew()
        let latencies = post $"{url}/write?db={db}" bodies
        let accepted = watch.Elapsed.TotalSeconds
        let expected = int64 points * 2L
        // Counting every point is a heavy query: until the servers have been asked to store every copy (their
        // write counters, cheap to read), only those are polled, so the count does not slow the influxd it waits for.
        Influxd.waitUntil (TimeSpan.FromMinutes 5.0) (fun () -> pointsRequested servers - requestedBefore >= expected) |> ignore
        if not (Influxd.waitUntil (TimeSpan.FromMinutes 5.0) (fun () -> landedCount db servers >= expected)) then
            fail (sprintf "only %d of %d point copies landed in %s" (landedCount db servers) expected db)
        let landed = watch.Elapsed.TotalSeconds
        let userAfter, systemAfter = cpuTimes proxyId
        let perMillion seconds = seconds / (float points / 1_000_000.0)
        { Accepted = float points / accepted; Landed = float points / landed
          P50 = percentile 0.50 latencies; P99 = percentile 0.99 latencies
          User = perMillion (userAfter - userBefore); Kernel = perMillion (systemAfter - systemBefore) }

    /// Starts the proxy in front of the servers, writes the workload through it and prints the figures.
    let measure (dir: string) (circles: Influxd.Server list list) =
        let all = List.concat circles
        let port = Influxd.freePort ()
        let backend (s: Influxd.Server) = sprintf "{\"name\":\"%s\",\"url\":\"%s\"}" s.Name s.Url
        let circle i (servers: Influxd.Server list) =
            sprintf "{\"name\":\"circle-%d\",\"backends\":[%s]}" (i + 1) (servers |> List.map backend |> String.concat ",")
        File.WriteAllText(Path.Combine(dir, "proxy.json"),
            sprintf "{\"circles\":[%s],\"listen_addr\":\"127.0.0.1:%d\",\"data_dir\":\"%s/data\"}" (circles |> List.mapi circle |> String.concat ",") port dir)
        let info = proxyStartInfo dir
        info.RedirectStandardOutput <- true
        let proxy = Process.Start info
        let log = Text.StringBuilder()
        proxy.OutputDataReceived.Add(fun e -> if not (isNull e.Data) then lock log (fun () -> log.AppendLine e.Data |> ignore))
        proxy.BeginOutputReadLine()
        try
            let url = $"http://127.0.0.1:{port}"
            if not (Influxd.waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> Influxd.ping url)) then fail "proxy did not start"
            use http = new HttpClient()
            for s in all do
                for db in "warmup" :: roundDatabases do
                    http.PostAsync(s.Url + "/query?q=CREATE+DATABASE+" + db, null).Result.EnsureSuccessStatusCode() |> ignore
            // The JIT compiles the hot path on first use; a long-running proxy pays that once, so measure after it,
            // and after its points are stored, so their delivery is not measured either.
            let warmup = bodies |> Array.take 40
            post $"{url}/write?db=warmup" warmup |> ignore
            if not (Influxd.waitUntil (TimeSpan.FromMinutes 5.0) (fun () -> landedCount "warmup" all >= int64 (warmup.Length * batchLines * 2))) then
                fail "the warm-up did not land"
            let rounds = [ for db in roundDatabases -> writeRound url db all proxy.Id ]
            let median (figure: Round -> float) = rounds |> List.map figure |> List.sort |> List.item (rounds.Length / 2)
            let show format (figure: Round -> float) =
                let values = rounds |> List.map figure
                sprintf "%s (%s to %s)" (sprintf format (median figure)) (sprintf format (List.min values)) (sprintf format (List.max values))
            printfn "bench: %d points (2 circles × 2 influxd), batches of %d lines, %d clients, after a 200k-point warm-up, proxy with DOTNET_ReadyToRun=0 DOTNET_EnableWriteXorExecute=0" points batchLines clients
            printfn "%d rounds of %d points, each into its own database: each figure's median over the rounds (lowest to highest)" rounds.Length points
            printfn "accepted points/s:          %s" (show "%.0f" _.Accepted)
            printfn "landed points/s:            %s" (show "%.0f" _.Landed)
            printfn "POST p50 / p99 ms:          %s / %s" (show "%.1f" _.P50) (show "%.1f" _.P99)
            printfn "proxy CPU-s per 1M points:  %s, of it kernel %s" (show "%.2f" (fun r -> r.User + r.Kernel)) (show "%.2f" _.Kernel)
            printfn "proxy peak RSS MB:          %.0f (over every round)" (peakRssMb proxy.Id)
            let owner = all |> List.find (fun s -> http.GetStringAsync(s.Url + "/query?db=bench&q=SHOW+MEASUREMENTS").Result.Contains "\"bench5\"")
            for label, q, direct in
                [ "SELECT (one owner)", "SELECT last(value) FROM bench5 WHERE host = 'host1'", owner.Url
                  "SHOW MEASUREMENTS (fan-out)", "SHOW MEASUREMENTS", all.Head.Url ] do
                let proxyP50, proxyP99 = queryLatency url q 500
                let directP50, directP99 = queryLatency direct q 500
                printfn "%-27s proxy %.2f / %.2f ms, backend directly %.2f / %.2f ms (p50 / p99), p50 overhead %.2f ms"
                    (label + ":") proxyP50 proxyP99 directP50 directP99 (proxyP50 - directP50)
            let warnings = lock log (fun () -> log.ToString().Split('\n') |> Array.filter (fun l -> l.Contains "warn" || l.Contains "fail"))
            if warnings.Length > 0 then printfn "proxy warnings (%d), first: %s" warnings.Length warnings.[0]
        finally
            if not proxy.HasExited then
                Influxd.Signals.send Influxd.Signals.term proxy
                if not (proxy.WaitForExit 30_000) then proxy.Kill true

    let run () =
        let dir = Path.Combine(Path.GetTempPath(), $"influx-proxy-bench-{Guid.NewGuid():N}")
        let started = Collections.Generic.List<Influxd.Server>()
        let startServer name =
            let server = Influxd.startOnFreePort name (Path.Combine(dir, name))
            started.Add server
            server
        try
            measure dir [ for c in 1..2 -> [ for b in 1..2 -> startServer $"influxdb-{c}-{b}" ] ]
        finally
            for s in started do Influxd.dispose s
            try Directory.Delete(dir, true) with _ -> ()

let bench () =
    ensurePackages ()
    build ()
    Bench.run ()

match fsi.CommandLineArgs |> Array.tail |> List.ofArray with
| [ "build" ] -> build ()
| [ "test" ] -> test ()
| [ "run" ] -> run ()
| [ "bench" ] -> bench ()
| _ -> fail "usage: dotnet fsi build.fsx build|test|run|bench"
