/// Real InfluxDB 1.x servers on loopback for tests, the benchmark and `build.fsx run`.
/// Plain BCL only: build.fsx `#load`s this file too.
module InfluxProxy.Testing.Influxd

open System
open System.Diagnostics
open System.IO
open System.Net
open System.Net.Http
open System.Net.Sockets
open System.Threading

module Signals =
    [<System.Runtime.InteropServices.DllImport("libc", SetLastError = true)>]
    extern int private kill(int pid, int signal)

    let term = 15
    let stop = 19
    let cont = 18

    /// Sends a POSIX signal: SIGTERM for a graceful stop, SIGSTOP/SIGCONT to hang and resume a server.
    let send (signal: int) (proc: Process) =
        if kill (proc.Id, signal) <> 0 then failwithf "kill(%d, %d) failed" proc.Id signal

/// A running `influxd`: its HTTP port (serving https when `Https`), data folder and process.
type Server =
    { Name: string
      Port: int
      Https: bool
      Dir: string
      /// Replaced by `restart`.
      mutable Process: Process }
    member s.Url = sprintf "%s://127.0.0.1:%d" (if s.Https then "https" else "http") s.Port

/// Ports handed out by this process, never handed out again.
let private handedOut = System.Collections.Generic.HashSet<int>()

/// A loopback port nobody listens on right now, below the kernel's ephemeral range (32768 and up): a port the
/// kernel picked for us there could be picked again for some outgoing connection before the server binds it (a
/// proxy once failed to start so, "address already in use").
let freePort () =
    let rec pick () =
        let port = Random.Shared.Next(10_000, 32_768)
        let fresh = lock handedOut (fun () -> handedOut.Add port)
        let bindable =
            fresh
            && (try
                    use listener = new TcpListener(IPAddress.Loopback, port)
                    listener.Start()
                    true
                with :? SocketException -> false)
        if bindable then port else pick ()
    pick ()

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
let waitUntil (timeout: TimeSpan) (condition: unit -> bool) =
    let deadline = DateTime.UtcNow + timeout
    let rec loop () =
        if condition () then true
        elif DateTime.UtcNow > deadline then false
        else Thread.Sleep 50; loop ()
    loop ()

/// Checks no certificate: a test may give a server one that the proxy is not to trust.
let private http =
    new HttpClient(new HttpClientHandler(ServerCertificateCustomValidationCallback = (fun _ _ _ _ -> true)), Timeout = TimeSpan.FromSeconds 2.0)

let ping (url: string) =
    try
        use response = http.GetAsync(url + "/ping").GetAwaiter().GetResult()
        response.StatusCode = HttpStatusCode.NoContent
    with _ -> false

/// An influxd config with its own folders, HTTP on `port`, RPC off :8088 and reporting off; `http` adds [http] settings.
let configText (dir: string) (port: int) (rpcPort: int) (http: string list) =
    let path (sub: string) = Path.Combine(dir, sub).Replace("\\", "/")
    String.concat "\n" [
        "reporting-enabled = false"
        sprintf "bind-address = \"127.0.0.1:%d\"" rpcPort
        "[meta]"
        sprintf "  dir = \"%s\"" (path "meta")
        "  logging-enabled = false"
        "[data]"
        sprintf "  dir = \"%s\"" (path "data")
        sprintf "  wal-dir = \"%s\"" (path "wal")
        "  query-log-enabled = false"
        "  trace-logging-enabled = false"
        "[monitor]"
        "  store-enabled = false"
        "[http]"
        sprintf "  bind-address = \"127.0.0.1:%d\"" port
        "  log-enabled = false"
        yield! (if http |> List.exists (fun h -> h.StartsWith "max-body-size") then [] else [ "  max-body-size = 0" ])
        yield! http |> List.map ((+) "  ")
        "[logging]"
        "  level = \"error\""
        "[continuous_queries]"
        "  enabled = false"
        "" ]

/// The [http] settings that serve https with a PEM certificate and key.
let private httpsSettings (certPath: string) (keyPath: string) =
    [ "https-enabled = true"; sprintf "https-certificate = \"%s\"" certPath; sprintf "https-private-key = \"%s\"" keyPath ]

/// Starts influxd and waits for /ping; None when it exited at once, as it does when a port it was given is taken.
let private tryLaunch (dir: string) (port: int) (https: bool) (http: string list) =
    Directory.CreateDirectory dir |> ignore
    let configPath = Path.Combine(dir, "influxdb.conf")
    File.WriteAllText(configPath, configText dir port (freePort ()) http)
    let info = ProcessStartInfo("influxd", sprintf "-config %s" configPath)
    info.RedirectStandardOutput <- true
    info.RedirectStandardError <- true
    let proc = Process.Start info
    proc.OutputDataReceived.Add ignore
    proc.ErrorDataReceived.Add ignore
    proc.BeginOutputReadLine()
    proc.BeginErrorReadLine()
    let url = sprintf "%s://127.0.0.1:%d" (if https then "https" else "http") port
    if not (waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> proc.HasExited || ping url)) then
        proc.Kill true
        failwithf "influxd on port %d did not answer /ping (see %s)" port configPath
    if proc.HasExited then None else Some proc

/// A port from freePort can be taken by someone else before influxd binds it (as can the RPC port): a few attempts,
/// each with new ports when `pickPort` picks them.
let private launchWithRetries (pickPort: unit -> int) (dir: string) (https: bool) (http: string list) =
    let rec attempt n =
        let port = pickPort ()
        match tryLaunch dir port https http with
        | Some proc -> port, proc
        | None when n < 3 -> attempt (n + 1)
        | None -> failwithf "influxd on port %d exited at start (see %s)" port (Path.Combine(dir, "influxdb.conf"))
    attempt 1

let private launch (dir: string) (port: int) (http: string list) = launchWithRetries (fun () -> port) dir false http |> snd

/// Starts influxd on `port` with its data under `dir`, and waits until it answers /ping.
let start (name: string) (dir: string) (port: int) : Server =
    { Name = name; Port = port; Https = false; Dir = dir; Process = launch dir port [] }

/// Starts an influxd with further [http] settings, e.g. `max-body-size = 20000` or `auth-enabled = true`.
let startWith (http: string list) (name: string) (dir: string) (port: int) : Server =
    { Name = name; Port = port; Https = false; Dir = dir; Process = launch dir port http }

/// Starts an influxd on a free loopback port, with further [http] settings.
let startOnFreePortWith (http: string list) (name: string) (dir: string) : Server =
    let port, proc = launchWithRetries freePort dir false http
    { Name = name; Port = port; Https = false; Dir = dir; Process = proc }

/// Starts an influxd serving https on a free loopback port with a PEM certificate and key.
let startHttpsOnFreePort (certPath: string) (keyPath: string) (name: string) (dir: string) : Server =
    let port, proc = launchWithRetries freePort dir true (httpsSettings certPath keyPath)
    { Name = name; Port = port; Https = true; Dir = dir; Process = proc }

/// Starts an influxd on a free loopback port.
let startOnFreePort (name: string) (dir: string) : Server = startOnFreePortWith [] name dir

/// Stops the server (SIGKILL) and waits for the process to exit; the data folder stays.
let kill (server: Server) =
    if not server.Process.HasExited then
        server.Process.Kill true
        server.Process.WaitForExit()

/// Starts the same server again on the same port and data folder.
let restart (server: Server) =
    kill server
    server.Process <- launch server.Dir server.Port []

/// Stops the server and removes its folder.
let dispose (server: Server) =
    kill server
    try Directory.Delete(server.Dir, true) with :? IOException | :? UnauthorizedAccessException -> ()
