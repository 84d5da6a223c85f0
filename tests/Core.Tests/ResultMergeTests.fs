module InfluxProxy.Core.Tests.ResultMergeTests

open System.Text.Json.Nodes
open Expecto
open InfluxProxy.Core

let private result (json: string) = JsonNode.Parse(json) :?> JsonObject
let private text (node: JsonObject) = node.ToJsonString()

let private measurements (names: string list) =
    let rows = names |> List.map (sprintf "[\"%s\"]") |> String.concat ","
    result (sprintf """{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[%s]}]}""" rows)

/// The first cell of every row of a result's first series.
let private firstColumn (merged: JsonObject) = [ for row in merged["series"].[0].["values"].AsArray() -> row.[0].GetValue<string>() ]

let tests =
    testList "ResultMerge" [
        test "SHOW rows from several backends are united, sorted and de-duplicated" {
            let merged = ResultMerge.mergeShow 3 None None [ measurements [ "m3"; "m1" ]; measurements [ "m2"; "m1" ] ]
            Expect.equal (text merged) """{"statement_id":3,"series":[{"name":"measurements","columns":["name"],"values":[["m1"],["m2"],["m3"]]}]}""" "union"
        }

        test "rows are the same row only when every cell is, of the same kind: the string \"1\" is not the number 1" {
            let a = result """{"statement_id":0,"series":[{"name":"m","columns":["key","n"],"values":[["a","1"],["a",1],["b",null]]}]}"""
            let b = result """{"statement_id":0,"series":[{"name":"m","columns":["key","n"],"values":[["a",1],["b",null],["b","null"]]}]}"""
            Expect.stringContains (text (ResultMerge.mergeShow 0 None None [ a; b ])) "[[\"a\",\"1\"],[\"a\",1],[\"b\",null],[\"b\",\"null\"]]" "kinds kept apart, duplicates removed"
        }

        test "names outside ASCII sort after ASCII ones, by their characters, as InfluxDB sorts them" {
            let merged = ResultMerge.mergeShow 0 None None [ measurements [ "中"; "b+c" ]; measurements [ "b"; "а"; "Z" ] ]
            Expect.equal (firstColumn merged) [ "Z"; "b"; "b+c"; "а"; "中" ] "ordinal order of the names"
        }

        test "rows are ordered cell by cell, a name before the longer names it begins" {
            let merged = ResultMerge.mergeShow 0 None None [ measurements [ "a!"; "a b" ]; measurements [ "a" ] ]
            Expect.equal (firstColumn merged) [ "a"; "a b"; "a!" ] "ordinal order"
            let tagValues = result """{"statement_id":0,"series":[{"name":"cpu","columns":["key","value"],"values":[["host","a b"],["host","a"]]}]}"""
            Expect.stringContains (text (ResultMerge.mergeShow 0 None None [ tagValues ])) "[[\"host\",\"a\"],[\"host\",\"a b\"]]" "by value"
        }

        test "series of a SELECT are ordered by name, then by tag values" {
            let series name host =
                result (sprintf """{"statement_id":0,"series":[{"name":"%s","tags":{"host":"%s"},"columns":["time","v"],"values":[[1,2]]}]}""" name host)
            let merged = ResultMerge.concatSeries 0 [ series "a b" "x"; series "a" "y b"; series "a" "y" ]
            let order = [ for s in merged["series"].AsArray() -> s.["name"].GetValue<string>() + "/" + s.["tags"].["host"].GetValue<string>() ]
            Expect.equal order [ "a/y"; "a/y b"; "a b/x" ] "name, then host"
        }

        test "OFFSET and LIMIT apply once, after the merge" {
            let merged = ResultMerge.mergeShow 0 (Some 2) (Some 1) [ measurements [ "a"; "c" ]; measurements [ "b"; "d" ] ]
            Expect.stringContains (text merged) "\"values\":[[\"b\"],[\"c\"]]" "b and c"
        }

        test "tag keys of the same measurement on two backends are merged, not last-one-wins" {
            let keys (keys: string list) =
                result (sprintf """{"statement_id":0,"series":[{"name":"cpu","columns":["tagKey"],"values":[%s]}]}""" (keys |> List.map (sprintf "[\"%s\"]") |> String.concat ","))
            let merged = ResultMerge.mergeShow 0 None None [ keys [ "host" ]; keys [ "dc"; "host" ] ]
            Expect.stringContains (text merged) "\"values\":[[\"dc\"],[\"host\"]]" "both keys"
        }

        test "a backend error wins over the others' rows" {
            let error = result """{"statement_id":0,"error":"database not found: x"}"""
            Expect.equal (text (ResultMerge.mergeShow 0 None None [ measurements [ "a" ]; error ])) (text error) "error"
        }

        test "a merged series keeps its properties in the backend's order" {
            let partial name = result (sprintf """{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["%s"]],"partial":true}]}""" name)
            let merged = ResultMerge.mergeShow 0 None None [ partial "b"; partial "a" ]
            Expect.equal (text merged) """{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["a"],["b"]],"partial":true}]}""" "order"
        }

        test "rows of a series are kept when the first backend's copy of it has none, and null properties stay null" {
            let empty = result """{"statement_id":0,"series":[{"name":"cpu","tags":null,"columns":["tagKey"]}]}"""
            let rows = result """{"statement_id":0,"series":[{"name":"cpu","tags":null,"columns":["tagKey"],"values":[["host"]]}]}"""
            let merged = ResultMerge.mergeShow 0 None None [ empty; rows ]
            Expect.equal (text merged) """{"statement_id":0,"series":[{"name":"cpu","tags":null,"columns":["tagKey"],"values":[["host"]]}]}""" "rows kept"
        }

        test "a backend's error becomes this statement's, detached from the backend's answer" {
            // As the host reads it: results[0] of a backend's answer, still inside that answer's array.
            let answer = JsonNode.Parse """{"results":[{"statement_id":0,"error":"database not found: x"}]}"""
            let answered = answer["results"].[0] :?> JsonObject
            let expected = """{"statement_id":2,"error":"database not found: x"}"""
            for merged in [ ResultMerge.mergeShow 2 None None [ measurements [ "a" ]; answered ]
                            ResultMerge.concatSeries 2 [ measurements [ "a" ]; answered ]
                            ResultMerge.sumCounts 2 [ answered ] ] do
                Expect.equal (text merged) expected "the error, with our statement id"
                Expect.isNull merged.Parent "a result of its own, ready to be put in the proxy's answer"
        }

        test "a whitelist filter keeps an error" {
            let error = result """{"statement_id":1,"error":"boom"}"""
            Expect.equal (text (ResultMerge.filterFirstColumn (fun _ -> true) error)) (text error) "error kept"
        }

        test "cardinalities of the same series are added" {
            let count n = result (sprintf """{"statement_id":0,"series":[{"columns":["count"],"values":[[%d]]}]}""" n)
            Expect.stringContains (text (ResultMerge.sumCounts 0 [ count 3; count 4 ])) "\"values\":[[7]]" "3 + 4"
        }

        test "series of different measurements are put side by side, by name" {
            let series name = result (sprintf """{"statement_id":0,"series":[{"name":"%s","columns":["time","v"],"values":[[1,2]]}]}""" name)
            let merged = ResultMerge.concatSeries 0 [ series "mem"; series "cpu" ]
            Expect.stringStarts (text merged) """{"statement_id":0,"series":[{"name":"cpu",""" "sorted by name"
        }

        test "SHOW DATABASES can be filtered by a whitelist" {
            let dbs = result """{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["a"],["b"]]}]}"""
            Expect.stringContains (text (ResultMerge.filterFirstColumn (fun db -> db = "b") dbs)) "\"values\":[[\"b\"]]" "only b"
        }

        test "a series the whitelist empties has no values, as InfluxDB writes a series without rows" {
            let dbs = result """{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["a"]]}]}"""
            Expect.equal (text (ResultMerge.filterFirstColumn (fun _ -> false) dbs)) """{"statement_id":0,"series":[{"name":"databases","columns":["name"]}]}""" "no values"
        }
    ]
