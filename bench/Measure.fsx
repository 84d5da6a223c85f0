// How the benchmarks start and measure a proxy in front of real influxd: build.fsx's bench and bench-migrate, and
// bench/Scale.fsx. Plain BCL only, like the Influxd module it loads.
#load "../tests/Integration.Tests/Influxd.fs"

open System
open System.Diagnostics
open System.IO
open System.Net.Http
open System.Text.Json
open System.Text.RegularExpressions
open InfluxProxy.Testing

let root = Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, ".."))
let configuration = "Release"

/// The variables README.md recommends for a long-running proxy ("Running the proxy yourself").
let recommendedEnvironment = [ "DOTNET_ReadyToRun", "0"; "DOTNET_EnableWriteXorExecute", "0"; "DOTNET_GCgen0size", "1000000" ]

/// The variables as a shell would set them, for the benchmarks' headers.
let recommendedVariables = recommendedEnvironment |> List.map (fun (name, value) -> $"{name}={value}") |> String.concat " "

let hostDll = Path.Combine(root, "src", "Host.CSharp", "bin", configuration, "net10.0", "influx-proxy.dll")

/// The proxy as we recommend running it (README, "Running the proxy yourself"): the framework's precompiled
/// (ReadyToRun) code is not used, so everything on the hot path is JIT-compiled once, fully optimised, that code is
/// mapped once rather than twice (W^X), and the young generation is held to 16 MB. All three can only be set in the
/// environment.
let proxyStartInfo (workingDirectory: string) =
    let info = ProcessStartInfo("dotnet", $"\"{hostDll}\" -config proxy.json", WorkingDirectory = workingDirectory)
    for name, value in recommendedEnvironment do info.Environment[name] <- value
    info

// ---------------------------------------------------------------- CPU and memory

/// User and kernel CPU time of a process in seconds, from /proc.
let cpuTimes (pid: int) =
    let afterName = File.ReadAllText($"/proc/{pid}/stat").Split(')').[1]
    let fields = afterName.Split(' ', StringSplitOptions.RemoveEmptyEntries)
    float (int64 fields.[11]) / 100.0, float (int64 fields.[12]) / 100.0

/// User plus kernel CPU time of a process in seconds.
let cpuSeconds (pid: int) = cpuTimes pid ||> (+)

/// The cores of every machine the project runs on: the benchmarks' ceilings assume them.
let cores = 2.0

/// The rate the CPU alone allows: points/s if `cores` cores did nothing but spend `cpuSeconds` on `points`.
let cpuCeiling (points: float) (cpuSeconds: float) = cores * points / cpuSeconds

/// How much of the cores `cpuSeconds` kept busy over `seconds`, in percent.
let coresBusyPercent (cpuSeconds: float) (seconds: float) = 100.0 * cpuSeconds / (cores * seconds)

/// A memory figure of /proc/<pid>/status in MB.
let private statusMb (field: string) (pid: int) =
    File.ReadAllLines($"/proc/{pid}/status")
    |> Array.find (fun l -> l.StartsWith(field + ":"))
    |> fun l -> float (l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0

/// The process's peak resident set (VmHWM) in MB, over its whole life.
let peakRssMb (pid: int) = statusMb "VmHWM" pid

/// The process's resident set now (VmRSS) in MB.
let rssMb (pid: int) = statusMb "VmRSS" pid

// ---------------------------------------------------------------- the servers

/// What an influxd counted since it started (its /debug/vars): points it was asked to write (`write.pointReq`),
/// points its /write stored (`httpd.pointsWrittenOK`), and /write requests (`httpd.writeReq`).
type ServerCounters =
    { PointsRequested: int64
      PointsWritten: int64
      WriteRequests: int64 }

    static member (+)(a: ServerCounters, b: ServerCounters) =
        { PointsRequested = a.PointsRequested + b.PointsRequested
          PointsWritten = a.PointsWritten + b.PointsWritten
          WriteRequests = a.WriteRequests + b.WriteRequests }

    static member (-)(a: ServerCounters, b: ServerCounters) =
        { PointsRequested = a.PointsRequested - b.PointsRequested
          PointsWritten = a.PointsWritten - b.PointsWritten
          WriteRequests = a.WriteRequests - b.WriteRequests }

let private http = new HttpClient(Timeout = TimeSpan.FromMinutes 2.0)

let serverCounters (server: Influxd.Server) =
    use vars = JsonDocument.Parse(http.GetStringAsync(server.Url + "/debug/vars").Result)
    /// The values of the statistic named `name` (influxd keys each by name and tags, e.g. "httpd:127.0.0.1:8086").
    let values (name: string) =
        vars.RootElement.EnumerateObject()
        |> Seq.map _.Value
        |> Seq.find (fun v ->
            v.ValueKind = JsonValueKind.Object
            && (match v.TryGetProperty "name" with
                | true, n -> n.ValueKind = JsonValueKind.String && n.GetString() = name
                | _ -> false))
        |> _.GetProperty("values")
    let write, httpd = values "write", values "httpd"
    { PointsRequested = write.GetProperty("pointReq").GetInt64()
      PointsWritten = httpd.GetProperty("pointsWrittenOK").GetInt64()
      WriteRequests = httpd.GetProperty("writeReq").GetInt64() }

/// The counters of the servers added up.
let totalCounters (servers: Influxd.Server list) = servers |> List.map serverCounters |> List.reduce (+)

/// The CPU seconds of the servers added up.
let serversCpuSeconds (servers: Influxd.Server list) = servers |> List.sumBy (fun s -> cpuSeconds s.Process.Id)

let createDatabase (db: string) (servers: Influxd.Server list) =
    for s in servers do
        http.PostAsync(s.Url + "/query?q=CREATE+DATABASE+" + db, null).Result.EnsureSuccessStatusCode() |> ignore

/// The points one server holds in `db`: `SELECT count(field) FROM /pattern/` summed over its measurements.
let pointCount (db: string) (field: string) (pattern: string) (server: Influxd.Server) =
    let json = http.GetStringAsync(server.Url + $"/query?db={db}&q=" + Uri.EscapeDataString $"SELECT count({field}) FROM /{pattern}/").Result
    Regex.Matches(json, @"\[""1970-01-01T00:00:00Z"",(\d+)\]") |> Seq.sumBy (fun m -> int64 m.Groups[1].Value)

/// Runs `body` with a folder under /tmp and a way to start influxd servers in it (on free ports); stops the servers
/// and removes the folder afterwards, whatever happens.
let withServers (label: string) (body: string -> (string -> Influxd.Server) -> 'a) : 'a =
    let dir = Path.Combine(Path.GetTempPath(), $"influx-proxy-{label}-{Guid.NewGuid():N}")
    let started = Collections.Generic.List<Influxd.Server>()
    let startServer name =
        let server = Influxd.startOnFreePort name (Path.Combine(dir, name))
        started.Add server
        server
    try
        body dir startServer
    finally
        for s in started do Influxd.dispose s
        try Directory.Delete(dir, true) with _ -> ()

// ---------------------------------------------------------------- the clients

/// Body `index` of a workload of `lines`-line bodies over `measurements` measurements (bench0, bench1, ...) ×
/// `hosts` hosts: point n belongs to series n mod (measurements × hosts), and each series' points are one second apart.
let workloadBody (measurements: int) (hosts: int) (lines: int) (index: int) =
    let start = 1_600_000_000_000_000_000L
    let series = measurements * hosts
    let sb = Text.StringBuilder(lines * 80)
    for i in 0 .. lines - 1 do
        let n = index * lines + i
        sb.AppendFormat("bench{0},host=host{1},region=eu-west value={2}.5,count={3}i {4}\n",
                        n % series / hosts, n % hosts, n % 977, n, start + int64 (n / series) * 1_000_000_000L) |> ignore
    Text.Encoding.UTF8.GetBytes(sb.ToString())

let percentile (p: float) (sorted: float[]) = sorted[min (sorted.Length - 1) (int (p * float sorted.Length))]

/// Posts every (url, body) with `clients` concurrent keep-alive workers; returns each POST's latency in ms, sorted.
let postRequests (clients: int) (requests: (string * byte[])[]) =
    use http = new HttpClient(Timeout = TimeSpan.FromMinutes 2.0)
    let next = ref -1
    let latencies = Collections.Concurrent.ConcurrentBag<float>()
    let worker () =
        task {
            let mutable i = Threading.Interlocked.Increment next
            while i < requests.Length do
                let url, body = requests[i]
                let watch = Stopwatch.StartNew()
                use! response = http.PostAsync(url, new ByteArrayContent(body))
                if int response.StatusCode <> 204 then
                    let! answer = response.Content.ReadAsStringAsync()
                    failwithf "POST answered %d: %s" (int response.StatusCode) answer
                latencies.Add watch.Elapsed.TotalMilliseconds
                i <- Threading.Interlocked.Increment next
        }
    Threading.Tasks.Task.WaitAll [| for _ in 1..clients -> worker () :> Threading.Tasks.Task |]
    latencies.ToArray() |> Array.sort

/// Posts every body to one url with `clients` concurrent keep-alive workers; returns each POST's latency in ms, sorted.
let postBodies (clients: int) (url: string) (bodies: byte[][]) = postRequests clients (bodies |> Array.map (fun b -> url, b))

// ---------------------------------------------------------------- the proxy

/// The proxy host running in a folder of its own, what it prints kept.
type ProxyRun =
    { Process: Process
      Url: string
      Log: Text.StringBuilder }
    member p.Lines = lock p.Log (fun () -> p.Log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))

/// Writes `dir`/proxy.json for the circles (circle-1, circle-2, ..., each backend named as its server) listening on a
/// free port with its data in `dir`/data, starts the proxy there (`proxyStartInfo`) and waits for /ping.
let startProxy (dir: string) (circles: Influxd.Server list list) =
    Directory.CreateDirectory dir |> ignore
    let port = Influxd.freePort ()
    let backend (s: Influxd.Server) = sprintf "{\"name\":\"%s\",\"url\":\"%s\"}" s.Name s.Url
    let circle i (servers: Influxd.Server list) =
        sprintf "{\"name\":\"circle-%d\",\"backends\":[%s]}" (i + 1) (servers |> List.map backend |> String.concat ",")
    File.WriteAllText(Path.Combine(dir, "proxy.json"),
        sprintf "{\"circles\":[%s],\"listen_addr\":\"127.0.0.1:%d\",\"data_dir\":\"%s/data\"}" (circles |> List.mapi circle |> String.concat ",") port dir)
    let info = proxyStartInfo dir
    info.RedirectStandardOutput <- true
    let proxy = { Process = Process.Start info; Url = $"http://127.0.0.1:{port}"; Log = Text.StringBuilder() }
    proxy.Process.OutputDataReceived.Add(fun e -> if not (isNull e.Data) then lock proxy.Log (fun () -> proxy.Log.AppendLine e.Data |> ignore))
    proxy.Process.BeginOutputReadLine()
    if not (Influxd.waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> proxy.Process.HasExited || Influxd.ping proxy.Url)) || proxy.Process.HasExited then
        if not proxy.Process.HasExited then proxy.Process.Kill true
        failwithf "the proxy did not start:\n%s" (String.concat "\n" proxy.Lines)
    proxy

/// Stops the proxy with SIGTERM and waits up to `timeout` for it to exit; killed when it does not (false).
let stopProxy (timeout: TimeSpan) (proxy: ProxyRun) =
    if proxy.Process.HasExited then true
    else
        Influxd.Signals.send Influxd.Signals.term proxy.Process
        if proxy.Process.WaitForExit timeout then true
        else
            proxy.Process.Kill true
            proxy.Process.WaitForExit()
            false

/// The lines of the proxy's log that warn or tell of a failure.
let warnings (proxy: ProxyRun) = proxy.Lines |> Array.filter (fun l -> l.Contains "warn" || l.Contains "fail")
