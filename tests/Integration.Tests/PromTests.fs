/// Prometheus remote write through the proxy: stored as one influxd stores what it is sent directly, and written by a
/// real Prometheus (Debian's) that scrapes the proxy's own /metrics.
module InfluxProxy.Testing.PromTests

open System
open System.Diagnostics
open System.IO
open System.Net.Http
open Expecto
open Google.Protobuf
open InfluxProxy.Host.RemoteStorage.Wire
open InfluxProxy.Testing.Influxd
open InfluxProxy.Testing.Web
open InfluxProxy.Testing.Fixtures

let private series (name: string option) (labels: (string * string) list) (samples: (float * int64) list) =
    let s = TimeSeries()
    name |> Option.iter (fun n -> s.Labels.Add(Label(Name = "__name__", Value = n)))
    for key, value in labels do s.Labels.Add(Label(Name = key, Value = value))
    for value, ms in samples do s.Samples.Add(Sample(Value = value, Timestamp = ms))
    s

let private remoteWrite (url: string) (all: TimeSeries list) =
    let request = WriteRequest()
    for s in all do request.Timeseries.Add s
    let content = new ByteArrayContent(Snappier.Snappy.CompressToArray(request.ToByteArray()))
    content.Headers.ContentEncoding.Add "snappy"
    content.Headers.ContentType <- Headers.MediaTypeHeaderValue "application/x-protobuf"
    send (new HttpRequestMessage(HttpMethod.Post, url, Content = content))

/// Every point of a measurement as JSON, whoever holds it.
let private everything (url: string) db measurement =
    (Influx.query url db $"SELECT * FROM \"{measurement}\"").ToString()

let private stale = BitConverter.Int64BitsToDouble 0x7ff0000000000002L

/// A remote read of one query over [0, end] ms; the series answered, each as its text, sorted.
let private remoteRead (url: string) (endMs: int64) (matchers: (LabelMatcher.Types.Type * string * string) list) =
    let query = Query(StartTimestampMs = 0L, EndTimestampMs = endMs)
    for kind, name, value in matchers do query.Matchers.Add(LabelMatcher(Type = kind, Name = name, Value = value))
    let request = ReadRequest()
    request.Queries.Add query
    let content = new ByteArrayContent(Snappier.Snappy.CompressToArray(request.ToByteArray()))
    content.Headers.ContentEncoding.Add "snappy"
    use response = client.Send(new HttpRequestMessage(HttpMethod.Post, url, Content = content))
    Expect.equal (int response.StatusCode) 200 url
    let answer = ReadResponse.Parser.ParseFrom(Snappier.Snappy.DecompressToArray(response.Content.ReadAsByteArrayAsync().Result))
    answer.Results |> Seq.collect _.Timeseries |> Seq.map string |> Seq.sort |> List.ofSeq

let tests =
    testList "Prometheus" [
        test "remote write is stored as influxd stores it: name as measurement and tag, labels as tags, value, NaN and stale markers left out, ±Inf refused" {
            let circles = shared.Value
            let db = uniqueDb "prom"
            let direct = startOnFreePort "prom-direct" (Path.Combine(Path.GetTempPath(), $"influx-proxy-prom-{Guid.NewGuid():N}"))
            try
                for server in direct :: List.concat circles do Influx.createDatabase server.Url db
                ProxyProcess.using circles [] (fun proxy ->
                    let written =
                        [ series (Some "cpu_usage") [ "job", "j k"; "instance", "i,1"; "empty", "" ] [ 1.5, 1000L; nan, 2000L; stale, 3000L; 2e21, 4000L ]
                          series (Some "up") [ "job", "a=b" ] [ 1.0, 1000L ]
                          series None [ "a", "b" ] [ 3.0, 7000L ] ]
                    for url in [ $"{proxy.Url}/api/v1/prom/write?db={db}"; $"{direct.Url}/api/v1/prom/write?db={db}" ] do
                        Expect.equal (remoteWrite url written).Status 204 url
                    for measurement in [ "cpu_usage"; "up"; "prom_metric_not_specified" ] do
                        let expected = everything direct.Url db measurement
                        let stored () = circles |> List.forall (List.exists (fun s -> everything s.Url db measurement = expected))
                        Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) stored) $"{measurement} in every circle as influxd stores it: {expected}"
                    // Read back: by name from its owner, by a regex from every backend of a circle, merged.
                    for matchers in [ [ LabelMatcher.Types.Type.Eq, "__name__", "cpu_usage" ]
                                      [ LabelMatcher.Types.Type.Re, "__name__", "cpu_usage|up"; LabelMatcher.Types.Type.Neq, "job", "x" ] ] do
                        let read url = remoteRead $"{url}/api/v1/prom/read?db={db}" 10_000L matchers
                        let expected = read direct.Url
                        Expect.isNonEmpty expected "influxd answers the read"
                        Expect.equal (read proxy.Url) expected $"the proxy answers as influxd: {matchers}"
                    let infinite = [ series (Some "inf") [] [ 1.0, 1000L; infinity, 2000L ] ]
                    let refused, influxd = remoteWrite $"{proxy.Url}/api/v1/prom/write?db={db}" infinite, remoteWrite $"{direct.Url}/api/v1/prom/write?db={db}" infinite
                    Expect.equal (refused.Status, refused.Body) (influxd.Status, influxd.Body) "influxd's 400 for an infinite sample"
                    let garbage = remoteWrite $"{proxy.Url}/api/v1/prom/write" []
                    Expect.equal garbage.Status 400 "no database")
            finally dispose direct
        }

        test "a real Prometheus scraping the proxy's /metrics remote-writes through it to every circle" {
            let circles = shared.Value
            let db = uniqueDb "promreal"
            for server in List.concat circles do Influx.createDatabase server.Url db
            ProxyProcess.using circles [] (fun proxy ->
                let dir = ProxyProcess.newDir "prometheus"
                let port = freePort ()
                File.WriteAllText(Path.Combine(dir, "prometheus.yml"),
                    String.concat "\n" [
                        "global:"
                        "  scrape_interval: 1s"
                        "scrape_configs:"
                        "  - job_name: proxy"
                        "    static_configs:"
                        $"      - targets: ['127.0.0.1:{proxy.Port}']"
                        "remote_write:"
                        $"  - url: {proxy.Url}/api/v1/prom/write?db={db}"
                        "    queue_config:"
                        "      batch_send_deadline: 1s"
                        "remote_read:"
                        $"  - url: {proxy.Url}/api/v1/prom/read?db={db}"
                        "    read_recent: true"
                        "" ])
                // A metric Prometheus never scraped: what PromQL returns of it comes from the proxy's remote read.
                let now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()
                Expect.equal (remoteWrite $"{proxy.Url}/api/v1/prom/write?db={db}" [ series (Some "written_directly") [ "site", "a" ] [ 42.5, now - 5_000L ] ]).Status 204 "written"
                let info =
                    ProcessStartInfo("prometheus",
                        $"--config.file={dir}/prometheus.yml --storage.tsdb.path={dir}/data --web.listen-address=127.0.0.1:{port}",
                        RedirectStandardOutput = true, RedirectStandardError = true)
                use prometheus = Process.Start info
                prometheus.OutputDataReceived.Add ignore
                prometheus.ErrorDataReceived.Add ignore
                prometheus.BeginOutputReadLine()
                prometheus.BeginErrorReadLine()
                try
                    let landed () =
                        circles |> List.forall (List.exists (fun s -> (Influx.countsByMeasurement s.Url db "value").ContainsKey "influxproxy_journal_records"))
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 60.0) landed) "the proxy's own metric, scraped by Prometheus, written back through it to every circle"
                    let tags = (Influx.query proxy.Url db "SHOW TAG KEYS FROM \"influxproxy_journal_records\"").ToString()
                    for key in [ "__name__"; "instance"; "job" ] do Expect.stringContains tags $"\"{key}\"" "labels as tags"
                    let promql () =
                        try (get $"http://127.0.0.1:{port}/api/v1/query?query=written_directly").Body with _ -> ""
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> (promql ()).Contains "\"42.5\"")) $"PromQL through Prometheus's remote read: {promql ()}"
                finally
                    prometheus.Kill true
                    prometheus.WaitForExit()
                    try Directory.Delete(dir, true) with :? IOException -> ())
        }

        test "a backend that breaks off its remote-read answer: a relayed answer breaks too, a merged one is a 503 saying why" {
            use backend = FaultyBackend.start "die"
            let proxy = FaultyBackend.proxyInFrontOf backend "broken-read" []
            try
                // A metric named (`__name__` equal) is relayed from its owner; a regex on the name is merged from a circle.
                let read (kind: LabelMatcher.Types.Type) =
                    let query = Query(StartTimestampMs = 0L, EndTimestampMs = 10_000L)
                    query.Matchers.Add(LabelMatcher(Type = kind, Name = "__name__", Value = "up"))
                    let request = ReadRequest()
                    request.Queries.Add query
                    let content = new ByteArrayContent(Snappier.Snappy.CompressToArray(request.ToByteArray()))
                    content.Headers.ContentEncoding.Add "snappy"
                    client.Send(new HttpRequestMessage(HttpMethod.Post, $"{proxy.Url}/api/v1/prom/read?db=db", Content = content), HttpCompletionOption.ResponseHeadersRead)
                use relayed = read LabelMatcher.Types.Type.Eq
                Expect.equal (int relayed.StatusCode) 200 "the owner's answer, relayed as it streams"
                let body = try Ok(relayed.Content.ReadAsByteArrayAsync().Result) with e -> Error(e.GetBaseException())
                Expect.isError body "the cut answer did not pass for a whole one"
                use merged = read LabelMatcher.Types.Type.Re
                let text = merged.Content.ReadAsStringAsync().Result
                Expect.equal (int merged.StatusCode) 503 text
                Expect.stringContains text "broke off its answer" "why"
            finally ProxyProcess.dispose proxy
        }
    ]
