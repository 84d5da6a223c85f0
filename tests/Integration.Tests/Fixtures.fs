/// Clusters of real influxd for the tests: one shared 2×2 cluster, and private ones for tests that break servers.
module InfluxProxy.Testing.Fixtures

open System
open System.IO
open InfluxProxy.Testing.Influxd

let private newRoot () = Path.Combine(Path.GetTempPath(), sprintf "influx-proxy-influxd-%s" (Guid.NewGuid().ToString "N"))

/// Every server started, or none left running when one fails to start.
let private startServers (root: string) (circles: int) (perCircle: int) =
    let started = Collections.Generic.List<Server>()
    try
        [ for c in 1..circles ->
            [ for b in 1..perCircle ->
                let name = sprintf "influxdb-%d-%d" c b
                let server = startOnFreePort name (Path.Combine(root, name))
                started.Add server
                server ] ]
    with _ ->
        for server in started do dispose server
        reraise ()

let private disposeAll (root: string) (circles: Server list list) =
    for server in List.concat circles do dispose server
    try Directory.Delete(root, true) with :? IOException | :? UnauthorizedAccessException -> ()

/// The 2×2 cluster most tests share; each test uses its own database names. Stopped at process exit.
let shared: Lazy<Server list list> =
    lazy
        (let root = newRoot ()
         let circles = startServers root 2 2
         AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> disposeAll root circles)
         circles)

/// A private cluster for a test that stops, hangs or restarts servers.
let withCluster (circles: int) (perCircle: int) (body: Server list list -> unit) =
    let root = newRoot ()
    let servers = startServers root circles perCircle
    try body servers finally disposeAll root servers

/// A unique database name for one test.
let uniqueDb (label: string) = sprintf "%s_%s" label (Guid.NewGuid().ToString("N").Substring(0, 8))
