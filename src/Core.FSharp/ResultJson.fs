/// InfluxDB's `results[i]` objects as JSON: their series and rows read, new ones built. Shared by the merge of
/// several backends' answers (ResultMerge.fs) and the cutting of an answer into chunks (ResultChunks.fs).
module InfluxProxy.Core.ResultJson

open System.Text.Json.Nodes

/// The series of a result; none for an error or an empty result.
let series (result: JsonObject) : JsonObject list =
    match result["series"] with
    | :? JsonArray as series -> [ for s in series -> s :?> JsonObject ]
    | _ -> []

/// The rows (`values`) of a series.
let rows (series: JsonObject) : JsonNode list =
    match series["values"] with
    | :? JsonArray as rows -> [ for r in rows -> r ]
    | _ -> []

/// A copy of the template series (its properties in their order) with copies of `rows` as its values. Without rows
/// it has no `values`, as InfluxDB writes a series without rows.
let withRows (template: JsonObject) (rows: JsonNode seq) =
    let rowArray = JsonArray(rows |> Seq.map (fun r -> r.DeepClone()) |> Seq.toArray)
    let copy = JsonObject()
    let addValues () = if rowArray.Count > 0 then copy["values"] <- rowArray
    for property in template do
        if property.Key = "values" then addValues ()
        else copy[property.Key] <- if isNull property.Value then null else property.Value.DeepClone()
    if not (template.ContainsKey "values") then addValues ()
    copy

/// A result holding `series`, which must belong to no other node yet.
let resultWith (statementId: int) (series: JsonObject list) =
    let result = JsonObject()
    result["statement_id"] <- JsonValue.Create statementId
    if not series.IsEmpty then result["series"] <- JsonArray(series |> Seq.cast<JsonNode> |> Seq.toArray)
    result

let isError (result: JsonObject) = not (isNull result["error"])

/// A result's `statement_id`, 0 when it has none.
let statementId (result: JsonObject) =
    match result["statement_id"] with
    | null -> 0
    | id -> id.GetValue<int>()
