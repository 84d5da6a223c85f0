/// Merging the answers of several backends to one statement into the answer one InfluxDB would give.
/// Each input is one `results[i]` object of a backend's `/query` answer.
module InfluxProxy.Core.ResultMerge

open System
open System.Text.Json
open System.Text.Json.Nodes

let private jsonText (node: JsonNode) = if isNull node then "" else node.ToJsonString()

/// A series is the same across backends when its name and tags are.
let private seriesKey (s: JsonObject) = jsonText s["name"] + "|" + jsonText s["tags"]

// Merged rows and series are sorted by texts compared ordinally (UTF-16 order, which is InfluxDB's byte order for every
// character but those beyond U+FFFF), item by item: names outside ASCII come after ASCII ones, `a` before `a b`.

/// A value as it is ordered: a string by its characters, anything else by its JSON text.
let private orderText (node: JsonNode) =
    match node with
    | :? JsonValue as value when value.GetValueKind() = JsonValueKind.String -> value.GetValue<string>()
    | _ -> jsonText node

/// Texts compared item by item, ordinally; texts that begin longer ones come first.
let private compareTexts (a: string[]) (b: string[]) =
    let mutable i = 0
    let mutable order = 0
    while order = 0 && i < a.Length && i < b.Length do
        order <- String.CompareOrdinal(a[i], b[i])
        i <- i + 1
    if order <> 0 then order else compare a.Length b.Length

/// Sorted (stably) by the texts `order` gives each item, computed once per item.
let private sortByTexts (order: 'T -> string[]) (items: 'T list) =
    items |> List.map (fun item -> struct (order item, item)) |> List.sortWith (fun (struct (a, _)) (struct (b, _)) -> compareTexts a b)
    |> List.map (fun (struct (_, item)) -> item)

/// Rows are ordered cell by cell.
let private rowOrder (row: JsonNode) =
    match row with
    | :? JsonArray as cells -> [| for cell in cells -> orderText cell |]
    | _ -> [| orderText row |]

/// A cell told apart from every other: its kind and its text (the string "1" is not the number 1). Cheaper than
/// the row's JSON text, which a serializer writes: a fanned-out SHOW's merge spent most of its time there.
let private cellIdentity (node: JsonNode) =
    match node with
    | :? JsonValue as value when value.GetValueKind() = JsonValueKind.String -> "s" + value.GetValue<string>()
    | _ -> "j" + jsonText node

/// Two rows are the same row when their cells are, one by one: each cell's identity after its length, so that no
/// two rows of other cells make the same text.
let private rowIdentity (row: JsonNode) =
    let text = Text.StringBuilder()
    let add (cell: JsonNode) =
        let identity = cellIdentity cell
        text.Append(identity.Length).Append(':').Append(identity) |> ignore
    match row with
    | :? JsonArray as cells -> Seq.iter add cells
    | _ -> add row
    text.ToString()

/// Series are ordered by name, then by their tags, key by key.
let private seriesOrder (s: JsonObject) =
    [| orderText s["name"]
       match s["tags"] with
       | :? JsonObject as tags ->
           for tag in tags do
               tag.Key
               orderText tag.Value
       | _ -> () |]

/// The first backend error, if any backend answered one for this statement, as this statement's own: a copy (the
/// backend's belongs to its answer) with our statement id.
let private firstError (statementId: int) (results: JsonObject list) =
    results
    |> List.tryFind ResultJson.isError
    |> Option.map (fun error ->
        let copy = error.DeepClone() :?> JsonObject
        copy["statement_id"] <- JsonValue.Create statementId
        copy)

/// Series with the same name and tags become one, whose rows `combine` makes from all of theirs; the first backend
/// error wins over any rows.
let private mergeSeries (statementId: int) (combine: JsonNode list -> JsonNode list) (results: JsonObject list) =
    match firstError statementId results with
    | Some error -> error
    | None ->
        results
        |> List.collect ResultJson.series
        |> List.groupBy seriesKey
        |> List.map snd
        |> sortByTexts (fun group -> seriesOrder group.Head)
        |> List.map (fun group -> group |> List.collect ResultJson.rows |> combine |> ResultJson.withRows group.Head)
        |> List.filter (fun s -> not (ResultJson.rows s).IsEmpty)
        |> ResultJson.resultWith statementId

/// SHOW statements: rows sorted and de-duplicated, then OFFSET and LIMIT applied once to the merged rows (each
/// backend applied them to its own part only).
let mergeShow (statementId: int) (limit: int option) (offset: int option) (results: JsonObject list) : JsonObject =
    let page (rows: JsonNode list) =
        let rows =
            rows
            |> List.distinctBy rowIdentity
            |> sortByTexts rowOrder
        let rows = rows |> List.skip (min rows.Length (defaultArg offset 0))
        match limit with
        | Some n when n > 0 -> List.truncate n rows
        | _ -> rows
    mergeSeries statementId page results

/// SELECT over several measurements: each measurement lives on one backend, so the series are put side by side.
let concatSeries (statementId: int) (results: JsonObject list) : JsonObject =
    match firstError statementId results with
    | Some error -> error
    | None ->
        results
        |> List.collect ResultJson.series
        |> sortByTexts seriesOrder
        |> List.map (fun s -> s.DeepClone() :?> JsonObject)
        |> ResultJson.resultWith statementId

/// Cardinality: counts of the same series are added (measurements are disjoint across a circle's backends).
let sumCounts (statementId: int) (results: JsonObject list) : JsonObject =
    let count (row: JsonNode) =
        match row with
        | :? JsonArray as cells when cells.Count > 0 ->
            match cells[cells.Count - 1] with
            | :? JsonValue as v when (fst (v.TryGetValue<int64>())) -> snd (v.TryGetValue<int64>())
            | _ -> 0L
        | _ -> 0L
    mergeSeries statementId (fun rows -> [ JsonArray(JsonValue.Create(List.sumBy count rows)) :> JsonNode ]) results

/// Keeps only the rows whose first column passes `keep` (SHOW DATABASES under a whitelist); an error stays as it is.
let filterFirstColumn (keep: string -> bool) (result: JsonObject) : JsonObject =
    let kept (row: JsonNode) =
        match row with
        | :? JsonArray as cells when cells.Count > 0 -> keep (string cells[0])
        | _ -> true
    if ResultJson.isError result then
        result
    else
        ResultJson.series result
        |> List.map (fun s -> ResultJson.rows s |> List.filter kept |> ResultJson.withRows s)
        |> ResultJson.resultWith (ResultJson.statementId result)
