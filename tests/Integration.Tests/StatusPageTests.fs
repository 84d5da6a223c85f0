/// The status page at / and /ui, loaded in headless Chromium (Debian's `chromium`, which build.fsx installs).
module InfluxProxy.Testing.StatusPageTests

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open System.Text.RegularExpressions
open Expecto
open InfluxProxy.Testing.Influxd
open InfluxProxy.Testing.Web
open InfluxProxy.Testing.Fixtures

let private credentials = [ "\"username\":\"admin\""; "\"password\":\"s3cret\""; "\"check_interval\":1" ]

/// Runs headless Chromium with its own profile under `dir`; returns what it printed on stdout.
let private chromium (dir: string) (args: string) =
    let info =
        ProcessStartInfo(
            "chromium",
            sprintf "--headless=new --no-sandbox --disable-gpu --user-data-dir=\"%s\" %s" (Path.Combine(dir, "profile")) args,
            RedirectStandardOutput = true,
            RedirectStandardError = true)
    use proc = Process.Start info
    let output = proc.StandardOutput.ReadToEndAsync()
    // Its stderr is dbus and GPU noise; read so that a full pipe cannot block it.
    proc.ErrorDataReceived.Add ignore
    proc.BeginErrorReadLine()
    if not (proc.WaitForExit(TimeSpan.FromSeconds 60.0)) then
        proc.Kill true
        failwithf "chromium %s did not exit" args
    output.Result

/// The DOM after the page's script ran for 6 s of virtual time: three refreshes.
let private dumpDom (dir: string) (url: string) = chromium dir (sprintf "--virtual-time-budget=6000 --dump-dom \"%s\"" url)

/// A screenshot of the page, kept next to the test binaries (artefacts/status-page.png); returns its path.
let private screenshot (dir: string) (url: string) =
    let shot = Path.Combine(dir, "status-page.png")
    chromium dir (sprintf "--virtual-time-budget=6000 --window-size=1280,900 --screenshot=\"%s\" \"%s\"" shot url) |> ignore
    Expect.isTrue (File.Exists shot) "screenshot written"
    let artefacts = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "artefacts"))
    let kept = Path.Combine(artefacts.FullName, "status-page.png")
    File.Copy(shot, kept, true)
    kept

/// The text of the row of backend `name`, of its cell `cell` (a class), and whether the row says it is active.
let private backendCell (dom: string) (name: string) (cell: string) =
    let row = Regex.Match(dom, sprintf "<tr data-backend=\"%s\" data-active=\"(true|false)\">(.*?)</tr>" (Regex.Escape name))
    Expect.isTrue row.Success (sprintf "a row for %s in\n%s" name dom)
    let td = Regex.Match(row.Groups[2].Value, sprintf "<td class=\"[^\"]*\\b%s\">(.*?)</td>" cell)
    Expect.isTrue td.Success (sprintf "cell %s of %s in\n%s" cell name row.Value)
    row.Groups[1].Value = "true", Regex.Replace(td.Groups[1].Value, "<[^>]+>", " ").Trim()

/// Whether `server` is active, and the records waiting in its backlog, as /health says.
let private healthOf (proxy: ProxyProcess.Proxy) (server: Server) =
    use doc = JsonDocument.Parse (get (proxy.Url + "/health?stats=false&u=admin&p=s3cret")).Body
    doc.RootElement.EnumerateArray()
    |> Seq.collect (fun c -> c.GetProperty("backends").EnumerateArray())
    |> Seq.find (fun b -> b.GetProperty("name").GetString() = server.Name)
    |> fun b -> b.GetProperty("active").GetBoolean(), b.GetProperty("backlog_records").GetInt64()

let private page =
    testList "page" [
        test "/ and /ui need the credentials, answer self-contained HTML and allow nothing from elsewhere" {
            ProxyProcess.using shared.Value credentials (fun proxy ->
                for path in [ "/"; "/ui" ] do
                    let refused = get (proxy.Url + path)
                    Expect.equal refused.Status 401 refused.Body
                    Expect.equal (refused.Header "WWW-Authenticate") (Some "Basic realm=\"InfluxDB\"") "challenge"
                    let reply = get (proxy.Url + path + "?u=admin&p=s3cret")
                    Expect.equal reply.Status 200 reply.Body
                    Expect.equal (reply.Header "Content-Type") (Some "text/html; charset=utf-8") "HTML"
                    let policy = reply.Header "Content-Security-Policy" |> Option.defaultValue ""
                    Expect.stringContains policy "default-src 'none'" "nothing by default"
                    Expect.stringContains policy "connect-src 'self'" "fetches only from the proxy"
                    for scheme in [ "http:"; "https:"; "//cdn" ] do
                        Expect.isFalse (reply.Body.Contains(scheme, StringComparison.OrdinalIgnoreCase)) (sprintf "%s in the page" scheme)
                    for reference in [ " src="; " href="; "url("; "@import" ] do
                        Expect.isFalse (reply.Body.Contains reference) (sprintf "%s in the page" reference)
                    Expect.isFalse (reply.Body.Contains "innerHTML") "no data parsed as HTML")
        }

        test "in Chromium it shows a killed backend down with its backlog, the others up with their load, and a write rate" {
            withCluster 2 1 (fun circles ->
                let db = uniqueDb "status"
                for server in List.concat circles do Influx.createDatabase server.Url db
                ProxyProcess.using circles credentials (fun proxy ->
                    let write () = post (sprintf "%s/write?db=%s&u=admin&p=s3cret" proxy.Url db) "cpu,host=a v=1\nmem,host=a v=2"
                    Expect.equal (write ()).Status 204 "written while all are up"
                    let dead, alive = circles[1][0], circles[0][0]
                    kill dead
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> not (fst (healthOf proxy dead)))) "seen down"
                    Expect.equal (write ()).Status 204 "written with one down"
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> snd (healthOf proxy dead) > 0L)) "backlogged"
                    let dir = ProxyProcess.newDir "status-page"
                    // Points keep coming while the page loads, so that successive snapshots differ.
                    use stop = new Threading.CancellationTokenSource()
                    let writer = Threading.Tasks.Task.Run(fun () -> while not stop.IsCancellationRequested do write () |> ignore)
                    try
                        let url = sprintf "%s/ui?u=admin&p=s3cret" proxy.Url
                        let dom = dumpDom dir url
                        let deadActive, deadState = backendCell dom dead.Name "state"
                        Expect.isFalse deadActive "killed backend inactive"
                        Expect.stringStarts deadState "down" "killed backend shown down"
                        let _, records = backendCell dom dead.Name "backlog-records"
                        Expect.isGreaterThan (Int64.Parse(records, Globalization.NumberStyles.AllowThousands, Globalization.CultureInfo.InvariantCulture)) 0L "backlog records"
                        let _, bytes = backendCell dom dead.Name "backlog-bytes"
                        Expect.notEqual bytes "0 B" "backlog bytes"
                        let _, age = backendCell dom dead.Name "backlog-age"
                        Expect.isMatch age "^\\d+ s$" "oldest record's age"
                        let aliveActive, aliveState = backendCell dom alive.Name "state"
                        Expect.isTrue aliveActive "live backend active"
                        Expect.equal aliveState "up" "live backend shown up"
                        let _, load = backendCell dom alive.Name "load"
                        Expect.stringContains load (sprintf "%s: 2 in place" db) "its load"
                        let rate = Regex.Match(dom, "<strong id=\"rate\">([^<]*)</strong>").Groups[1].Value
                        Expect.isMatch rate "^[1-9][\\d,]* points/s$" "a write rate from successive snapshots"
                        Expect.stringContains dom "no migration jobs" "jobs"
                        // Credentials in the address are sent as Basic; the page's fetches must carry them too.
                        let withBasic = dumpDom dir (proxy.Url.Replace("://", "://admin:s3cret@") + "/")
                        Expect.equal (backendCell withBasic alive.Name "state") (true, "up") "/ with Basic credentials"
                        printfn "status page screenshot: %s" (screenshot dir url)
                    finally
                        stop.Cancel()
                        writer.Wait()
                        Directory.Delete(dir, true)))
        }

        test "in Chromium a migration job shows its state, its steps and a full progress bar once done" {
            withCluster 2 1 (fun circles ->
                let db = uniqueDb "statusjob"
                for server in List.concat circles do Influx.createDatabase server.Url db
                ProxyProcess.using circles credentials (fun proxy ->
                    Expect.equal (post (sprintf "%s/write?db=%s&u=admin&p=s3cret" proxy.Url db) "cpu v=1\nmem v=2").Status 204 "written"
                    let landed () = circles |> List.forall (fun c -> (Influx.countsByMeasurement c[0].Url db "v").Count = 2)
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) landed) "landed"
                    let started = post (proxy.Url + "/resync?days=1&u=admin&p=s3cret") ""
                    Expect.equal started.Status 202 started.Body
                    let jobs () = JsonDocument.Parse((get (proxy.Url + "/migrate/jobs?u=admin&p=s3cret")).Body).RootElement[0]
                    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 60.0) (fun () -> (jobs ()).GetProperty("state").GetString() = "done")) "job done"
                    let job = jobs ()
                    let total = job.GetProperty("points_total").GetInt64()
                    Expect.isGreaterThan total 0L "points to copy"
                    let dir = ProxyProcess.newDir "status-page-job"
                    try
                        let dom = dumpDom dir (sprintf "%s/?u=admin&p=s3cret" proxy.Url)
                        let row = Regex.Match(dom, sprintf "<tr data-job=\"%s\">(.*?)</tr>" (job.GetProperty("id").GetString()))
                        Expect.isTrue row.Success dom
                        Expect.stringContains row.Value ">resync<" "operation"
                        Expect.stringContains row.Value "<td class=\"state\">done</td>" "state"
                        let bar = Regex.Match(row.Value, "<progress max=\"(\\d+)\" value=\"(\\d+)\">")
                        Expect.isTrue bar.Success row.Value
                        Expect.equal bar.Groups[2].Value bar.Groups[1].Value "a full bar"
                        Expect.stringContains row.Value (sprintf "%d / %d" total total) "points copied of the total"
                        Expect.stringContains row.Value (sprintf "%d done" (job.GetProperty("steps").GetArrayLength())) "every step done"
                    finally Directory.Delete(dir, true)))
        }
    ]

let tests = testList "StatusPage" [ page ]
