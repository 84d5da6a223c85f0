/// InfluxDB 1.8's write API for 2.x clients, `/api/v2/write`, used by the official C# client (InfluxDB.Client) through
/// the proxy: points, line protocol and POCOs, batched, land on every circle.
module InfluxProxy.Testing.WriteV2Tests

open System
open Expecto
open InfluxDB.Client
open InfluxDB.Client.Api.Domain
open InfluxDB.Client.Core
open InfluxDB.Client.Writes
open InfluxProxy.Testing.Influxd
open InfluxProxy.Testing.Web
open InfluxProxy.Testing.Fixtures

/// Public: the client's mapper skips the points of a type it cannot see, silently.
[<Measurement("v2poco")>]
type Sensor() =
    [<Column("host", IsTag = true)>]
    member val Host = "" with get, set

    [<Column("v")>]
    member val Value = 0.0 with get, set

    [<Column(IsTimestamp = true)>]
    member val Time = DateTime.UnixEpoch with get, set

let private holds (server: Server) db measurement =
    (Influx.countsByMeasurement server.Url db "v") |> Map.tryFind measurement = Some 1L

let tests =
    testList "WriteV2" [
        test "the official 2.x C# client writes points, line protocol and POCOs through /api/v2/write, batched, to every circle" {
            let circles = shared.Value
            let db = uniqueDb "v2"
            for server in List.concat circles do Influx.createDatabase server.Url db
            ProxyProcess.using circles [ "\"username\": \"u\""; "\"password\": \"p\"" ] (fun proxy ->
                let failures = Collections.Concurrent.ConcurrentQueue<string>()
                (use client = new InfluxDBClient(proxy.Url, "u", "p", db, "autogen")
                 use writes = client.GetWriteApi(WriteOptions(BatchSize = 10, FlushInterval = 100))
                 writes.EventHandler.Add(fun e ->
                     match e with
                     | :? WriteErrorEvent as error -> failures.Enqueue error.Exception.Message
                     | :? WriteRuntimeExceptionEvent as error -> failures.Enqueue error.Exception.Message
                     | _ -> ())
                 let at = DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc)
                 writes.WritePoint(PointData.Measurement("v2point").Tag("host", "a").Field("v", 1.5).Timestamp(at, WritePrecision.Ns))
                 writes.WriteRecord("v2line,host=b v=2 1764547200000", WritePrecision.Ms)
                 writes.WriteMeasurement(Sensor(Host = "c", Value = 3.5, Time = at), WritePrecision.S)
                 writes.Flush())
                Expect.isEmpty failures "no write error"
                let landed () =
                    [ "v2point"; "v2line"; "v2poco" ]
                    |> List.forall (fun m -> circles |> List.forall (List.exists (fun s -> holds s db m)))
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) landed) "each measurement in every circle"
                let t = circles |> List.head |> List.collect (fun s -> Influx.times s.Url db "v2line") |> List.exactlyOne
                Expect.equal t 1764547200000000000L "the precision the client named")
        }

        test "bucket and precision are checked as InfluxDB 1.8 checks them; Flux is refused by name; a token is needed" {
            let circles = shared.Value
            let db = uniqueDb "v2errors"
            for server in List.concat circles do Influx.createDatabase server.Url db
            ProxyProcess.using circles [ "\"username\": \"u\""; "\"password\": \"p\"" ] (fun proxy ->
                let withToken (url: string) (body: string) =
                    let request = new Net.Http.HttpRequestMessage(Net.Http.HttpMethod.Post, url, Content = new Net.Http.StringContent(body))
                    request.Headers.TryAddWithoutValidation("Authorization", "Token u:p") |> ignore
                    send request
                let v2 = proxy.Url + "/api/v2"
                Expect.equal (withToken $"{v2}/write?bucket={db}/autogen&precision=s" "tok v=1 1").Status 204 "db/rp"
                Expect.equal (withToken $"{v2}/write?bucket={db}" "tok v=2 2").Status 204 "db alone: its default policy"
                let missing = withToken $"{v2}/write?org=o" "tok v=1 1"
                Expect.equal missing.Status 404 missing.Body
                Expect.stringContains missing.Body "is missing a slash; not in \\\"database/retention-policy\\\" format" "1.8's text"
                Expect.equal (withToken $"{v2}/write?bucket=/autogen" "tok v=1 1").Status 404 "no database"
                let precision = withToken $"{v2}/write?bucket={db}&precision=h" "tok v=1 1"
                Expect.equal (precision.Status, precision.Body) (400, "{\"error\":\"invalid precision \\\"h\\\" (use ns, us, ms or s)\"}\n") "1.8's precisions"
                let flux = withToken $"{v2}/query" "from(bucket: \"x\")"
                Expect.equal flux.Status 403 flux.Body
                Expect.stringContains flux.Body "send InfluxQL to /query" "names what to use instead"
                Expect.equal (post $"{v2}/write?bucket={db}" "tok v=1 1").Status 401 "no token")
        }
    ]
