// How the write path's cost grows with the work, against 2 circles × 2 real influxd and a proxy started afresh for
// each curve. `dotnet fsi build.fsx bench-scale` builds the proxy and then runs this script in a dotnet fsi of its
// own. Each curve is a table, printed and written to docs/bench-scale/README.md, and a plot, docs/bench-scale/<curve>.png:
//   clients        1 to 64 concurrent clients posting 5,000-line bodies
//   measurements   100 to 100,000 distinct measurements, 3 series each
//   request-size   100 to 50,000 lines per POST, 4 clients
//   backend-down   one influxd killed under a steady write rate, then started again: the backlog and its replay
// BENCH_SCALE_QUICK=1 writes a tenth of the points per step and shortens the outage, to try the script out.
#r "nuget: ScottPlot, 5.1.59"
#load "Measure.fsx"

open System
open System.Diagnostics
open System.IO
open System.Net.Http
open System.Text.Json
open System.Threading
open System.Threading.Tasks
open InfluxProxy.Testing
open Measure

let quick = Environment.GetEnvironmentVariable "BENCH_SCALE_QUICK" = "1"

/// Points a step writes at least; more when its clients would otherwise post fewer than `postsPerClient` bodies each.
let stepPoints = if quick then 50_000 else 500_000
let postsPerClient = 5
let batchLines = 5_000
let clients = 4
/// The bench's workload, unless a curve varies it.
let measurements, hosts = 100, 10

let outputDir = Path.Combine(root, "docs", "bench-scale")

// ---------------------------------------------------------------- tables and plots

/// How a panel draws its points: joined by a line with a dot on each (measured steps), a line alone (sampled over
/// time), or dots alone (one per request).
type Style =
    | Steps
    | Line
    | Dots

/// One panel of a plot: its y axis' label and its points.
type Panel = { YLabel: string; X: float[]; Y: float[]; Style: Style }

/// Panels stacked over one x axis; a log x axis is ticked at the steps' own values. Marks are vertical lines, named in
/// the first panel's legend.
type Chart = { XLabel: string; LogX: bool; Panels: Panel list; Marks: (float * string) list }

type Curve = { Name: string; Title: string; About: string; Headings: string list; Rows: string list list; Chart: Chart }

let printCurve (curve: Curve) =
    let widths = curve.Headings |> List.mapi (fun i h -> curve.Rows |> List.map (fun r -> r[i].Length) |> List.fold max h.Length)
    let line (cells: string list) = List.map2 (fun (c: string) w -> c.PadLeft w) cells widths |> String.concat "  "
    printfn "\n%s\n%s" curve.Title (line curve.Headings)
    for row in curve.Rows do printfn "%s" (line row)

let markdown (curve: Curve) =
    let row (cells: string list) = "| " + String.concat " | " cells + " |"
    String.concat "\n" [
        $"## {curve.Title}"
        ""
        curve.About
        ""
        $"![{curve.Title}]({curve.Name}.png)"
        ""
        row curve.Headings
        row (curve.Headings |> List.map (fun _ -> "---:"))
        yield! curve.Rows |> List.map row
        "" ]

/// Draws the curve's panels one above the other into a PNG.
let plot (curve: Curve) (path: string) =
    let chart = curve.Chart
    let multiplot = ScottPlot.Multiplot()
    // The multiplot's methods are C# extension methods of IMultiplot, called here as what they are.
    ScottPlot.IMultiplotExtensions.AddPlots(multiplot, chart.Panels.Length)
    let position x = if chart.LogX then log10 x else x
    let xs = chart.Panels |> List.collect (fun p -> List.ofArray p.X) |> List.map position
    let margin = 0.04 * (List.max xs - List.min xs)
    let last = chart.Panels.Length - 1
    for i, panel in List.indexed chart.Panels do
        let plot = ScottPlot.IMultiplotExtensions.GetPlot(multiplot, i)
        // The same margins and x range on every panel, so that their x axes line up.
        plot.Layout.Fixed(ScottPlot.PixelPadding(110.0f, 30.0f, 50.0f, 40.0f))
        let scatter = plot.Add.Scatter(Array.map position panel.X, panel.Y)
        scatter.LineWidth <- (if panel.Style = Dots then 0.0f else 2.0f)
        scatter.MarkerSize <- (match panel.Style with Steps -> 8.0f | Line -> 0.0f | Dots -> 4.0f)
        for x, label in chart.Marks do
            let mark = plot.Add.VerticalLine(position x)
            mark.LegendText <- label
            mark.LinePattern <- ScottPlot.LinePattern.Dashed
        if i = 0 && not chart.Marks.IsEmpty then plot.ShowLegend(ScottPlot.Alignment.LowerRight) |> ignore
        plot.Axes.Left.Label.Text <- panel.YLabel
        if i = last then plot.Axes.Bottom.Label.Text <- chart.XLabel
        if chart.LogX then
            plot.Axes.Bottom.TickGenerator <- ScottPlot.TickGenerators.NumericManual(panel.X |> Array.map (fun x -> ScottPlot.Tick(log10 x, $"{x:N0}")))
        plot.Axes.SetLimitsX(List.min xs - margin, List.max xs + margin)
        plot.Axes.SetLimitsY(0.0, 1.1 * (panel.Y |> Array.fold max 1.0))
    ScottPlot.IMultiplotExtensions.GetPlot(multiplot, 0).Title curve.Title
    ScottPlot.IMultiplotExtensions.SavePng(multiplot, path, 1000, 280 * chart.Panels.Length) |> ignore

// ---------------------------------------------------------------- one step of a curve

/// What one step measured: rates in points/s (each point is stored twice, once per circle), latencies in ms, the
/// proxy's largest resident set in MB, CPU-seconds per million points, and in percent how busy our processes kept the
/// cores and how busy the machine was (whoever else shares it included).
type Step =
    { Posts: int
      Accepted: float
      Landed: float
      P50: float
      P99: float
      RssMb: float
      ProxyCpu: float
      ServerCpu: float
      CoresBusy: float
      MachineBusy: float }

/// The whole machine's busy and total CPU time so far, in clock ticks, from the first line of /proc/stat (user nice
/// system idle iowait irq softirq steal ...).
let machineTicks () =
    let ticks = (File.ReadLines "/proc/stat" |> Seq.head).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..8] |> Array.map int64
    let total = Array.sum ticks
    total - ticks[3] - ticks[4], total

/// The largest resident set of the process while `work` runs, sampled every 100 ms, with `work`'s result. The
/// kernel's peak (VmHWM) cannot be reset, and restarting the proxy per step would pay its JIT again each time, so a
/// step reports the largest current resident set (VmRSS) it saw: an earlier step's peak does not count, though memory
/// the GC or malloc kept from it does.
let maxRssWhile (pid: int) (work: unit -> 'a) =
    let timer = new PeriodicTimer(TimeSpan.FromMilliseconds 100.0)
    let sampler =
        task {
            let mutable peak = rssMb pid
            while! timer.WaitForNextTickAsync() do
                peak <- max peak (rssMb pid)
            return peak
        }
    let result =
        try work ()
        finally timer.Dispose() // ends the sampler's wait
    result, max sampler.Result (rssMb pid)

/// Writes `bodies` of `lines` lines each through the proxy into a database of their own with `clients` clients, and
/// waits until the servers have stored both copies of every point (their `pointsWrittenOK`: from then on a query
/// sees them). CPU is the proxy's, the four servers' and the benchmark's own (posting, polling), first POST to stored.
let step (proxy: ProxyRun) (servers: Influxd.Server list) (db: string) (clients: int) (lines: int) (bodies: byte[][]) =
    createDatabase db servers
    let points = lines * bodies.Length
    let expected = 2L * int64 points
    let countersBefore = totalCounters servers
    let cpu () = cpuSeconds proxy.Process.Id, serversCpuSeconds servers, cpuSeconds Environment.ProcessId
    let proxyBefore, serversBefore, benchBefore = cpu ()
    let machineBusyBefore, machineTotalBefore = machineTicks ()
    let watch = Stopwatch.StartNew()
    let (latencies, accepted), rss =
        maxRssWhile proxy.Process.Id (fun () ->
            let latencies = postBodies clients $"{proxy.Url}/write?db={db}" bodies
            let accepted = watch.Elapsed.TotalSeconds
            let stored () = (totalCounters servers - countersBefore).PointsWritten
            if not (Influxd.waitUntil (TimeSpan.FromMinutes 5.0) (fun () -> stored () >= expected)) then
                failwithf "only %d of %d point copies were stored in %s" (stored ()) expected db
            latencies, accepted)
    let landed = watch.Elapsed.TotalSeconds
    let proxyAfter, serversAfter, benchAfter = cpu ()
    let machineBusyAfter, machineTotalAfter = machineTicks ()
    let millions = float points / 1_000_000.0
    { Posts = bodies.Length
      Accepted = float points / accepted
      Landed = float points / landed
      P50 = percentile 0.50 latencies
      P99 = percentile 0.99 latencies
      RssMb = rss
      ProxyCpu = (proxyAfter - proxyBefore) / millions
      ServerCpu = (serversAfter - serversBefore) / millions
      CoresBusy = coresBusyPercent (proxyAfter - proxyBefore + serversAfter - serversBefore + benchAfter - benchBefore) landed
      MachineBusy = 100.0 * float (machineBusyAfter - machineBusyBefore) / float (machineTotalAfter - machineTotalBefore) }

/// How many bodies of `lines` lines a step posts: `stepPoints`, or `postsPerClient` for each client when that is more.
let bodyCount (clients: int) (lines: int) = max (stepPoints / lines) (clients * postsPerClient)

/// Starts a proxy of the curve's own (so that no curve inherits another's memory or backlog), warms it up with
/// 200,000 points as `bench` does (the JIT compiles the hot path on first use), runs `measure` and stops it.
let withProxy (dir: string) (name: string) (circles: Influxd.Server list list) (measure: ProxyRun -> 'a) =
    let proxy = startProxy (Path.Combine(dir, $"proxy-{name}")) circles
    try
        let warmup = Array.init 40 (workloadBody measurements hosts batchLines)
        step proxy (List.concat circles) $"scale_warmup_{name.Replace('-', '_')}" clients batchLines warmup |> ignore
        let result = measure proxy
        let warned = warnings proxy
        if warned.Length > 0 then printfn "  proxy warnings (%d), first: %s" warned.Length warned[0]
        result
    finally
        stopProxy (TimeSpan.FromSeconds 30.0) proxy |> ignore

/// Measures a step per x, printing each as it ends.
let measureSteps (label: string) (xs: int list) (measureOne: int -> Step) =
    [ for x in xs ->
        let s = measureOne x
        printfn "  %s %d: landed %.0f points/s, POST p50 / p99 %.1f / %.1f ms, RSS %.0f MB, cores busy %.0f%% (machine %.0f%%)" label x s.Landed s.P50 s.P99 s.RssMb s.CoresBusy s.MachineBusy
        x, s ]

let stepHeadings =
    [ "POSTs"; "accepted points/s"; "landed points/s"; "POST p50 ms"; "POST p99 ms"; "proxy max RSS MB"; "proxy CPU-s / 1M"
      "influxd CPU-s / 1M"; "cores busy %"; "machine busy %" ]

let stepCells (s: Step) =
    [ string s.Posts; $"%.0f{s.Accepted}"; $"%.0f{s.Landed}"; $"%.1f{s.P50}"; $"%.1f{s.P99}"; $"%.0f{s.RssMb}"; $"%.2f{s.ProxyCpu}"
      $"%.2f{s.ServerCpu}"; $"%.0f{s.CoresBusy}"; $"%.0f{s.MachineBusy}" ]

/// A curve of steps: its table, and a plot of the figures named in `panels` over a log x axis.
let stepCurve name title about (xHeading: string) (xLabel: string) (panels: (string * (Step -> float)) list) (steps: (int * Step) list) =
    let xs = steps |> List.map (fst >> float) |> Array.ofList
    { Name = name; Title = title; About = about
      Headings = xHeading :: stepHeadings
      Rows = steps |> List.map (fun (x, s) -> string x :: stepCells s)
      Chart =
        { XLabel = xLabel; LogX = true; Marks = []
          Panels = panels |> List.map (fun (label, figure) -> { YLabel = label; X = xs; Y = steps |> List.map (snd >> figure) |> Array.ofList; Style = Steps }) } }

let landedPanel = "landed points/s", (fun (s: Step) -> s.Landed)
let p50Panel = "POST p50 ms", (fun (s: Step) -> s.P50)
let p99Panel = "POST p99 ms", (fun (s: Step) -> s.P99)
let rssPanel = "proxy max RSS MB", (fun (s: Step) -> s.RssMb)

// ---------------------------------------------------------------- the curves

let clientsCurve (dir: string) (circles: Influxd.Server list list) =
    let servers = List.concat circles
    withProxy dir "clients" circles (fun proxy ->
        measureSteps "clients" [ 1; 2; 4; 8; 16; 32; 64 ] (fun n ->
            step proxy servers $"scale_clients_{n}" n batchLines (Array.init (bodyCount n batchLines) (workloadBody measurements hosts batchLines))))
    |> stepCurve "clients" "Concurrent clients"
        $"Each step posts the bench's workload (100 measurements × 10 hosts) in {batchLines:N0}-line bodies with that many keep-alive clients, at least {stepPoints:N0} points and {postsPerClient} bodies per client."
        "clients" "concurrent clients (log scale)" [ landedPanel; p99Panel; rssPanel ]

let measurementsCurve (dir: string) (circles: Influxd.Server list list) =
    let servers = List.concat circles
    let seriesPerMeasurement = 3
    withProxy dir "measurements" circles (fun proxy ->
        measureSteps "measurements" [ 100; 1_000; 10_000; 100_000 ] (fun m ->
            let bodies = Array.init (bodyCount clients batchLines) (workloadBody m seriesPerMeasurement batchLines)
            step proxy servers $"scale_measurements_{m}" clients batchLines bodies))
    |> stepCurve "measurements" "Distinct measurements"
        ($"Each step spreads {bodyCount clients batchLines * batchLines:N0} points over that many measurements × {seriesPerMeasurement} hosts (so at the largest count most points start a series, and most lines name a measurement the proxy has not seen in that database), "
         + $"{batchLines:N0}-line bodies, {clients} clients, each step into a new database. The proxy remembers each database's measurement owners up to 100,000 names "
         + "(src/Host.CSharp/Backends/Cluster.cs; then it forgets them all and starts again) and does not report that cache's size.")
        "measurements" "distinct measurements (log scale)" [ landedPanel; p99Panel; rssPanel ]

let requestSizeCurve (dir: string) (circles: Influxd.Server list list) =
    let servers = List.concat circles
    withProxy dir "request-size" circles (fun proxy ->
        measureSteps "lines per POST" [ 100; 1_000; 5_000; 20_000; 50_000 ] (fun lines ->
            step proxy servers $"scale_lines_{lines}" clients lines (Array.init (bodyCount clients lines) (workloadBody measurements hosts lines))))
    |> stepCurve "request-size" "Lines per POST"
        $"The bench's workload in bodies of that many lines, {clients} clients, at least {stepPoints:N0} points and {postsPerClient} bodies per client (so the largest sizes' p99 is nearly their slowest POST)."
        "lines per POST" "lines per POST (log scale)" [ landedPanel; p50Panel; p99Panel; rssPanel ]

// ---------------------------------------------------------------- a backend down

/// The write rate held while one backend is down: below what the servers take (the clients curve), so that the
/// backlog can drain while writes go on.
let outageRate = 100_000.0
let healthySeconds, downSeconds, afterSeconds = if quick then 3, 6, 3 else 15, 30, 10

/// One POST of the paced writers: when it started and when its answer came, in seconds since the writing began.
type Posted = { Start: float; End: float; Ok: bool }

/// `clients` keep-alive clients posting the bench's workload at `outageRate` points/s in all until `stop`: body k is
/// due k × batchLines / outageRate seconds after the start, and posted by the first client free then (at once when
/// late, so a slow proxy shows as a lower accepted rate).
let startPacedWriters (url: string) (clock: Stopwatch) (stop: CancellationToken) =
    let posted = Collections.Concurrent.ConcurrentQueue<Posted>()
    let next = ref -1
    let writing =
        task {
            use http = new HttpClient(Timeout = TimeSpan.FromMinutes 1.0)
            let post (body: byte[]) =
                task {
                    try
                        use! response = http.PostAsync(url, new ByteArrayContent(body))
                        return int response.StatusCode = 204
                    with _ -> return false
                }
            let writer () =
                task {
                    while not stop.IsCancellationRequested do
                        let k = Interlocked.Increment next
                        let wait = float k * float batchLines / outageRate - clock.Elapsed.TotalSeconds
                        if wait > 0.0 then do! Task.Delay(TimeSpan.FromSeconds wait)
                        let body = workloadBody measurements hosts batchLines k
                        let start = clock.Elapsed.TotalSeconds
                        let! ok = post body
                        posted.Enqueue { Start = start; End = clock.Elapsed.TotalSeconds; Ok = ok }
                }
            let! _ = Task.WhenAll [ for _ in 1..clients -> writer () ]
            ()
        }
    posted, writing

/// One backend's backlog as the proxy's /debug/vars shows it, at a time in seconds.
type BacklogSample = { At: float; Bytes: int64; Records: int64; PointsBacklogged: int64; RecordsReplayed: int64 }

let backlogSample (http: HttpClient) (proxyUrl: string) (backend: string) (at: float) =
    use vars = JsonDocument.Parse(http.GetStringAsync(proxyUrl + "/debug/vars").Result)
    let b = vars.RootElement.GetProperty("backends").EnumerateArray() |> Seq.find (fun b -> b.GetProperty("name").GetString() = backend)
    { At = at
      Bytes = b.GetProperty("backlog_bytes").GetInt64()
      Records = b.GetProperty("backlog_records").GetInt64()
      PointsBacklogged = b.GetProperty("points_backlogged").GetInt64()
      RecordsReplayed = b.GetProperty("backlog_replayed_records").GetInt64() }

/// The backend's backlog every 250 ms until `stop`.
let startSampling (proxyUrl: string) (backend: string) (clock: Stopwatch) (stop: CancellationToken) =
    let samples = Collections.Concurrent.ConcurrentQueue<BacklogSample>()
    let sampling =
        task {
            use http = new HttpClient()
            use timer = new PeriodicTimer(TimeSpan.FromMilliseconds 250.0)
            while not stop.IsCancellationRequested do
                samples.Enqueue(backlogSample http proxyUrl backend clock.Elapsed.TotalSeconds)
                let! _ = timer.WaitForNextTickAsync()
                ()
        }
    samples, sampling

/// One moment of the outage: the backend's backlog, the proxy's CPU-seconds and the machine's CPU ticks.
type Moment = { Backlog: BacklogSample; ProxyCpu: float; Machine: int64 * int64 }

let backendDownCurve (dir: string) (circles: Influxd.Server list list) =
    let servers = List.concat circles
    let stopped = circles[1][0]
    let db = "scale_backend_down"
    withProxy dir "backend-down" circles (fun proxy ->
        createDatabase db servers
        use http = new HttpClient()
        let clock = Stopwatch.StartNew()
        let now () =
            { Backlog = backlogSample http proxy.Url stopped.Name clock.Elapsed.TotalSeconds
              ProxyCpu = cpuSeconds proxy.Process.Id
              Machine = machineTicks () }
        use stop = new CancellationTokenSource()
        let began = now ()
        let posted, writing = startPacedWriters $"{proxy.Url}/write?db={db}" clock stop.Token
        let samples, sampling = startSampling proxy.Url stopped.Name clock stop.Token
        Thread.Sleep(TimeSpan.FromSeconds(float healthySeconds))
        let killed = now ()
        Influxd.kill stopped
        printfn "  %s killed at %.1f s" stopped.Name killed.Backlog.At
        Thread.Sleep(TimeSpan.FromSeconds(float downSeconds))
        Influxd.restart stopped
        let back = now ()
        printfn "  %s answers again at %.1f s, its backlog %.0f MB" stopped.Name back.Backlog.At (float back.Backlog.Bytes / 1e6)
        if not (Influxd.waitUntil (TimeSpan.FromMinutes 3.0) (fun () -> (now ()).Backlog.Records = 0L)) then
            failwith "the backlog did not drain within 3 minutes"
        let drained = now ()
        printfn "  backlog empty at %.1f s" drained.Backlog.At
        Thread.Sleep(TimeSpan.FromSeconds(float afterSeconds))
        let ended = now ()
        stop.Cancel()
        Task.WaitAll(writing :> Task, sampling :> Task)
        let posted = posted.ToArray()
        let samples = samples.ToArray()
        let replayStarted =
            samples |> Array.tryFind (fun s -> s.At >= back.Backlog.At && s.RecordsReplayed > back.Backlog.RecordsReplayed)
            |> Option.map _.At |> Option.defaultValue drained.Backlog.At
        let throughBacklog (m: Moment) = m.Backlog.PointsBacklogged - killed.Backlog.PointsBacklogged
        let replayRate = float (throughBacklog drained) / (drained.Backlog.At - replayStarted)
        let phase (name: string) (from: Moment) (until: Moment) (replay: string) =
            let seconds = until.Backlog.At - from.Backlog.At
            let inPhase (t: float) = t >= from.Backlog.At && t < until.Backlog.At
            let started = posted |> Array.filter (fun p -> inPhase p.Start)
            let latencies = started |> Array.map (fun p -> 1000.0 * (p.End - p.Start)) |> Array.sort
            let answered = posted |> Array.filter (fun p -> p.Ok && inPhase p.End)
            let p (q: float) = if latencies.Length = 0 then "–" else $"%.1f{percentile q latencies}"
            let busy, total = fst until.Machine - fst from.Machine, snd until.Machine - snd from.Machine
            [ name; $"%.1f{seconds}"; string started.Length; $"%.0f{float (answered.Length * batchLines) / seconds}"; p 0.50; p 0.99
              string (started |> Array.filter (fun p -> not p.Ok) |> Array.length)
              $"%.0f{coresBusyPercent (until.ProxyCpu - from.ProxyCpu) seconds}"; $"%.0f{100.0 * float busy / float total}"
              $"%.0f{float until.Backlog.Bytes / 1e6}"; string (throughBacklog until); replay ]
        let acceptedPerSecond =
            posted |> Array.filter _.Ok |> Array.countBy (fun p -> floor p.End + 0.5) |> Array.sortBy fst
        { Name = "backend-down"
          Title = "One backend down, then back"
          About =
            $"{clients} clients post the bench's workload at {outageRate:N0} points/s in all ({batchLines:N0}-line bodies, each due at its time and posted at once when late). "
            + $"After {healthySeconds} s {stopped.Name} is killed (SIGKILL); {downSeconds} s later it is started again on its data, and the phase ends when it answers /ping; "
            + $"the writes go on until its backlog has been empty for {afterSeconds} s. The proxy's /debug/vars gives the backlog (its bytes, and the points put into it since the kill). "
            + $"Replay began {replayStarted - back.Backlog.At:F1} s after the backend answered again; the replay rate is the points that went through the backlog over the seconds from then until it was empty. "
            + "Proxy % of the cores: its CPU over the phase's seconds, of 2 cores; machine busy: every process's."
          Headings =
            [ "phase"; "seconds"; "POSTs"; "accepted points/s"; "POST p50 ms"; "POST p99 ms"; "POSTs failed"; "proxy % of the cores"; "machine busy %"
              "backlog MB at end"; "points backlogged since the kill"; "replayed points/s" ]
          Rows =
            [ phase "healthy" began killed "–"
              phase $"{stopped.Name} down" killed back "–"
              phase "draining" back drained $"%.0f{replayRate}"
              phase "drained" drained ended "–" ]
          Chart =
            { XLabel = "seconds since the writing began"
              LogX = false
              Marks = [ killed.Backlog.At, "killed"; back.Backlog.At, "back"; drained.Backlog.At, "backlog empty" ]
              Panels =
                [ { YLabel = "accepted points/s"; X = Array.map fst acceptedPerSecond; Y = acceptedPerSecond |> Array.map (fun (_, n) -> float (n * batchLines)); Style = Line }
                  { YLabel = "POST latency ms"; X = posted |> Array.map _.Start; Y = posted |> Array.map (fun p -> 1000.0 * (p.End - p.Start)); Style = Dots }
                  { YLabel = $"{stopped.Name} backlog MB"; X = samples |> Array.map _.At; Y = samples |> Array.map (fun s -> float s.Bytes / 1e6); Style = Line } ] } })

// ---------------------------------------------------------------- the run

let writeDocs (curves: Curve list) =
    Directory.CreateDirectory outputDir |> ignore
    for curve in curves do plot curve (Path.Combine(outputDir, curve.Name + ".png"))
    let date = DateTime.UtcNow.ToString("yyyy-MM-dd", Globalization.CultureInfo.InvariantCulture)
    let header =
        [ "# How the write path's cost grows with the work"
          ""
          $"Written by `dotnet fsi build.fsx bench-scale` on {date}"
          + (if quick then " with BENCH_SCALE_QUICK=1 (a tenth of the points per step, a short outage)" else "")
          + ", on a 2-core VM shared with other work: 2 circles × 2 influxd 1.6.7 on loopback and one proxy with the default config (`write_ack: journaled`), "
          + "started afresh for each curve as `bench` starts it and warmed up with 200,000 points. Every step writes into a database of its own. "
          + "Points/s count each point once, though each circle stores it; \"accepted\" is until the last POST was answered, \"landed\" until the servers' "
          + "`pointsWrittenOK` counted both copies of every point. Proxy max RSS: the largest VmRSS sampled every 100 ms during the step (the peak VmHWM cannot be "
          + "reset). CPU-s / 1M: CPU-seconds per million points, first POST to landed; cores busy: the proxy's, the four influxd's and the benchmark's own CPU "
          + "over the step's seconds, of 2 cores; machine busy: every process's, from /proc/stat (the VM is shared, so the difference is someone else's)."
          "" ]
    File.WriteAllText(Path.Combine(outputDir, "README.md"), String.concat "\n" (header @ List.map markdown curves))

let run () =
    let curves =
        withServers "bench-scale" (fun dir startServer ->
            let circles = [ for c in 1..2 -> [ for b in 1..2 -> startServer $"influxdb-{c}-{b}" ] ]
            [ clientsCurve; measurementsCurve; requestSizeCurve; backendDownCurve ]
            |> List.map (fun curve ->
                let measured = curve dir circles
                printCurve measured
                measured))
    writeDocs curves
    printfn "\nwrote %s" outputDir

try
    run ()
with e ->
    let e = match e with :? AggregateException as a -> a.Flatten().InnerExceptions[0] | e -> e
    eprintfn "bench-scale: %s" e.Message
    exit 1
