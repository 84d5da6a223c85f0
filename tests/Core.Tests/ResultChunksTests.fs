module InfluxProxy.Core.Tests.ResultChunksTests

open System
open System.Text.Json.Nodes
open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

let private result (json: string) = JsonNode.Parse(json) :?> JsonObject
let private text (node: JsonNode) = node.ToJsonString()
let private chunkTexts chunking size json = ResultChunks.chunks chunking size (result json) |> Seq.map text |> List.ofSeq

/// A series as the law compares it: its properties but `values` and `partial`, and its rows.
let private shape (series: JsonObject) =
    [ for p in series do if p.Key <> "values" && p.Key <> "partial" then p.Key + "=" + (if isNull p.Value then "null" else text p.Value) ],
    [ for row in ResultJson.rows series -> text row ]

/// The series the chunks hold, the pieces of each joined again as their `partial` marks say: a piece marked partial
/// is continued by the next, which must be of the same series. Fails on a last piece marked partial.
let private joined (chunks: JsonObject list) =
    let pieces = [ for c in chunks do yield! ResultJson.series c ]
    let rec join acc (pending: (string list * string list) option) (pieces: JsonObject list) =
        match pieces, pending with
        | [], None -> List.rev acc
        | [], Some _ -> failwith "the last piece is marked partial"
        | piece :: rest, _ ->
            let header, rows = shape piece
            let rows =
                match pending with
                | Some(pendingHeader, pendingRows) ->
                    if pendingHeader <> header then failwithf "a piece of %A continues %A" header pendingHeader
                    pendingRows @ rows
                | None -> rows
            if isNull piece["partial"] then join ((header, rows) :: acc) None rest
            else join acc (Some(header, rows)) rest
    join [] None pieces

let private resultAndSize = Arb.fromGen (Gen.zip Arb.queryResult (Gen.choose (1, 5)))

let tests =
    testList "ResultChunks" [
        testList "chunks" [
            test "a statement run as a SELECT: a chunk per piece of at most chunk size rows, all but the last partial" {
                // As influxd 1.6.7 answers `SELECT value FROM /m/ GROUP BY *` with chunk_size=2.
                let series host first =
                    sprintf """{"name":"m1","tags":{"host":"%s"},"columns":["time","value"],"values":[[1,%d],[2,%d],[3,%d]]}""" host first (first + 1) (first + 2)
                let chunks = chunkTexts RowsPerChunk 2 (sprintf """{"statement_id":3,"series":[%s,%s]}""" (series "h1" 11) (series "h2" 21))
                Expect.equal chunks [
                    """{"statement_id":3,"series":[{"name":"m1","tags":{"host":"h1"},"columns":["time","value"],"values":[[1,11],[2,12]],"partial":true}],"partial":true}"""
                    """{"statement_id":3,"series":[{"name":"m1","tags":{"host":"h1"},"columns":["time","value"],"values":[[3,13]]}],"partial":true}"""
                    """{"statement_id":3,"series":[{"name":"m1","tags":{"host":"h2"},"columns":["time","value"],"values":[[1,21],[2,22]],"partial":true}],"partial":true}"""
                    """{"statement_id":3,"series":[{"name":"m1","tags":{"host":"h2"},"columns":["time","value"],"values":[[3,23]]}]}""" ] "InfluxDB's chunks"
            }

            test "a series of exactly chunk size rows is one piece, not partial" {
                let chunks = chunkTexts RowsPerChunk 2 """{"statement_id":0,"series":[{"columns":["key"],"values":[["a"],["b"]]}]}"""
                Expect.equal chunks [ """{"statement_id":0,"series":[{"columns":["key"],"values":[["a"],["b"]]}]}""" ] "one chunk"
            }

            test "SHOW TAG VALUES: a chunk per series, whole whatever the chunk size, never partial" {
                let series name = sprintf """{"name":"%s","columns":["key","value"],"values":[["host","h1"],["host","h2"],["host","h3"]]}""" name
                let chunks = chunkTexts SeriesPerChunk 1 (sprintf """{"statement_id":1,"series":[%s,%s]}""" (series "m1") (series "m2"))
                Expect.equal chunks [ sprintf """{"statement_id":1,"series":[%s]}""" (series "m1"); sprintf """{"statement_id":1,"series":[%s]}""" (series "m2") ] "one per series"
            }

            test "SHOW MEASUREMENTS: one chunk, as it is, whatever the chunk size" {
                let json = """{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["a"],["b"],["c"]]}]}"""
                Expect.equal (chunkTexts WholeResult 1 json) [ json ] "whole"
            }

            test "an error, and a result without series, are one chunk as they are" {
                for chunking in [ RowsPerChunk; SeriesPerChunk; WholeResult ] do
                    for json in [ """{"statement_id":2,"error":"database not found: x"}"""; """{"statement_id":1}""" ] do
                        Expect.equal (chunkTexts chunking 1 json) [ json ] (sprintf "%A" chunking)
            }

            test "a series without rows is one piece without values" {
                let json = """{"statement_id":0,"series":[{"name":"a","columns":["x"]},{"name":"b","columns":["x"],"values":[[1]]}]}"""
                Expect.equal (chunkTexts RowsPerChunk 1 json) [
                    """{"statement_id":0,"series":[{"name":"a","columns":["x"]}],"partial":true}"""
                    """{"statement_id":0,"series":[{"name":"b","columns":["x"],"values":[[1]]}]}""" ] "two chunks"
            }

            test "a backend's partial mark on a series it did not cut is not passed on" {
                // A backend's answer not chunked marks a series of over 10000 rows partial; the proxy asks them so.
                let json = """{"statement_id":0,"series":[{"name":"big","columns":["time","v"],"values":[[1,1],[2,2],[3,3]],"partial":true}]}"""
                Expect.equal (chunkTexts RowsPerChunk 2 json) [
                    """{"statement_id":0,"series":[{"name":"big","columns":["time","v"],"values":[[1,1],[2,2]],"partial":true}],"partial":true}"""
                    """{"statement_id":0,"series":[{"name":"big","columns":["time","v"],"values":[[3,3]]}]}""" ] "InfluxDB's marks only"
                Expect.equal (chunkTexts SeriesPerChunk 2 json) [
                    """{"statement_id":0,"series":[{"name":"big","columns":["time","v"],"values":[[1,1],[2,2],[3,3]]}]}""" ] "none"
            }

            testProperty "the chunks' series, joined as their partial marks say, give back the result's series"
                (Prop.forAll resultAndSize (fun (json, size) ->
                    let merged = result json
                    let expected = ResultJson.series merged |> List.map shape
                    for chunking in [ RowsPerChunk; SeriesPerChunk ] do
                        Expect.equal (joined (List.ofSeq (ResultChunks.chunks chunking size merged))) expected (sprintf "%A" chunking)))

            testProperty "a SELECT's chunks hold one series of at most chunk size rows, each chunk partial but the last"
                (Prop.forAll resultAndSize (fun (json, size) ->
                    let chunks = ResultChunks.chunks RowsPerChunk size (result json) |> List.ofSeq
                    for chunk in chunks do
                        Expect.equal (ResultJson.statementId chunk) (ResultJson.statementId (result json)) "the statement's id"
                        Expect.hasLength (ResultJson.series chunk) 1 "one series"
                        Expect.isLessThanOrEqual (ResultJson.rows (ResultJson.series chunk).Head).Length size "at most chunk size rows"
                    Expect.equal [ for c in chunks -> not (isNull c["partial"]) ] [ for i in 1 .. chunks.Length -> i < chunks.Length ] "partial but the last"))

            testProperty "SHOW TAG KEYS/VALUES: one chunk per series, none partial"
                (Prop.forAll resultAndSize (fun (json, size) ->
                    let chunks = ResultChunks.chunks SeriesPerChunk size (result json) |> List.ofSeq
                    Expect.hasLength chunks (ResultJson.series (result json)).Length "one per series"
                    Expect.isTrue (chunks |> List.forall (fun c -> isNull c["partial"] && isNull (ResultJson.series c).Head["partial"])) "none partial"))
        ]

        testList "requested" [
            test "chunks only when chunked is exactly true, as InfluxDB reads it" {
                for chunked in [ ""; "True"; "1"; "yes" ] do
                    Expect.isNone (ResultChunks.requested chunked "5") chunked
                Expect.equal (ResultChunks.requested "true" "") (Some 10000) "the default size"
            }

            test "a chunk size that is not a positive integer is the default" {
                for size in [ "abc"; "0"; "-3"; "1.5"; " 5"; "5 "; "0x10" ] do
                    Expect.equal (ResultChunks.requested "true" size) (Some ResultChunks.defaultSize) size
                Expect.equal (ResultChunks.requested "true" "7") (Some 7) "7"
                Expect.equal (ResultChunks.requested "true" "+5") (Some 5) "a plus sign, as Go's ParseInt reads it"
            }

            test "a chunk size past the int range cuts at the largest int (no answer is that long)" {
                Expect.equal (ResultChunks.requested "true" "99999999999") (Some Int32.MaxValue) "clamped"
                Expect.equal (ResultChunks.requested "true" "99999999999999999999") (Some ResultChunks.defaultSize) "past int64: the default, as Go"
            }
        ]

        test "chunking: how InfluxDB runs each statement" {
            for kind in [ Select; ShowSeries; ShowFieldKeys; ShowCardinality "series"; ShowCardinality "tag values" ] do
                Expect.equal (ResultChunks.chunking kind) RowsPerChunk (sprintf "%A" kind)
            for kind in [ ShowTagKeys; ShowTagValues ] do
                Expect.equal (ResultChunks.chunking kind) SeriesPerChunk (sprintf "%A" kind)
            for kind in [ ShowMeasurements; ShowDatabases; ShowRetentionPolicies; ShowStats; ShowDiagnostics; CreateDatabase "x"; Delete ] do
                Expect.equal (ResultChunks.chunking kind) WholeResult (sprintf "%A" kind)
        }
    ]
