/// A stand-in for influxd where a real one cannot misbehave on cue: it goes away in the middle of a write that holds
/// a marker (closes the connection without an answer, as influxd does when a line makes it panic), and stores every
/// other write; it goes away in the middle of its answer to a query that holds the marker (after a first chunk), and
/// answers every other query with a 500; it breaks off every Prometheus remote read the same way. It answers /ping.
module InfluxProxy.Testing.FaultyBackend

open System
open System.Collections.Concurrent
open System.IO
open System.IO.Compression
open Microsoft.AspNetCore.Builder
open Microsoft.AspNetCore.Hosting
open Microsoft.AspNetCore.Http
open Microsoft.Extensions.Logging

type Backend =
    { Url: string
      /// The bodies of the writes it took, decompressed.
      Taken: ConcurrentQueue<string>
      /// How often it went away.
      Deaths: int ref
      App: WebApplication }
    interface IDisposable with
        member b.Dispose() = b.App.StopAsync().Wait()

let private body (request: HttpRequest) =
    use source = if request.Headers.ContentEncoding.ToString() = "gzip" then new GZipStream(request.Body, CompressionMode.Decompress) :> Stream else request.Body
    use reader = new StreamReader(source)
    reader.ReadToEndAsync().Result

/// Starts it on a free loopback port.
let start (marker: string) : Backend =
    let builder = WebApplication.CreateSlimBuilder()
    builder.Logging.ClearProviders() |> ignore
    builder.WebHost.UseUrls("http://127.0.0.1:0") |> ignore
    let app = builder.Build()
    let taken = ConcurrentQueue<string>()
    let deaths = ref 0
    app.MapMethods("/ping", [ "GET"; "HEAD" ], Func<IResult>(fun () -> Results.NoContent())) |> ignore
    // A first piece of an answer, then, a second later (long enough for it to be read before the reset, which would
    // discard it unread), the connection reset.
    let breakOff (context: HttpContext) (contentType: string) (piece: string) : Threading.Tasks.Task =
        task {
            context.Response.ContentType <- contentType
            do! context.Response.WriteAsync piece
            do! context.Response.Body.FlushAsync()
            do! Threading.Tasks.Task.Delay 1000
            Threading.Interlocked.Increment deaths |> ignore
            context.Abort()
        }
    app.MapPost("/api/v1/prom/read", RequestDelegate(fun context -> breakOff context "application/x-protobuf" "\u0001\u0002")) |> ignore
    app.MapMethods("/query", [ "GET"; "POST" ], RequestDelegate(fun context ->
        task {
            let! form = if context.Request.HasFormContentType then context.Request.ReadFormAsync() else Threading.Tasks.Task.FromResult(FormCollection.Empty :> IFormCollection)
            if (context.Request.Query["q"].ToString() + form["q"].ToString()).Contains marker then
                do! breakOff context "application/json" "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"v\"],\"values\":[[1,1]],\"partial\":true}],\"partial\":true}]}\n"
            else
                context.Response.StatusCode <- 500
        } :> Threading.Tasks.Task)) |> ignore
    app.MapPost("/write", RequestDelegate(fun context ->
        let text = body context.Request
        if text.Contains marker then
            Threading.Interlocked.Increment deaths |> ignore
            context.Abort()
        else
            taken.Enqueue text
            context.Response.StatusCode <- 204
        Threading.Tasks.Task.CompletedTask)) |> ignore
    app.StartAsync().Wait()
    { Url = app.Urls |> Seq.head; Taken = taken; Deaths = deaths; App = app }

/// A proxy (in a folder of its own named after `label`) whose one circle is `backend` alone, with further top-level
/// config members `extra`.
let proxyInFrontOf (backend: Backend) (label: string) (extra: string list) =
    let port = Influxd.freePort ()
    let members = String.concat "" [ for item in extra -> "," + item ]
    let config =
        sprintf """{"circles":[{"name":"circle-1","backends":[{"name":"faulty","url":"%s"}]}],"listen_addr":"127.0.0.1:%d"%s}""" backend.Url port members
    ProxyProcess.startIn (ProxyProcess.newDir label) port config
