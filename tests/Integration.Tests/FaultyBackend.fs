/// A stand-in for influxd where a real one cannot misbehave on cue: it goes away in the middle of a write that holds
/// a marker (closes the connection without an answer, as influxd does when a line makes it panic), and stores every
/// other write. It answers /ping, and /query with a 500.
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
    app.MapPost("/query", Func<IResult>(fun () -> Results.StatusCode 500)) |> ignore
    app.MapGet("/query", Func<IResult>(fun () -> Results.StatusCode 500)) |> ignore
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
