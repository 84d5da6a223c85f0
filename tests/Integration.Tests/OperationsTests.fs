module InfluxProxy.Testing.OperationsTests

open System
open System.IO
open System.Net.Http
open System.Text
open System.Text.Json
open Expecto
open InfluxProxy.Core
open InfluxProxy.Testing.Influxd
open InfluxProxy.Testing.Web
open InfluxProxy.Testing.Fixtures

let private withAuth (header: string) (url: string) =
    let request = new HttpRequestMessage(HttpMethod.Get, url)
    request.Headers.TryAddWithoutValidation("Authorization", header) |> ignore
    send request

let private basic (user: string) (password: string) =
    "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password))

let private expectUnauthorized (reply: Reply) =
    Expect.equal reply.Status 401 reply.Body
    Expect.equal (reply.Body.TrimEnd()) """{"error":"authorization failed"}""" "body"
    Expect.equal (reply.Header "WWW-Authenticate") (Some "Basic realm=\"InfluxDB\"") "challenge"

let private auth =
    testList "auth" [
        test "with credentials configured, every way of presenting them works and anything else is 401" {
            ProxyProcess.using shared.Value [ "\"username\":\"admin\""; "\"password\":\"s3cret\""; "\"log_enabled\":true" ] (fun proxy ->
                let replica = proxy.Url + "/replica?db=a&meas=b"
                expectUnauthorized (get replica)
                expectUnauthorized (get (replica + "&u=admin&p=wrong"))
                expectUnauthorized (withAuth (basic "admin" "nope") replica)
                expectUnauthorized (withAuth "Token admin:nope" replica)
                Expect.equal (get (replica + "&u=admin&p=s3cret")).Status 200 "u/p"
                Expect.equal (withAuth (basic "admin" "s3cret") replica).Status 200 "Basic"
                Expect.equal (withAuth "Token admin:s3cret" replica).Status 200 "Token"
                Expect.equal (get (proxy.Url + "/ping")).Status 204 "/ping needs no auth"
                Expect.equal (get (proxy.Url + "/encrypt?msg=x")).Status 200 "/encrypt needs no auth"
                expectUnauthorized (get (proxy.Url + "/decrypt?key=consistentcipher&msg=x"))
                expectUnauthorized (post (proxy.Url + "/write?db=x") "m v=1")
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 5.0) (fun () -> proxy.Log.Contains "GET /replica?db=a&meas=b -> 200")) proxy.Log
                Expect.isFalse (proxy.Log.Contains "s3cret") "credentials never logged, even with log_enabled")
        }

        test "auth_secure compares the encrypted plaintext with the configured ciphertext" {
            // admin -> YgvEyuPZlDYAH8sGDkC!Ag, password -> 7vnwDnX!xzLY_jqHoFX41w
            ProxyProcess.using shared.Value [ "\"username\":\"YgvEyuPZlDYAH8sGDkC!Ag\""; "\"password\":\"7vnwDnX!xzLY_jqHoFX41w\""; "\"auth_secure\":true" ] (fun proxy ->
                let replica = proxy.Url + "/replica?db=a&meas=b"
                Expect.equal (get (replica + "&u=admin&p=password")).Status 200 "plaintext accepted"
                expectUnauthorized (get (replica + "&u=YgvEyuPZlDYAH8sGDkC!Ag&p=7vnwDnX!xzLY_jqHoFX41w")))
        }
    ]

/// A circle of one influxd with authentication on and an admin user, for tests of the proxy's backend credentials.
let private withAuthenticatedBackend (body: Server -> string -> unit) =
    let dir = ProxyProcess.newDir "authd"
    let server = startOnFreePortWith [ "auth-enabled = true" ] "secured-1" (IO.Path.Combine(dir, "secured-1"))
    try
        // The first user may be created without credentials; everything after needs them.
        Influx.query server.Url "" "CREATE USER admin WITH PASSWORD 'pw' WITH ALL PRIVILEGES" |> ignore
        let db = uniqueDb "secured"
        let created = post (sprintf "%s/query?u=admin&p=pw&q=%s" server.Url (escape (sprintf "CREATE DATABASE %s" db))) ""
        if created.Status <> 200 then failwithf "CREATE DATABASE: %s" created.Body
        body server db
    finally
        dispose server
        IO.Directory.Delete(dir, true)

let private backendCredentials =
    testList "backend credentials" [
        test "a backend refusing our credentials keeps the points in its backlog and shows as unauthorized" {
            withAuthenticatedBackend (fun server db ->
                ProxyProcess.using [ [ server ] ] [ "\"check_interval\":1" ] (fun proxy ->
                    let reply = post (sprintf "%s/write?db=%s" proxy.Url db) "cpu v=1 1"
                    Expect.equal reply.Status 204 "accepted into the backlog"
                    let unauthorized () = (get (proxy.Url + "/health")).Body.Contains "\"state\":\"unauthorized\""
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) unauthorized) "health says why"
                    Expect.stringContains (get (proxy.Url + "/health")).Body "\"backlog\":true" "kept"
                    // Pings still succeed (InfluxDB does not check credentials on /ping): the state must not flap back.
                    Expect.isFalse (waitUntil (TimeSpan.FromSeconds 2.5) (unauthorized >> not)) "stays unauthorized"))
        }

        test "auth_secure backend credentials are decrypted and sent to the backend" {
            withAuthenticatedBackend (fun server db ->
                let backend =
                    sprintf "{\"name\":\"secured-1\",\"url\":\"%s\",\"username\":\"%s\",\"password\":\"%s\"}"
                        server.Url (InfluxProxy.Core.Cipher.encrypt "admin") (InfluxProxy.Core.Cipher.encrypt "pw")
                let port = freePort ()
                let config =
                    sprintf "{\"circles\":[{\"name\":\"c\",\"backends\":[%s]}],\"listen_addr\":\"127.0.0.1:%d\",\"auth_secure\":true}" backend port
                let proxy = ProxyProcess.startIn (ProxyProcess.newDir "secure") port config
                try
                    Expect.equal (post (sprintf "%s/write?db=%s" proxy.Url db) "cpu v=1 1").Status 204 "written"
                    let stored () = (get (sprintf "%s/query?u=admin&p=pw&db=%s&q=%s" server.Url db (escape "SELECT count(v) FROM cpu"))).Body
                    waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> (stored ()).Contains "1]") |> ignore
                    Expect.stringContains (stored ()) "1]" "the point reached the backend with the decrypted credentials"
                finally ProxyProcess.dispose proxy)
        }
    ]

let private cipher =
    testList "cipher" [
        test "/encrypt and /decrypt are byte-compatible with the original" {
            ProxyProcess.using shared.Value [] (fun proxy ->
                let encrypted = get (proxy.Url + "/encrypt?msg=admin")
                Expect.equal (encrypted.Status, encrypted.Body) (200, "YgvEyuPZlDYAH8sGDkC!Ag\n") "encrypt"
                let decrypted = get (proxy.Url + "/decrypt?key=consistentcipher&msg=" + escape "YgvEyuPZlDYAH8sGDkC!Ag")
                Expect.equal (decrypted.Status, decrypted.Body) (200, "admin\n") "decrypt"
                let wrongKey = get (proxy.Url + "/decrypt?key=k&msg=x")
                Expect.equal wrongKey.Status 400 wrongKey.Body
                Expect.stringContains wrongKey.Body "invalid key" "message")
        }
    ]

let private state =
    testList "migrate state" [
        test "/migrate/state shows and sets the flags in the original's shapes" {
            ProxyProcess.using shared.Value [] (fun proxy ->
                let url = proxy.Url + "/migrate/state"
                Expect.equal (get url).Body
                    ("""{"circles":[{"circle_id":0,"circle_name":"circle-1","is_migrating":false},{"circle_id":1,"circle_name":"circle-2","is_migrating":false}],"is_resyncing":false}""" + "\n") "GET"
                let set = post (url + "?circle_id=1&migrating=true&resyncing=true") ""
                Expect.equal set.Body ("""{"circle":{"circle_id":1,"circle_name":"circle-2","is_migrating":true},"resyncing":true}""" + "\n") "POST"
                Expect.stringContains (get url).Body "\"circle_id\":1,\"circle_name\":\"circle-2\",\"is_migrating\":true" "kept"
                Expect.equal (post url "").Status 400 "nothing to set"
                let bad = post (url + "?resyncing=true&circle_id=9&migrating=true") ""
                Expect.equal bad.Status 400 bad.Body
                Expect.stringContains bad.Body "invalid circle_id" "bad circle"
                Expect.equal (post (url + "?circle_id=0") "").Status 400 "circle without migrating")
        }

        test "/transfer/state does the same in v2.5.12's shapes" {
            ProxyProcess.using shared.Value [] (fun proxy ->
                let url = proxy.Url + "/transfer/state"
                Expect.equal (get url).Body
                    ("""{"circles":[{"id":0,"name":"circle-1","transferring":false},{"id":1,"name":"circle-2","transferring":false}],"resyncing":false}""" + "\n") "GET"
                let set = post (url + "?circle_id=1&transferring=true") ""
                Expect.equal set.Body ("""{"circle":{"id":1,"name":"circle-2","transferring":true}}""" + "\n") "POST"
                Expect.stringContains (get (proxy.Url + "/migrate/state")).Body "\"circle_id\":1,\"circle_name\":\"circle-2\",\"is_migrating\":true" "one flag, two shapes"
                let bad = post (url + "?circle_id=1&transferring=maybe") ""
                Expect.equal (bad.Status, bad.Body) (400, """{"error":"illegal transferring"}""" + "\n") "bad flag")
        }
    ]

let private health =
    testList "health and metrics" [
        test "/health shows every backend, its load, and a dead one as inactive" {
            withCluster 1 2 (fun circles ->
                let db = uniqueDb "health"
                for s in List.concat circles do Influx.createDatabase s.Url db
                ProxyProcess.using circles [ "\"check_interval\":1"; "\"write_timeout\":2" ] (fun proxy ->
                    let reply = post (sprintf "%s/write?db=%s" proxy.Url db) "cpu v=1 1\nmem v=1 1\ndisk v=1 1"
                    Expect.equal reply.Status 204 reply.Body
                    kill circles.[0].[1]
                    let inactive () =
                        (get (proxy.Url + "/health")).Body.Contains "\"active\":false"
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) inactive) "dead backend shown inactive"
                    use doc = JsonDocument.Parse (get (proxy.Url + "/health")).Body
                    let circle = doc.RootElement[0]
                    Expect.equal (circle.GetProperty("circle").GetString()) "circle-1" "circle name"
                    let alive = circle.GetProperty("backends")[0]
                    Expect.isTrue (alive.GetProperty("active").GetBoolean()) "live backend active"
                    let load = alive.GetProperty("load").GetProperty(db)
                    Expect.equal (load.GetProperty("incorrect").GetInt32()) 0 "nothing misplaced"
                    Expect.equal (load.GetProperty("inplace").GetInt32()) (load.GetProperty("measurements").GetInt32()) "all in place"
                    let dead = circle.GetProperty("backends")[1]
                    Expect.isFalse (dead.GetProperty("active").GetBoolean()) "dead backend"
                    Expect.equal (dead.GetProperty("load").EnumerateObject() |> Seq.length) 0 "no load for a dead backend"))
        }

        test "/metrics exposes the proxy's write-path series in Prometheus text format" {
            ProxyProcess.using shared.Value [] (fun proxy ->
                let db = uniqueDb "metrics"
                for s in List.concat shared.Value do Influx.createDatabase s.Url db
                Expect.equal (post (sprintf "%s/write?db=%s" proxy.Url db) "cpu v=1 1").Status 204 "write"
                let scrape () = get (proxy.Url + "/metrics")
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> (scrape ()).Body.Contains "influxproxy_backend_up{backend=\"influxdb-2-2\"} 1")) "health checked"
                let reply = scrape ()
                Expect.equal reply.Status 200 reply.Body
                let samples =
                    reply.Body.Split('\n')
                    |> Array.filter (fun l -> l <> "" && not (l.StartsWith "#"))
                    |> Array.map (fun l -> let i = l.LastIndexOf ' ' in l.Substring(0, i), float (l.Substring(i + 1)))
                let value name = samples |> Array.filter (fun (k, _) -> k.StartsWith(name + "{")) |> Array.sumBy snd
                Expect.equal (value "influxproxy_backend_points_delivered_total") 2.0 "one point, two circles"
                Expect.equal (value "influxproxy_backend_up") 4.0 "four backends up"
                Expect.isTrue (samples |> Array.exists (fun (k, _) -> k.StartsWith "influxproxy_backlog_bytes{")) "backlog gauge"
                Expect.isTrue (samples |> Array.exists (fun (k, _) -> k.StartsWith "http_requests_received_total{")) "request counter"
                let gauge name = samples |> Array.tryFind (fun (k, _) -> k = name) |> Option.map snd |> Option.defaultValue 0.0
                Expect.isGreaterThanOrEqual (gauge "influxproxy_owner_cache_databases") 1.0 "the database written to is remembered"
                Expect.isGreaterThanOrEqual (gauge "influxproxy_owner_cache_measurements") 1.0 "so is its measurement"
                for name in [ "influxproxy_write_budget_bytes"; "influxproxy_write_budget_waiting"; "influxproxy_write_budget_timeouts_total" ] do
                    Expect.isTrue (samples |> Array.exists (fun (k, _) -> k = name)) name)
        }
    ]

/// A self-signed certificate for 127.0.0.1, written as PEM files into `dir`.
let private selfSignedPem (dir: string) =
    use key = System.Security.Cryptography.RSA.Create 2048
    let request =
        System.Security.Cryptography.X509Certificates.CertificateRequest(
            "CN=127.0.0.1", key, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1)
    use cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays -1.0, DateTimeOffset.UtcNow.AddDays 1.0)
    let certPath, keyPath = IO.Path.Combine(dir, "cert.pem"), IO.Path.Combine(dir, "key.pem")
    IO.File.WriteAllText(certPath, cert.ExportCertificatePem())
    IO.File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem())
    certPath, keyPath

let private debugVars =
    test "/debug/vars answers the process's and every backend's counters as JSON" {
        ProxyProcess.using shared.Value [] (fun proxy ->
            let reply = get (proxy.Url + "/debug/vars")
            Expect.equal reply.Status 200 reply.Body
            use doc = JsonDocument.Parse reply.Body
            Expect.equal (doc.RootElement.GetProperty("backends").GetArrayLength()) 4 "four backends"
            let first = doc.RootElement.GetProperty("backends")[0]
            Expect.equal (first.GetProperty("backlog_oldest_age_seconds").ValueKind) JsonValueKind.Null "an empty backlog has no oldest record"
            Expect.isGreaterThan (doc.RootElement.GetProperty("working_set_bytes").GetInt64()) 0L "memory")
    }

let private https =
    testList "https" [
        test "https_enabled serves TLS with the configured PEM certificate and key" {
            let dir = ProxyProcess.newDir "tls"
            let certPath, keyPath = selfSignedPem dir
            let port = freePort ()
            let config =
                ProxyProcess.configFor shared.Value port
                    [ "\"https_enabled\":true"; sprintf "\"https_cert\":\"%s\"" certPath; sprintf "\"https_key\":\"%s\"" keyPath ]
            IO.File.WriteAllText(IO.Path.Combine(dir, "proxy.json"), config)
            let code, output =
                let proc = Diagnostics.Process.Start(Diagnostics.ProcessStartInfo("dotnet", sprintf "\"%s\" -config proxy.json" ProxyProcess.hostDll, WorkingDirectory = dir, RedirectStandardOutput = true))
                try
                    use handler = new HttpClientHandler(ServerCertificateCustomValidationCallback = (fun _ _ _ _ -> true))
                    use client = new HttpClient(handler)
                    let url = sprintf "https://127.0.0.1:%d/ping" port
                    let answers () = try (client.GetAsync url).Result.StatusCode = Net.HttpStatusCode.NoContent with _ -> false
                    (if waitUntil (TimeSpan.FromSeconds 30.0) answers then 204 else 0), ""
                finally
                    proc.Kill true
                    proc.WaitForExit()
                    IO.Directory.Delete(dir, true)
            Expect.equal code 204 output
        }

        test "a missing certificate file stops the proxy with one clear line and a non-zero exit" {
            let dir = ProxyProcess.newDir "badtls"
            let config = ProxyProcess.configFor shared.Value (freePort ()) [ "\"https_enabled\":true"; "\"https_cert\":\"nope.pem\""; "\"https_key\":\"nope.key\"" ]
            IO.File.WriteAllText(IO.Path.Combine(dir, "proxy.json"), config)
            let code, output = ProxyProcess.run dir "-config proxy.json"
            IO.Directory.Delete(dir, true)
            Expect.equal code 1 output
            Expect.stringContains output "cannot start" output
            Expect.isFalse (output.Contains "   at ") "no stack trace"
        }
    ]

/// A proxy.json as v2.5.12 writes it, in front of the shared cluster: its keys, a write_only backend, credentials.
let private v2512Config (circles: Server list list) (port: int) (writeOnly: Server) =
    let backend (s: Server) =
        sprintf "{\"name\":\"%s\",\"url\":\"%s\",\"auth_encrypt\":false,\"write_only\":%b}" s.Name s.Url (s = writeOnly)
    let circle i (servers: Server list) =
        sprintf "{\"name\":\"circle-%d\",\"backends\":[%s]}" (i + 1) (servers |> List.map backend |> String.concat ",")
    sprintf "{\"circles\":[%s],\"listen_addr\":\"127.0.0.1:%d\",\"tlog_dir\":\"tlog\",\"shard_key\":\"%%db,%%mm\",\"rewrite_threads\":5,\"conn_pool_size\":20,\"username\":\"u\",\"password\":\"p\",\"auth_encrypt\":false,\"ping_auth_enabled\":true,\"write_tracing\":false,\"query_tracing\":false,\"pprof_enabled\":false,\"tls\":{\"ciphers\":[],\"min_version\":\"\",\"max_version\":\"\"}}"
        (circles |> List.mapi circle |> String.concat ",") port

let private v2512 =
    testList "v2.5.12 config" [
        test "a v2.5.12 proxy.json runs as is: ping_auth_enabled guards /ping and /metrics, a write_only backend answers no query another owner can, inert keys are named" {
            let circles = shared.Value
            let db = uniqueDb "v2512"
            for server in List.concat circles do Influx.createDatabase server.Url db
            let port = freePort ()
            let first = circles[0][0]
            let owners =
                ProxyConfig.parse (v2512Config circles port first) |> Result.defaultWith (failwithf "%A") |> ProxyConfig.placement
                |> Placement.owners db "wo"
            let writeOnly, reader = circles[0][owners[0]], circles[1][owners[1]]
            let proxy = ProxyProcess.startIn (ProxyProcess.newDir "v2512") port (v2512Config circles port writeOnly)
            try
                for path in [ "/ping"; "/PING"; "/ping/"; "/metrics"; "/Metrics/" ] do expectUnauthorized (get (proxy.Url + path))
                Expect.equal (get (proxy.Url + "/ping?u=u&p=p")).Status 204 "/ping with credentials"
                Expect.equal (post (sprintf "%s/write?db=%s&u=u&p=p" proxy.Url db) "wo v=1 1").Status 204 "written"
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> (Influx.countsByMeasurement writeOnly.Url db "v").ContainsKey "wo")) "landed"
                // Only the write_only owner gets a second point: answers from the other owner count one.
                Expect.equal (post (sprintf "%s/write?db=%s" writeOnly.Url db) "wo v=2 2").Status 204 "direct"
                for _ in 1..10 do
                    let answer = get (sprintf "%s/query?db=%s&u=u&p=p&q=%s" proxy.Url db (escape "SELECT count(v) FROM wo"))
                    Expect.stringContains answer.Body ",1]]" $"answered by {reader.Name}, not the write_only {writeOnly.Name}"
                let health = get (proxy.Url + "/health?u=u&p=p&stats=false")
                Expect.stringContains health.Body $"\"url\":\"{writeOnly.Url}\",\"write_only\":true" "/health shows write_only"
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 5.0) (fun () -> proxy.Log.Contains "no effect here: rewrite_threads, conn_pool_size")) proxy.Log
            finally ProxyProcess.dispose proxy
        }
    ]

/// The v2.5.12 sample files' way of writing a 2×2 cluster, in TOML and in YAML.
let private tomlConfig (circles: Server list list) (port: int) (extra: string) =
    let backends (servers: Server list) =
        servers |> List.map (fun s -> $"[[circles.backends]]\nname = \"{s.Name}\"\nurl = \"{s.Url}\"\nusername = \"\"\npassword = \"\"\n") |> String.concat ""
    let circle i servers = $"[[circles]]\nname = \"circle-{i + 1}\"\n" + backends servers
    $"listen_addr = \"127.0.0.1:{port}\"\ndb_list = []\ntlog_dir = \"log\"\nflush_size = 10000\nwrite_tracing = false\n{extra}\n"
    + (circles |> List.mapi circle |> String.concat "") + "[tls]\nciphers = []\n"

let private yamlConfig (circles: Server list list) (port: int) (extra: string) =
    let backend (s: Server) = $"      - name: {s.Name}\n        url: {s.Url}\n        username: \"\"\n        password: \"\"\n"
    let circle i (servers: Server list) = $"  - name: circle-{i + 1}\n    backends:\n" + (servers |> List.map backend |> String.concat "")
    $"listen_addr: \"127.0.0.1:{port}\"\ndb_list: []\ntlog_dir: log\nflush_size: 10000\nwrite_tracing: false\n{extra}\ncircles:\n"
    + (circles |> List.mapi circle |> String.concat "") + "tls:\n  ciphers: []\n"

let private formats =
    testList "config formats" [
        test "v2.5.12's TOML and YAML files run the proxy with the same keys, and the same loud checks" {
            let circles = shared.Value
            let db = uniqueDb "formats"
            for server in List.concat circles do Influx.createDatabase server.Url db
            for file, render in [ "proxy.toml", tomlConfig; "proxy.yaml", yamlConfig; "proxy.yml", yamlConfig ] do
                let port = freePort ()
                let proxy = ProxyProcess.startWithFile file (ProxyProcess.newDir "formats") port (render circles port "")
                try Expect.equal (post $"{proxy.Url}/write?db={db}" "formats v=1 1").Status 204 $"{file}: written"
                finally ProxyProcess.dispose proxy
                let dir = ProxyProcess.newDir "formats-bad"
                try
                    let bad = if file.EndsWith ".toml" then "colour = \"red\"\nflush_size = 0" else "colour: red\nflush_size: 0"
                    File.WriteAllText(Path.Combine(dir, file), render circles (freePort ()) bad)
                    let code, output = ProxyProcess.run dir $"-config {file}"
                    Expect.equal code 1 output
                    Expect.stringContains output $"{file}: colour: unknown key" "an unknown key, by its path"
                    Expect.stringContains output $"{file}: flush_size: must be a positive integer" "a bad value, by its key"
                    File.WriteAllText(Path.Combine(dir, file), (if file.EndsWith ".toml" then "circles = [" else "circles: ["))
                    let code, output = ProxyProcess.run dir $"-config {file}"
                    Expect.equal code 1 output
                    Expect.stringContains output $"{file}: invalid" "a file that does not parse: one clear line"
                finally Directory.Delete(dir, true)
        }
    ]

let private profiling =
    testList "profiling" [
        test "/debug/pprof serves a CPU trace of the proxy, its heap and its threads, on a loopback listener without credentials" {
            ProxyProcess.using shared.Value [] (fun proxy ->
                Expect.stringContains (get (proxy.Url + "/debug/pprof/")).Body "/debug/pprof/profile?seconds=" "an index"
                use response = client.GetAsync(proxy.Url + "/debug/pprof/profile?seconds=1").Result
                let trace = response.Content.ReadAsByteArrayAsync().Result
                Expect.equal (int response.StatusCode) 200 "a trace"
                Expect.equal (Encoding.ASCII.GetString(trace, 0, 8)) "Nettrace" "in the format dotnet-trace writes"
                Expect.isGreaterThan trace.Length 10_000 "with the samples and the rundown in it"
                let heap = JsonDocument.Parse((get (proxy.Url + "/debug/pprof/heap")).Body).RootElement
                Expect.isGreaterThan (heap.GetProperty("heap_bytes").GetInt64()) 0L "the heap"
                Expect.equal (heap.GetProperty("generations").GetArrayLength()) 5 "gen0, gen1, gen2, loh, poh"
                Expect.stringContains (get (proxy.Url + "/debug/pprof/threads")).Body "\"thread_pool_threads\"" "the threads"
                Expect.equal (get (proxy.Url + "/debug/pprof/profile?seconds=0")).Status 400 "a duration out of range"
                let first = client.GetAsync(proxy.Url + "/debug/pprof/profile?seconds=3")
                Threading.Thread.Sleep 500
                Expect.equal (get (proxy.Url + "/debug/pprof/profile?seconds=1")).Status 409 "one profile at a time"
                first.Result.Dispose()
                // A client gone mid-profile: the session still ends, and the next profile is taken.
                using (new Threading.CancellationTokenSource(500)) (fun gone ->
                    try client.GetAsync(proxy.Url + "/debug/pprof/profile?seconds=5", gone.Token).Result.Dispose() with _ -> ())
                let taken () = (get (proxy.Url + "/debug/pprof/profile?seconds=1")).Status = 200
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 20.0) taken) "profiling goes on after a client left")
        }

        test "without credentials on a listener others can reach, /debug/pprof is closed unless pprof_enabled opens it" {
            let port = freePort ()
            let openTo (extra: string list) =
                ProxyProcess.startIn (ProxyProcess.newDir "pprof") port (ProxyProcess.configFor shared.Value port ($"\"listen_addr\": \":{port}\"" :: extra))
            let closed = openTo []
            try
                let reply = get $"http://127.0.0.1:{port}/debug/pprof/heap"
                Expect.equal reply.Status 403 reply.Body
                Expect.stringContains reply.Body "pprof_enabled" "says how to open it"
            finally ProxyProcess.dispose closed
            let opened = openTo [ "\"pprof_enabled\": true" ]
            try Expect.equal (get $"http://127.0.0.1:{port}/debug/pprof/heap").Status 200 "pprof_enabled"
            finally ProxyProcess.dispose opened
        }
    ]

let tests = testList "Operations" [ auth; backendCredentials; cipher; state; health; debugVars; https; v2512; formats; profiling ]
