module InfluxProxy.Core.Tests.FailedStatementTests

open System.Text.Json.Nodes
open Expecto
open InfluxProxy.Core

let private failure id = JsonNode.Parse(sprintf """{"statement_id":%d,"error":"undefined function foo()"}""" id) :?> JsonObject
let private texts (results: JsonObject list) = results |> List.map (fun r -> r.ToJsonString())

let tests =
    testList "FailedStatement" [
        testList "chunks" [
            test "the failure, then a not executed error under its id for each statement after it" {
                // As influxd 1.6.7 streams `SHOW MEASUREMENTS; SHOW MEASUREMENTS; SELECT foo(value) FROM m1; SHOW MEASUREMENTS; SHOW MEASUREMENTS; SHOW MEASUREMENTS`.
                Expect.equal (texts (FailedStatement.chunks 6 (failure 2))) [
                    """{"statement_id":2,"error":"undefined function foo()"}"""
                    """{"statement_id":2,"error":"not executed"}"""
                    """{"statement_id":2,"error":"not executed"}"""
                    """{"statement_id":2,"error":"not executed"}""" ] "InfluxDB's chunks"
            }

            test "the last statement failing is its failure alone" {
                Expect.equal (texts (FailedStatement.chunks 3 (failure 2))) [ """{"statement_id":2,"error":"undefined function foo()"}""" ] "no statement left"
            }

            test "the first of one statement failing is its failure alone" {
                Expect.equal (texts (FailedStatement.chunks 1 (failure 0))) [ """{"statement_id":0,"error":"undefined function foo()"}""" ] "no statement left"
            }
        ]

        testList "result" [
            test "with statements after it, not executed under its id: its own error is lost" {
                // As influxd 1.6.7 answers `SHOW MEASUREMENTS; SELECT foo(value) FROM m1; DROP MEASUREMENT m2; SHOW MEASUREMENTS`.
                Expect.equal ((FailedStatement.result 4 (failure 1)).ToJsonString()) """{"statement_id":1,"error":"not executed"}""" "replaced"
            }

            test "the last statement keeps its error" {
                Expect.equal ((FailedStatement.result 2 (failure 1)).ToJsonString()) """{"statement_id":1,"error":"undefined function foo()"}""" "its error"
            }
        ]
    ]
