/// A statement's answer cut into chunks as InfluxDB 1.6 streams it when asked `chunked=true`: each chunk is a
/// `results[i]` object the host writes as a `{"results":[chunk]}` line of its own. How a statement is cut depends on
/// how InfluxDB runs it (its coordinator/statement_executor.go and query/emitter.go; checked against influxd 1.6.7).
namespace InfluxProxy.Core

open System
open System.Globalization
open System.Text.Json.Nodes

/// How InfluxDB cuts one statement's answer into chunks.
type Chunking =
    /// Statements InfluxDB runs as a SELECT (SELECT, SHOW SERIES, SHOW FIELD KEYS, cardinalities): a chunk per series,
    /// a series of more rows than the chunk size cut into pieces of that size, each piece but a series' last marked
    /// `"partial":true`; every chunk of the statement but its last marked `"partial":true` beside its series.
    | RowsPerChunk
    /// SHOW TAG KEYS and SHOW TAG VALUES: a chunk per series, whole whatever the chunk size, no `partial` anywhere.
    | SeriesPerChunk
    /// Every other statement (SHOW MEASUREMENTS, SHOW DATABASES, SHOW STATS…): the whole result as one chunk.
    | WholeResult

module ResultChunks =
    /// InfluxDB's `chunk_size` when the request gives none it can read.
    let defaultSize = 10000

    /// The chunk size a request asks for, None when it does not ask for chunks: as InfluxDB reads them, `chunked`
    /// must be exactly `true`, and a `chunk_size` that is not a positive integer means the default.
    let requested (chunked: string) (chunkSize: string) : int option =
        if chunked <> "true" then None
        else
            match Int64.TryParse(chunkSize, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) with
            | true, n when n > 0L -> Some(int (min n (int64 Int32.MaxValue)))
            | _ -> Some defaultSize

    let chunking (kind: StatementKind) : Chunking =
        match kind with
        | Select | ShowSeries | ShowFieldKeys | ShowCardinality _ -> RowsPerChunk
        | ShowTagKeys | ShowTagValues -> SeriesPerChunk
        | _ -> WholeResult

    /// A series with `rows`: InfluxDB's own `partial` mark, never the one a backend put on a series it did not cut
    /// for us (a non-chunked answer marks a series of over 10000 rows so).
    let private piece (series: JsonObject) (rows: JsonNode seq) (partial: bool) =
        let copy = ResultJson.withRows series rows
        copy.Remove "partial" |> ignore
        if partial then copy["partial"] <- JsonValue.Create true
        copy

    let private chunk (statementId: int) (series: JsonObject) (partial: bool) =
        let result = ResultJson.resultWith statementId [ series ]
        if partial then result["partial"] <- JsonValue.Create true
        result

    /// How many pieces of at most `size` rows a series of `rows` rows is cut into: one for a series without rows.
    let private pieceCount (size: int) (rows: int) = if rows = 0 then 1 else (rows - 1) / size + 1

    let private pieces (size: int) (series: JsonObject) : JsonObject seq =
        match ResultJson.rows series with
        | [] -> Seq.singleton (piece series [] false)
        | rows ->
            let count = pieceCount size rows.Length
            rows |> Seq.chunkBySize size |> Seq.mapi (fun i part -> piece series part (i < count - 1))

    /// The chunks of one statement's result, made one at a time as they are read. An error, or a result without
    /// series, is one chunk as it is.
    let chunks (chunking: Chunking) (size: int) (result: JsonObject) : JsonObject seq =
        let id = ResultJson.statementId result
        match ResultJson.series result, chunking with
        | [], _
        | _, WholeResult -> Seq.singleton result
        | series, SeriesPerChunk -> series |> Seq.map (fun s -> chunk id (piece s (ResultJson.rows s) false) false)
        | series, RowsPerChunk ->
            let count = series |> List.sumBy (fun s -> pieceCount size (ResultJson.rows s).Length)
            series |> Seq.collect (pieces size) |> Seq.mapi (fun i p -> chunk id p (i < count - 1))
