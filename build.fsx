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
    let proxy = Process.Start(ProcessStartInfo("dotnet", $"\"{hostDll}\" -config proxy.json", WorkingDirectory = root))
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

let bench () =
    ensurePackages ()
    build ()
    fail "bench: the write path is not built yet"

match fsi.CommandLineArgs |> Array.tail |> List.ofArray with
| [ "build" ] -> build ()
| [ "test" ] -> test ()
| [ "run" ] -> run ()
| [ "bench" ] -> bench ()
| _ -> fail "usage: dotnet fsi build.fsx build|test|run|bench"
