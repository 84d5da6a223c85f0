/// Asking a real influxd directly, to check what landed where.
module InfluxProxy.Testing.Influx

open System.Text.Json
open InfluxProxy.Testing.Web

/// Runs `q` on a server (POST, so statements that change data work too) and returns the parsed JSON body.
let query (url: string) (db: string) (q: string) : JsonElement =
    let reply = post (sprintf "%s/query?db=%s&q=%s" url (escape db) (escape q)) ""
    if reply.Status <> 200 then failwithf "%s: %s -> %d %s" url q reply.Status reply.Body
    (JsonDocument.Parse reply.Body).RootElement

let createDatabase (url: string) (db: string) = query url "" (sprintf "CREATE DATABASE \"%s\"" db) |> ignore

/// The rows of the first series of the first result, as raw JSON values.
let private series (result: JsonElement) : JsonElement list =
    let first = result.GetProperty("results").[0]
    match first.TryGetProperty "series" with
    | true, s -> [ for x in s.EnumerateArray() -> x ]
    | _ -> []

/// Point count per measurement on one server (`SELECT count(*)` over every measurement).
let countsByMeasurement (url: string) (db: string) (field: string) : Map<string, int64> =
    query url db (sprintf "SELECT count(\"%s\") FROM /.*/" field)
    |> series
    |> List.map (fun (s: JsonElement) -> s.GetProperty("name").GetString(), s.GetProperty("values").[0].[1].GetInt64())
    |> Map.ofList

/// Every point's time (ns) of one measurement on one server, in order.
let times (url: string) (db: string) (measurement: string) : int64 list =
    let reply = get (sprintf "%s/query?db=%s&epoch=ns&q=%s" url (escape db) (escape (sprintf "SELECT * FROM \"%s\"" measurement)))
    (JsonDocument.Parse reply.Body).RootElement
    |> series
    |> List.collect (fun (s: JsonElement) -> [ for v in s.GetProperty("values").EnumerateArray() -> v.[0].GetInt64() ])
