/// The proxy host as a real process on a free loopback port, with its own folder and config.
module InfluxProxy.Testing.ProxyProcess

open System
open System.Diagnostics
open System.IO
open System.Text
open InfluxProxy.Testing.Influxd

type Proxy =
    { Port: int
      Dir: string
      Process: Process
      Output: StringBuilder }
    member p.Url = sprintf "http://127.0.0.1:%d" p.Port
    member p.Log = lock p.Output (fun () -> p.Output.ToString())

let private configuration =
#if DEBUG
    "Debug"
#else
    "Release"
#endif

/// The repository root: the folder holding InfluxProxy.sln, above the test binaries.
let repoRoot =
    let rec root (dir: DirectoryInfo) =
        if File.Exists(Path.Combine(dir.FullName, "InfluxProxy.sln")) then dir.FullName
        elif isNull dir.Parent then failwith "InfluxProxy.sln not found above the test binaries"
        else root dir.Parent
    root (DirectoryInfo AppContext.BaseDirectory)

/// The built host, found from the repository root.
let hostDll = Path.Combine(repoRoot, "src", "Host.CSharp", "bin", configuration, "net10.0", "influx-proxy.dll")

/// A proxy.json for circles of servers; `extra` are further top-level `"key": value` JSON members.
let configFor (circles: Server list list) (port: int) (extra: string list) =
    let backend (s: Server) = sprintf """{"name":"%s","url":"%s"}""" s.Name s.Url
    let circle i (servers: Server list) =
        sprintf """{"name":"circle-%d","backends":[%s]}""" (i + 1) (servers |> List.map backend |> String.concat ",")
    let members =
        [ sprintf "\"circles\":[%s]" (circles |> List.mapi circle |> String.concat ",")
          sprintf "\"listen_addr\":\"127.0.0.1:%d\"" port ]
        @ extra
    "{" + String.concat "," members + "}"

/// Starts a program with what it prints on either stream gathered as it comes.
let startCapturing (info: ProcessStartInfo) =
    info.RedirectStandardOutput <- true
    info.RedirectStandardError <- true
    let output = StringBuilder()
    let proc = Process.Start info
    let append (e: DataReceivedEventArgs) = if not (isNull e.Data) then lock output (fun () -> output.AppendLine e.Data |> ignore)
    proc.OutputDataReceived.Add append
    proc.ErrorDataReceived.Add append
    proc.BeginOutputReadLine()
    proc.BeginErrorReadLine()
    proc, output

let private startProcess (dir: string) (args: string) =
    let info = ProcessStartInfo("dotnet", sprintf "\"%s\" %s" hostDll args)
    info.WorkingDirectory <- dir
    startCapturing info

/// Runs the host to completion with `args` in `dir`; returns its exit code and everything it printed.
let run (dir: string) (args: string) =
    let proc, output = startProcess dir args
    if not (proc.WaitForExit(TimeSpan.FromSeconds 30.0)) then
        proc.Kill true
        failwithf "influx-proxy %s did not exit" args
    proc.WaitForExit()
    proc.ExitCode, output.ToString()

/// Whether the proxy answers /ping at all (with ping_auth_enabled it is a 401 without credentials).
let private answers (url: string) =
    try (Web.get (url + "/ping")).Status > 0 with :? Net.Http.HttpRequestException -> false

/// Starts the proxy in `dir` with the config file `file` holding `config` (listening on `port`) and waits for /ping.
let startWithFile (file: string) (dir: string) (port: int) (config: string) : Proxy =
    Directory.CreateDirectory dir |> ignore
    File.WriteAllText(Path.Combine(dir, file), config)
    let proc, output = startProcess dir $"-config {file}"
    let proxy = { Port = port; Dir = dir; Process = proc; Output = output }
    if not (waitUntil (TimeSpan.FromSeconds 30.0) (fun () -> proc.HasExited || answers proxy.Url)) || proc.HasExited then
        if not proc.HasExited then proc.Kill true
        failwithf "proxy did not start:\n%s" proxy.Log
    proxy

/// Starts the proxy in `dir` with `proxy.json` text `config` (listening on `port`) and waits for /ping.
let startIn (dir: string) (port: int) (config: string) : Proxy = startWithFile "proxy.json" dir port config

let newDir (label: string) =
    let dir = Path.Combine(Path.GetTempPath(), sprintf "influx-proxy-test-%s-%s" label (Guid.NewGuid().ToString "N"))
    Directory.CreateDirectory dir |> ignore
    dir

/// Starts a proxy in a fresh folder in front of `circles`.
let start (circles: Server list list) (extra: string list) : Proxy =
    let port = freePort ()
    startIn (newDir "proxy") port (configFor circles port extra)

/// Stops with SIGTERM (graceful) and waits up to `timeout`; returns whether it exited in time.
let terminate (timeout: TimeSpan) (proxy: Proxy) =
    if proxy.Process.HasExited then true
    else
        Signals.send Signals.term proxy.Process
        // Only the wait without a timeout also waits for the output still being read.
        proxy.Process.WaitForExit timeout && (proxy.Process.WaitForExit(); true)

let kill (proxy: Proxy) =
    if not proxy.Process.HasExited then
        proxy.Process.Kill true
        proxy.Process.WaitForExit()

let dispose (proxy: Proxy) =
    kill proxy
    try Directory.Delete(proxy.Dir, true) with :? IOException | :? UnauthorizedAccessException -> ()

/// Runs `body` against a proxy in front of `circles` (with further top-level config members `extra`), then removes it.
let using (circles: Server list list) (extra: string list) (body: Proxy -> unit) =
    let proxy = start circles extra
    try body proxy finally dispose proxy
