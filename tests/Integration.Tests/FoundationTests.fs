module InfluxProxy.Testing.FoundationTests

open System.IO
open System.Text.Json
open Expecto
open InfluxProxy.Core
open InfluxProxy.Testing.Influxd
open InfluxProxy.Testing.Web
open InfluxProxy.Testing.Fixtures

let private runIn (files: (string * string) list) (args: string) =
    let dir = ProxyProcess.newDir "cli"
    for name, text in files do File.WriteAllText(Path.Combine(dir, name), text)
    try ProxyProcess.run dir args finally Directory.Delete(dir, true)

let private commandLine =
    testList "command line" [
        test "-version prints version, commit and build time, and exits 0 without a config" {
            let code, output = runIn [] "-version"
            Expect.equal code 0 output
            Expect.stringContains output "Version:    0." "version line, value in column 13"
            Expect.stringContains output "Git commit: " "commit line"
            Expect.stringContains output "Build time: " "build time line"
        }

        test "--version=true works in Go's flag syntax" {
            let code, output = runIn [] "--version=true"
            Expect.equal code 0 output
        }

        test "an unknown flag exits 2 with Go's message and the usage" {
            let code, output = runIn [] "-x"
            Expect.equal code 2 output
            Expect.stringContains output "flag provided but not defined: -x" "message"
            Expect.stringContains output "proxy config file with json/yaml/toml format (default \"proxy.json\")" "usage, in v2.5.12's words"
        }

        test "a missing config file exits 1 with one clear line" {
            let code, output = runIn [] "-config nowhere.json"
            Expect.equal code 1 output
            Expect.stringContains output "nowhere.json: cannot read" "message"
            Expect.isFalse (output.Contains "   at ") "no stack trace"
        }

        test "a bad config exits 1 listing every error with its key path" {
            let bad = """{"circles":[{"name":"c","backends":[{"name":"a","url":"x"},{"name":"a","url":"http://h:1"}]}],"hash_key":"no","flush_size":0,"colour":1}"""
            let code, output = runIn [ "bad.json", bad ] "-config=bad.json"
            Expect.equal code 1 output
            for expected in
                [ "bad.json: circles[0].backends[0].url: not an absolute http(s) URL: \"x\""
                  "bad.json: circles[0].backends[1].name: duplicate backend name \"a\" (also at circles[0].backends[0])"
                  "bad.json: hash_key: invalid hash_key"
                  "bad.json: flush_size: must be a positive integer"
                  "bad.json: colour: unknown key" ] do
                Expect.stringContains output expected "error line"
            Expect.isFalse (output.Contains "   at ") "no stack trace"
        }
    ]

/// Servers that were never started: ports nobody listens on.
let private deadCircles () =
    [ for c in 1..2 -> [ for b in 1..2 -> { Name = sprintf "dead-%d-%d" c b; Port = freePort (); Https = false; Dir = ""; Process = null } ] ]

let private endpoints =
    testList "endpoints" [
        test "the proxy starts and answers /ping when every backend is down" {
            ProxyProcess.using (deadCircles ()) [] (fun proxy ->
                let reply = get (proxy.Url + "/ping")
                Expect.equal reply.Status 204 "ping")
        }

        test "a SIGTERM while a ping hangs still drains, commits and closes everything, and exits 0" {
            // A backend that takes connections and never answers: every ping waits write_timeout.
            use silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0)
            silent.Start()
            let port = (silent.LocalEndpoint :?> System.Net.IPEndPoint).Port
            let accepted = System.Collections.Concurrent.ConcurrentBag<System.Net.Sockets.TcpClient>()
            let accepting = System.Threading.Tasks.Task.Run(fun () -> try (while true do accepted.Add(silent.AcceptTcpClient())) with _ -> ())
            let proxyPort = freePort ()
            let config =
                sprintf """{"circles":[{"name":"c","backends":[{"name":"silent","url":"http://127.0.0.1:%d"}]}],"listen_addr":"127.0.0.1:%d","check_interval":1,"write_timeout":10}""" port proxyPort
            let proxy = ProxyProcess.startIn (ProxyProcess.newDir "silent") proxyPort config
            try
                Expect.isTrue (waitUntil (System.TimeSpan.FromSeconds 10.0) (fun () -> not accepted.IsEmpty)) "a ping is in flight"
                Expect.isTrue (ProxyProcess.terminate (System.TimeSpan.FromSeconds 20.0) proxy) "exits"
                Expect.equal proxy.Process.ExitCode 0 proxy.Log
                Expect.stringContains proxy.Log "background work stopped in order" "every part stopped"
            finally
                ProxyProcess.dispose proxy
                silent.Stop()
                for client in accepted do client.Dispose()
                accepting.Wait(System.TimeSpan.FromSeconds 5.0) |> ignore
        }

        test "/ping answers every method with 204 and InfluxDB 1.x headers" {
            ProxyProcess.using shared.Value [] (fun proxy ->
                for verb in [ "GET"; "HEAD"; "POST" ] do
                    let reply = methodTo verb (proxy.Url + "/ping")
                    Expect.equal reply.Status 204 verb
                    Expect.stringStarts (reply.Header "X-Influxdb-Version" |> Option.defaultValue "") "1." "a 1.x version"
                    Expect.stringStarts (reply.Header "X-Influxdb-Build" |> Option.defaultValue "") "InfluxProxy " "our build"
                    Expect.isSome (reply.Header "Request-Id") "request id"
                    Expect.equal (reply.Header "X-Request-Id") (reply.Header "Request-Id") "same id twice")
        }

        test "/ping?verbose=true answers 200 with the version as InfluxDB does" {
            ProxyProcess.using shared.Value [] (fun proxy ->
                let reply = get (proxy.Url + "/ping?verbose=true")
                Expect.equal reply.Status 200 reply.Body
                use doc = JsonDocument.Parse reply.Body
                Expect.stringStarts (doc.RootElement.GetProperty("version").GetString()) "1." "version")
        }

        test "/replica names the ring owner in every circle" {
            ProxyProcess.using shared.Value [] (fun proxy ->
                let config = File.ReadAllText(Path.Combine(proxy.Dir, "proxy.json")) |> ProxyConfig.parse |> Result.defaultWith (failwithf "%A")
                for m in [ "cpu1"; "cpu2"; "cpu3"; "温度"; "cpu load" ] do
                    let reply = get (sprintf "%s/replica?db=db1&meas=%s" proxy.Url (escape m))
                    Expect.equal reply.Status 200 reply.Body
                    let owners = ProxyConfig.placement config |> Placement.owners "db1" m
                    let expected =
                        owners
                        |> List.mapi (fun c i ->
                            let s = shared.Value[c][i]
                            sprintf """{"circle":"circle-%d","name":"%s","url":"%s"}""" (c + 1) s.Name s.Url)
                    Expect.equal (reply.Body.TrimEnd()) ("[" + String.concat "," expected + "]") m)
        }

        test "/replica without db or meas is a 400 JSON error" {
            ProxyProcess.using shared.Value [] (fun proxy ->
                for query in [ ""; "?db=db1"; "?meas=cpu" ] do
                    let reply = get (proxy.Url + "/replica" + query)
                    Expect.equal reply.Status 400 query
                    Expect.equal (reply.Body.TrimEnd()) """{"error":"invalid db or meas"}""" query
                    Expect.equal (reply.Header "X-Influxdb-Error") (Some "invalid db or meas") query)
        }

        test "unknown paths are 404 and wrong methods 405, both as JSON errors" {
            ProxyProcess.using shared.Value [] (fun proxy ->
                let missing = get (proxy.Url + "/nowhere")
                Expect.equal missing.Status 404 missing.Body
                Expect.equal (missing.Body.TrimEnd()) """{"error":"not found: /nowhere"}""" "404 body"
                let wrong = post (proxy.Url + "/replica?db=a&meas=b") ""
                Expect.equal wrong.Status 405 wrong.Body
                Expect.equal (wrong.Body.TrimEnd()) """{"error":"method not allowed: POST /replica"}""" "405 body")
        }
    ]

let private scripts =
    testList "scripts" [
        test "the query-classifying script #r's the built core and classifies with its parser" {
            let root = Path.GetFullPath(Path.Combine(Path.GetDirectoryName ProxyProcess.hostDll, "..", "..", "..", "..", ".."))
            let queries = Path.GetTempFileName()
            File.WriteAllText(queries, "SELECT * FROM cpu\nGRANT ALL TO x\n")
            try
                let info = System.Diagnostics.ProcessStartInfo("dotnet", sprintf "fsi scripts/classify-queries.fsx \"%s\"" queries, WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true)
                use proc = System.Diagnostics.Process.Start info
                let output = proc.StandardOutput.ReadToEnd() + proc.StandardError.ReadToEnd()
                proc.WaitForExit()
                Expect.equal proc.ExitCode 0 output
                Expect.stringContains output "Select on db -, measurement cpu" "routed"
                Expect.stringContains output "query forbidden: GRANT is per server" "refused, in the proxy's words"
            finally
                File.Delete queries
        }
    ]

let private backends =
    testList "real influxd" [
        test "every server of the shared cluster is a real InfluxDB 1.x" {
            for server in List.concat shared.Value do
                let reply = get (server.Url + "/ping")
                Expect.equal reply.Status 204 server.Name
                Expect.stringStarts (reply.Header "X-Influxdb-Version" |> Option.defaultValue "") "1.6" server.Name
        }
    ]

let tests = testList "Foundation" [ commandLine; endpoints; backends; scripts ]
