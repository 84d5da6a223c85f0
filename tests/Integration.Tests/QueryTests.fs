module InfluxProxy.Testing.QueryTests

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open Expecto
open InfluxProxy.Core
open InfluxProxy.Testing.Influxd
open InfluxProxy.Testing.Web
open InfluxProxy.Testing.Fixtures

let private queryUrl (baseUrl: string) db q = sprintf "%s/query?db=%s&q=%s" baseUrl (escape db) (escape q)

/// The `results` of an answer, without anything that differs between servers for the same data.
let private results (body: string) =
    use doc = JsonDocument.Parse body
    doc.RootElement.GetProperty("results").GetRawText()

/// `measurements` × 3 hosts × 5 points, in line protocol with times in seconds.
let private seedLines measurements =
    [ for m in 1..measurements do
        for h in 1..3 do
            for t in 1..5 -> sprintf "m%d,host=h%d,dc=d%d value=%d,count=%di %d" m h (h % 2) (m * 100 + h * 10 + t) t (1_600_000_000L + int64 t) ]
    |> String.concat "\n"

/// A new database on each of `servers`, filled through `url` (the proxy, or one server) with `lines`.
let private fill (url: string) (servers: Server list) label (lines: string) =
    let db = uniqueDb label
    for s in servers do Influx.createDatabase s.Url db
    let reply = post (sprintf "%s/write?db=%s&precision=s" url db) lines
    if reply.Status <> 204 then failwithf "seed: %s" reply.Body
    db

/// A database on every backend, filled through the proxy with `measurements` × 3 hosts × 5 points.
let private seed (proxy: ProxyProcess.Proxy) (circles: Server list list) label measurements =
    fill proxy.Url (List.concat circles) label (seedLines measurements)

let private owner (proxy: ProxyProcess.Proxy) (circles: Server list list) db measurement circle =
    let config = File.ReadAllText(Path.Combine(proxy.Dir, "proxy.json")) |> ProxyConfig.parse |> Result.defaultWith (failwithf "%A")
    let owners = ProxyConfig.placement config |> Placement.owners db measurement
    circles[circle][owners[circle]]

let private routing =
    testList "routing" [
        test "SELECTs through the proxy answer exactly what the owning backend answers" {
            let circles = shared.Value
            ProxyProcess.using circles [] (fun proxy ->
                let db = seed proxy circles "select" 6
                let direct = owner proxy circles db "m3" 0
                for q in [ "SELECT * FROM m3"
                           "SELECT mean(value), max(count) FROM m3 WHERE time >= 1600000000s AND time < 1600000010s GROUP BY time(2s), host"
                           "SELECT count(value) FROM \"m3\" GROUP BY dc"
                           "select last(value) from m3 where host = 'h2'" ] do
                    for epoch in [ ""; "&epoch=s"; "&epoch=ms" ] do
                        let viaProxy = get (queryUrl proxy.Url db q + epoch)
                        let fromOwner = get (queryUrl direct.Url db q + epoch)
                        Expect.equal viaProxy.Status 200 viaProxy.Body
                        Expect.equal (results viaProxy.Body) (results fromOwner.Body) (q + epoch))
        }

        test "chunked answers stream through, and gzip is used when the client asks for it" {
            let circles = shared.Value
            ProxyProcess.using circles [] (fun proxy ->
                let db = seed proxy circles "chunked" 2
                let chunked = get (queryUrl proxy.Url db "SELECT * FROM m1" + "&chunked=true&chunk_size=4")
                Expect.equal chunked.Status 200 chunked.Body
                let lines = chunked.Body.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                Expect.equal lines.Length 4 "15 points in chunks of 4"
                let request = new System.Net.Http.HttpRequestMessage(System.Net.Http.HttpMethod.Get, queryUrl proxy.Url db "SHOW MEASUREMENTS")
                request.Headers.AcceptEncoding.ParseAdd "gzip"
                use response = client.Send request
                Expect.equal (Seq.toList response.Content.Headers.ContentEncoding) [ "gzip" ] "compressed")
        }

        test "fanned-out statements answer the union of the backends, sorted and once" {
            let circles = shared.Value
            ProxyProcess.using circles [] (fun proxy ->
                let db = seed proxy circles "fanout" 8
                let measurements = get (queryUrl proxy.Url db "SHOW MEASUREMENTS")
                Expect.equal (results measurements.Body)
                    (sprintf """[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[%s]}]}]"""
                        ([ for m in 1..8 -> sprintf "[\"m%d\"]" m ] |> List.sort |> String.concat ","))
                    "all measurements, sorted"
                let limited = get (queryUrl proxy.Url db "SHOW MEASUREMENTS LIMIT 2 OFFSET 1")
                Expect.stringContains limited.Body "\"values\":[[\"m2\"],[\"m3\"]]" "LIMIT/OFFSET applied once after the merge"
                let regex = get (queryUrl proxy.Url db "SELECT count(value) FROM /m[1-4]/")
                Expect.stringContains regex.Body "\"series\"" regex.Body
                use doc = JsonDocument.Parse regex.Body
                let series = doc.RootElement.GetProperty("results").[0].GetProperty("series")
                Expect.equal [ for s in series.EnumerateArray() -> s.GetProperty("name").GetString() ] [ "m1"; "m2"; "m3"; "m4" ] "a regex source reaches every owner"
                let keys = get (queryUrl proxy.Url db "SHOW TAG KEYS")
                Expect.stringContains keys.Body "\"name\":\"m7\"" "tag keys of every measurement"
                let cardinality = get (queryUrl proxy.Url db "SHOW SERIES CARDINALITY")
                Expect.equal cardinality.Status 200 cardinality.Body
                Expect.isFalse (cardinality.Body.Contains "error") cardinality.Body)
        }

        test "schema statements reach every backend; several statements answer in order" {
            let circles = shared.Value
            ProxyProcess.using circles [] (fun proxy ->
                let db = uniqueDb "ddl"
                let created = post (queryUrl proxy.Url "" (sprintf "CREATE DATABASE %s; SHOW DATABASES" db)) ""
                Expect.equal created.Status 200 created.Body
                use doc = JsonDocument.Parse created.Body
                let ids = [ for r in doc.RootElement.GetProperty("results").EnumerateArray() -> r.GetProperty("statement_id").GetInt32() ]
                Expect.equal ids [ 0; 1 ] "statement ids"
                Expect.stringContains created.Body db "SHOW DATABASES after CREATE sees it"
                for s in List.concat circles do
                    Expect.stringContains (get (queryUrl s.Url "" "SHOW DATABASES")).Body db s.Name
                let dropped = post (queryUrl proxy.Url "" (sprintf "DROP DATABASE \"%s\"" db)) ""
                Expect.equal dropped.Status 200 dropped.Body
                for s in List.concat circles do
                    Expect.isFalse ((get (queryUrl s.Url "" "SHOW DATABASES")).Body.Contains db) s.Name)
        }

        test "a backend's error in a fanned-out statement is that statement's error, as InfluxDB answers it" {
            let circles = shared.Value
            ProxyProcess.using circles [] (fun proxy ->
                let reply = get (queryUrl proxy.Url "no_such_db_fanout" "SHOW DATABASES; SELECT * FROM /m.*/")
                Expect.equal reply.Status 200 reply.Body
                use doc = JsonDocument.Parse reply.Body
                let second = doc.RootElement.GetProperty("results").[1]
                Expect.equal (second.GetRawText()) """{"statement_id":1,"error":"database not found: no_such_db_fanout"}""" "its error")
        }

        test "DROP MEASUREMENT removes it from its owner in every circle" {
            let circles = shared.Value
            ProxyProcess.using circles [] (fun proxy ->
                let db = seed proxy circles "drop" 3
                let reply = post (queryUrl proxy.Url db "DROP MEASUREMENT m2") ""
                Expect.equal reply.Status 200 reply.Body
                for c in 0..1 do
                    let server = owner proxy circles db "m2" c
                    Expect.isFalse ((get (queryUrl server.Url db "SHOW MEASUREMENTS")).Body.Contains "\"m2\"" ) server.Name)
        }
    ]

/// The same statements asked of the proxy and of one InfluxDB holding all the data the proxy spreads, each with every
/// one of `options` added to the query string: the answers must be the same bytes, content type included (the seeded
/// data holds none of `<`, `>`, `&`, which Go's encoder escapes in JSON and ours writes as they are).
let private sameAnswers (proxy: ProxyProcess.Proxy) db (reference: Server) referenceDb (headers: (string * string) list) (queries: string list) (options: string list) =
    let ask (url: string) db q option =
        let request = new System.Net.Http.HttpRequestMessage(System.Net.Http.HttpMethod.Get, queryUrl url db q + option)
        for name, value in headers do request.Headers.TryAddWithoutValidation(name, value) |> ignore
        send request
    for q in queries do
        for option in options do
            let viaProxy = ask proxy.Url db q option
            let direct = ask reference.Url referenceDb q option
            Expect.equal viaProxy.Status 200 viaProxy.Body
            Expect.equal (viaProxy.Header "content-type") (direct.Header "content-type") (q + option)
            Expect.equal viaProxy.Body direct.Body (q + option)

/// `sameAnswers` asked with `chunked=true`.
let private sameChunks proxy db reference referenceDb headers queries (options: string list) =
    sameAnswers proxy db reference referenceDb headers queries [ for option in options -> "&chunked=true" + option ]

/// Reads right after its writes: answered once stored, as InfluxDB answers.
let private stored = [ "\"write_ack\": \"stored\"" ]

/// `lines` written through a proxy over the shared circles into a new database, and straight into one of their
/// servers into another, which then holds all of them: `compare proxy db reference referenceDb`.
let private withReference label (lines: string) compare =
    let circles = shared.Value
    ProxyProcess.using circles stored (fun proxy ->
        let db = fill proxy.Url (List.concat circles) label lines
        let reference = circles[0][0]
        compare proxy db reference (fill reference.Url [ reference ] (label + "_reference") lines))

let private chunked =
    testList "chunked fan-out" [
        test "fanned-out and several statements stream the chunks one InfluxDB holding all the data streams" {
            withReference "chunks" (seedLines 8) (fun proxy db reference referenceDb ->
                sameChunks proxy db reference referenceDb [] [
                    "SHOW MEASUREMENTS"
                    "SHOW TAG VALUES WITH KEY = \"host\""
                    "SHOW TAG KEYS"
                    "SHOW SERIES"
                    "SHOW FIELD KEYS"
                    "SHOW TAG VALUES EXACT CARDINALITY WITH KEY = host"
                    "SELECT value FROM /m[1-3]/ WHERE time < 1600000004s GROUP BY *"
                    "SELECT count(value) FROM /m.*/"
                    "SHOW MEASUREMENTS; SELECT * FROM nope; SHOW TAG VALUES WITH KEY = dc; SHOW RETENTION POLICIES; SELECT count(value) FROM m2 GROUP BY host"
                    "SELECT foo(value) FROM /m.*/"
                    "SHOW SERIES; SELECT foo(value) FROM /m.*/" ] [ ""; "&chunk_size=1"; "&chunk_size=2"; "&chunk_size=5"; "&chunk_size=0" ])
        }

        test "a series longer than the chunk size is cut at 10000 rows by default, as InfluxDB cuts it" {
            let lines = [ for t in 1..25_000 -> sprintf "big,host=a v=%d %d" t (1_600_000_000 + t) ] |> String.concat "\n"
            withReference "chunks_big" lines (fun proxy db reference referenceDb ->
                // The backends' answers, not chunked, mark a series of over 10000 rows partial: a mark the proxy drops.
                sameChunks proxy db reference referenceDb [] [ "SELECT v FROM /bi.*/" ] [ ""; "&chunk_size=9999" ])
        }

        test "CSV and pretty JSON stream as InfluxDB streams them" {
            withReference "chunks_formats" (seedLines 4) (fun proxy db reference referenceDb ->
                let queries =
                    [ "SELECT value FROM /m[12]/ WHERE time < 1600000004s GROUP BY *; SHOW TAG VALUES WITH KEY = host; SELECT * FROM nope; SHOW FIELD KEYS; SELECT count(value) FROM /m.*/"
                      "SHOW MEASUREMENTS; SELECT foo(value) FROM /m.*/" ]
                sameChunks proxy db reference referenceDb [ "Accept", "application/csv" ] queries [ ""; "&chunk_size=2"; "&chunk_size=2&epoch=s" ]
                sameChunks proxy db reference referenceDb [] queries [ "&pretty=true"; "&chunk_size=2&pretty=true" ])
        }
    ]

/// Names and values a CSV answer must quote or escape (commas, quotes, spaces, `=`, CR and LF, `\.`, a leading space),
/// floats Go's JSON writes with an exponent, and tag keys that differ between measurements (GROUP BY * gives a series
/// every key of the measurements read, empty where it has none). Every measurement has the same fields.
let private awkwardLines =
    [ "s1 value=1e21,s=\"plain\",f\\,k=1i 1600000001"
      "s1,host=x value=1e-7,s=\"a\\\"b\",f\\,k=2i 1600000002"
      "s1,host=y value=123456789012345678901234.5,s=\"he said \\\"hi\\\", ok\",f\\,k=3i 1600000003"
      "s2,\"q\"=a\\,b value=-0.0000012,s=\" lead\",f\\,k=4i 1600000001"
      "s2,k\\=y=\\.,z=tab\tx value=2,s=\"cr\rx\",f\\,k=5i 1600000002"
      "s3,a=1 value=1,s=\"line\nbreak\",f\\,k=6i 1600000001"
      "s3,b=c\\ d value=3,s=\"\\\\.\",f\\,k=7i 1600000003"
      "s3,b=\u00e9 value=4,s=\"\\.\",f\\,k=8i 1600000004"
      "s3,host=\\ lead value=5,s=\"x\",f\\,k=9i 1600000005"
      "s\\,4,host=a\\,b\\ c\\=d value=6,s=\"\\t\",f\\,k=10i 1600000006" ]
    |> String.concat "\n"

let private csv = [ "Accept", "application/csv" ]

let private answers =
    testList "answers as one InfluxDB" [
        test "a failing statement stops the query: those after it are not run, and answered not executed as InfluxDB answers" {
            withReference "failing" (seedLines 4) (fun proxy db reference referenceDb ->
                let queries =
                    [ "SHOW MEASUREMENTS; SELECT foo(value) FROM /m.*/; SHOW TAG KEYS; SELECT value FROM m1 WHERE time < 1600000003s"
                      "SELECT value FROM /m[12]/ WHERE time < 1600000003s GROUP BY *; SELECT foo(value) FROM m2; SHOW TAG VALUES WITH KEY = host"
                      "SELECT foo(value) FROM m1; SHOW MEASUREMENTS"
                      "SHOW MEASUREMENTS; SELECT * FROM nodb..m1; SHOW MEASUREMENTS; SHOW FIELD KEYS"
                      "SHOW MEASUREMENTS; SELECT count(value) FROM m2; SELECT foo(value) FROM m1" ]
                let options = [ ""; "&chunked=true"; "&chunked=true&chunk_size=1" ]
                sameAnswers proxy db reference referenceDb [] queries options
                sameAnswers proxy db reference referenceDb csv queries (options @ [ "&epoch=s" ])
                for q, kept in [ "SELECT foo(value) FROM /m.*/; DROP MEASUREMENT m2", "m2"; "SELECT foo(value) FROM m1; DROP MEASUREMENT m3", "m3" ] do
                    let reply = post (queryUrl proxy.Url db q) ""
                    Expect.stringContains reply.Body "not executed" reply.Body
                    for c in 0..1 do
                        let server = owner proxy shared.Value db kept c
                        Expect.stringContains (get (queryUrl server.Url db "SHOW MEASUREMENTS")).Body (sprintf "\"%s\"" kept) (q + ": kept on " + server.Name))
        }

        test "CSV not chunked is what InfluxDB writes: a header per statement, blank lines between, times in ns unless epoch" {
            withReference "csv" (seedLines 4) (fun proxy db reference referenceDb ->
                sameAnswers proxy db reference referenceDb csv [
                    "SHOW MEASUREMENTS"
                    "SHOW TAG VALUES WITH KEY = \"host\""
                    "SHOW TAG VALUES WITH KEY =~ /.*/"
                    "SHOW SERIES"
                    "SELECT value FROM /m[1-3]/ WHERE time < 1600000004s GROUP BY *"
                    "SELECT count(value) FROM /m.*/ GROUP BY host"
                    "SELECT value FROM /m[12]/ WHERE time < 1600000004s GROUP BY *; SHOW TAG VALUES WITH KEY = host; SELECT * FROM nope; SHOW FIELD KEYS; SELECT count(value) FROM /m.*/" ]
                    [ ""; "&epoch=s"; "&epoch=ms"; "&pretty=true" ]
                // InfluxDB answers CSV only to an Accept of exactly one of its two CSV types.
                let queries = [ "SHOW MEASUREMENTS"; "SELECT value FROM /m[1-3]/ WHERE time < 1600000004s GROUP BY *" ]
                for accept in [ "text/csv"; "application/csv, application/json"; "application/csv;q=1" ] do
                    sameAnswers proxy db reference referenceDb [ "Accept", accept ] queries [ ""; "&chunked=true" ])
        }

        test "CSV quotes and escapes names, tags and values, and writes floats, as InfluxDB does" {
            withReference "awkward" awkwardLines (fun proxy db reference referenceDb ->
                sameAnswers proxy db reference referenceDb csv [
                    "SELECT * FROM /.*/ GROUP BY *"
                    "SHOW MEASUREMENTS"
                    "SHOW TAG KEYS"
                    "SHOW TAG VALUES WITH KEY =~ /.*/"
                    "SHOW FIELD KEYS" ]
                    [ ""; "&epoch=ms"; "&chunked=true"; "&chunked=true&chunk_size=1" ])
        }
    ]

let private failover =
    testList "failover" [
        test "with a backend down, its measurements are read from the other circle and SHOW still answers" {
            withCluster 2 2 (fun circles ->
                ProxyProcess.using circles [ "\"check_interval\": 1"; "\"write_timeout\": 2" ] (fun proxy ->
                    let db = seed proxy circles "failover" 6
                    let victim = owner proxy circles db "m1" 0
                    kill victim
                    for _ in 1..5 do
                        let reply = get (queryUrl proxy.Url db "SELECT count(value) FROM m1")
                        Expect.equal reply.Status 200 reply.Body
                        Expect.stringContains reply.Body "15" "all 15 points, from the other circle"
                    let show = get (queryUrl proxy.Url db "SHOW MEASUREMENTS")
                    Expect.equal show.Status 200 show.Body
                    Expect.stringContains show.Body "\"m6\"" "fan-out answered by the healthy circle"))
        }

        test "a backend that breaks off its answer midway: the relayed answer breaks too, never ends as if whole; a fanned-out statement answers its error" {
            use backend = FaultyBackend.start "die"
            let proxy = FaultyBackend.proxyInFrontOf backend "broken-answer" []
            try
                let url = sprintf "%s/query?db=db&chunked=true&q=%s" proxy.Url (escape "SELECT v FROM m WHERE host = 'die'")
                use http = new Net.Http.HttpClient()
                use answer = http.GetAsync(url, Net.Http.HttpCompletionOption.ResponseHeadersRead).Result
                Expect.equal (int answer.StatusCode) 200 "the owner's answer, relayed as it streams"
                let body = try Ok(answer.Content.ReadAsStringAsync().Result) with e -> Error(e.GetBaseException())
                Expect.isError body $"the cut answer did not pass for a whole one: {body}"
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 5.0) (fun () -> proxy.Log.Contains "broke off its answer after part of it was relayed")) "logged"
                Expect.equal backend.Deaths.Value 1 "the owner broke off once"
                let fanned = get (sprintf "%s/query?db=db&q=%s" proxy.Url (escape "SHOW MEASUREMENTS WITH MEASUREMENT =~ /die/"))
                Expect.equal fanned.Status 200 fanned.Body
                Expect.stringContains fanned.Body "no circle could answer" "a fanned-out statement's error, as when a backend is down"
                Expect.stringContains fanned.Body "broke off its answer" "why"
            finally ProxyProcess.dispose proxy
        }
    ]

let private refusals =
    testList "refusals" [
        test "empty, forbidden and malformed queries get a 400 with a clear error, never a 5xx" {
            ProxyProcess.using shared.Value [] (fun proxy ->
                let expect400 (q: string) (text: string) =
                    let reply = get (queryUrl proxy.Url "db" q)
                    Expect.equal reply.Status 400 (q + ": " + reply.Body)
                    Expect.stringContains reply.Body text q
                expect400 "" "missing required parameter"
                expect400 ";" "empty query"
                expect400 "SELECT * FROM cpu WHERE host = 'open" "error parsing query"
                expect400 "SELECT * INTO other FROM cpu" "query forbidden"
                expect400 "select * from (SELECT mean(v) INTO x FROM y)" "query forbidden"
                expect400 "alter retention policy autogen on db duration 1d" "query forbidden"
                expect400 "/* hidden */ GRANT ALL PRIVILEGES TO bob" "query forbidden"
                expect400 "SHOW MEASUREMENTS; KILL QUERY 1" "query forbidden"
                let postForm q =
                    let form = new System.Net.Http.FormUrlEncodedContent(dict [ "q", q ])
                    send (new System.Net.Http.HttpRequestMessage(System.Net.Http.HttpMethod.Post, proxy.Url + "/query", Content = form))
                let garbage = postForm (String.replicate 2000 "garbage ((( '")
                Expect.equal garbage.Status 400 "long garbage"
                Expect.stringContains garbage.Body "{\"error\":\"" "long garbage"
                let huge = postForm ("SELECT * FROM cpu WHERE " + String.replicate 500_000 "a=1 OR ")
                Expect.equal huge.Status 413 "a q over the form limits is too large, not a crash"
                let deep = postForm (String.replicate 200 "SELECT * FROM (" + "SELECT * FROM x" + String.replicate 200 ")")
                Expect.equal deep.Status 400 "deeply nested subqueries are refused"
                let reply = postForm "SELECT * INTO x FROM y"
                Expect.equal reply.Status 400 reply.Body
                Expect.stringContains reply.Body "query forbidden" "q from a POST form")
        }

        test "the whitelist covers the db parameter, ON clauses and db.rp.m sources; SHOW DATABASES is filtered" {
            let circles = shared.Value
            let allowed = uniqueDb "allowed"
            for s in List.concat circles do Influx.createDatabase s.Url allowed
            ProxyProcess.using circles [ sprintf "\"db_list\": [\"%s\"]" allowed ] (fun proxy ->
                let status db q = (get (queryUrl proxy.Url db q)).Status
                Expect.equal (status allowed "SHOW MEASUREMENTS") 200 "allowed"
                Expect.equal (status allowed "SHOW RETENTION POLICIES ON _internal") 403 "ON another database"
                Expect.equal (status allowed "SELECT * FROM _internal..runtime") 403 "db.rp.m source"
                Expect.equal (status "_internal" "SHOW MEASUREMENTS") 403 "db parameter"
                let databases = get (queryUrl proxy.Url "" "SHOW DATABASES")
                Expect.stringContains databases.Body allowed "the allowed one"
                Expect.isFalse (databases.Body.Contains "_internal") "others hidden")
        }
    ]

let private run (program: string) (args: string) =
    let info = ProcessStartInfo(program, args, RedirectStandardOutput = true, RedirectStandardError = true)
    use proc = Process.Start info
    let output = proc.StandardOutput.ReadToEnd() + proc.StandardError.ReadToEnd()
    proc.WaitForExit()
    proc.ExitCode, output

let private clients =
    testList "real clients" [
        test "the influx shell works through the proxy with -execute and -database" {
            let circles = shared.Value
            ProxyProcess.using circles [] (fun proxy ->
                let db = seed proxy circles "shell" 3
                let code, output = run "influx" (sprintf "-host 127.0.0.1 -port %d -database %s -execute \"SHOW MEASUREMENTS; SELECT count(value) FROM m2\"" proxy.Port db)
                Expect.equal code 0 output
                Expect.stringContains output "m3" "measurements"
                Expect.stringContains output "15" "count")
        }

        test "python3-influxdb works with its defaults (msgpack Accept) and bound parameters" {
            let circles = shared.Value
            // The script reads right after it writes: answered once stored, as InfluxDB answers.
            ProxyProcess.using circles [ "\"write_ack\": \"stored\"" ] (fun proxy ->
                let db = uniqueDb "python"
                let script =
                    String.concat "\n" [
                        "from influxdb import InfluxDBClient"
                        sprintf "c = InfluxDBClient('127.0.0.1', %d, database='%s')" proxy.Port db
                        sprintf "c.create_database('%s')" db
                        "c.write_points([{'measurement': 'cpu', 'tags': {'host': 'a'}, 'time': 1600000000000000000, 'fields': {'value': 1.5}}])"
                        sprintf "print('databases', '%s' in [d['name'] for d in c.get_list_database()])" db
                        "print('measurements', c.get_list_measurements())"
                        "print('points', list(c.query('SELECT * FROM cpu').get_points()))"
                        "print('bound', list(c.query('SELECT value FROM cpu WHERE host = $h', bind_params={'h': 'a'}).get_points()))"
                        "print('bound fanned out', list(c.query('SELECT value FROM /cp.*/ WHERE host = $h', bind_params={'h': 'a'}).get_points()))" ]
                let path = Path.Combine(proxy.Dir, "client.py")
                File.WriteAllText(path, script)
                let code, output = run "/usr/bin/python3" path
                Expect.equal code 0 output
                Expect.stringContains output "databases True" output
                Expect.stringContains output "'name': 'cpu'" output
                Expect.stringContains output "'value': 1.5" output
                Expect.stringContains output "bound [{'time': '2020-09-13T12:26:40Z', 'value': 1.5}]" output
                Expect.stringContains output "bound fanned out [{'time': '2020-09-13T12:26:40Z', 'value': 1.5}]" output)
        }
    ]

let tests = testList "Query" [ routing; chunked; answers; failover; refusals; clients ]
