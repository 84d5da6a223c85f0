/// What InfluxDB 1.6 answers once a statement of a query fails: it runs none of the statements after it and answers
/// each of them with a `not executed` error. Its executor sends those under the id of the statement it stopped at, not
/// their own (its query/executor.go; checked against influxd 1.6.7).
module InfluxProxy.Core.FailedStatement

open System.Text.Json.Nodes

/// What InfluxDB's executor sends from the failed statement on, in a query of `statementCount` statements: the
/// failure, then one `{"statement_id":<the failed one's>,"error":"not executed"}` per statement after it; in a
/// `chunked=true` answer, a chunk each.
let chunks (statementCount: int) (failed: JsonObject) : JsonObject list =
    let id = ResultJson.statementId failed
    let notExecuted () =
        let result = JsonObject()
        result["statement_id"] <- JsonValue.Create id
        result["error"] <- JsonValue.Create "not executed"
        result
    failed :: List.init (max 0 (statementCount - 1 - id)) (fun _ -> notExecuted ())

/// The failed statement's result in an answer not chunked, the last of the answer: InfluxDB keeps one result per
/// statement id, an error sent later for the same id replacing it. So `not executed` when statements were left after
/// it (its own error is lost), its error when it was the last.
let result (statementCount: int) (failed: JsonObject) : JsonObject = List.last (chunks statementCount failed)
