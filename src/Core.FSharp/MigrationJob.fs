/// A migration job as it is kept on disk: the request as it came (so a restarted proxy reads it again the same way),
/// the plan once made, and what became of each step. The formats are JSON and one line per finished step.
namespace InfluxProxy.Core

open System
open System.Text.Json.Nodes

/// A migration request accepted: answered 202 once this is on disk.
type MigrationJob =
    { Id: string
      /// rebalance, recovery, resync, clear or cleanup.
      Endpoint: string
      /// The request's parameters as given (query and form).
      Parameters: (string * string) list
      Body: string
      /// When it was accepted: anchors a resync window given in days, hours, minutes and seconds.
      AcceptedNs: int64 }

/// The plan of a job, made once from the inventory and kept with it: a restart goes on with the same steps.
type PlannedJob =
    { /// The current ring's members and the backends a rebalance removes.
      Members: MigrationMember list
      /// What the sources held when the job planned (for the original's counters).
      Holdings: Holding list
      Steps: MigrationStep list }

type StepStatus =
    | Pending
    /// Points read so far.
    | Running of points: int64
    | Done of points: int64
    | FailedWith of reason: string
    /// A step it waits for failed.
    | Skipped of reason: string

/// What the step log keeps: each finished step, once.
type StepRecord =
    | StepDone of id: int * points: int64
    | StepFailed of id: int * reason: string

/// How a job ended, when it has.
type JobEnd =
    | Finished
    | Cancelled
    /// Given up before its steps: no plan could be made, or the configuration no longer fits it.
    | Abandoned of reason: string

module MigrationJob =
    let private text (node: JsonNode) (key: string) = node[key].GetValue<string>()
    let private number (node: JsonNode) (key: string) = node[key].GetValue<int64>()
    let private optional (node: JsonNode) (key: string) = match node[key] with null -> None | n -> Some(n.GetValue<int64>())

    let private ofOption =
        function
        | Some(v: int64) -> JsonValue.Create v :> JsonNode
        | None -> null

    let encode (job: MigrationJob) : string =
        let parameters = JsonArray()
        for name, value in job.Parameters do
            parameters.Add(JsonArray(JsonValue.Create name, JsonValue.Create value))
        JsonObject(
            [ Collections.Generic.KeyValuePair("id", JsonValue.Create job.Id :> JsonNode)
              Collections.Generic.KeyValuePair("endpoint", JsonValue.Create job.Endpoint)
              Collections.Generic.KeyValuePair("parameters", parameters)
              Collections.Generic.KeyValuePair("body", JsonValue.Create job.Body)
              Collections.Generic.KeyValuePair("accepted_ns", JsonValue.Create job.AcceptedNs) ])
            .ToJsonString()

    /// None when the text is not a job (a file torn by a crash before it was renamed into place cannot be; a
    /// file edited by hand can).
    let decode (json: string) : MigrationJob option =
        try
            let node = JsonNode.Parse json
            Some
                { Id = text node "id"
                  Endpoint = text node "endpoint"
                  Parameters = [ for p in node["parameters"].AsArray() -> p[0].GetValue<string>(), p[1].GetValue<string>() ]
                  Body = text node "body"
                  AcceptedNs = number node "accepted_ns" }
        with :? InvalidOperationException | :? Text.Json.JsonException | :? FormatException | :? NullReferenceException | :? ArgumentException ->
            None

    let private stepKind (step: MigrationStep) (node: JsonObject) =
        match step.Kind with
        | Copy(destinations, window) ->
            node["kind"] <- "copy"
            node["destinations"] <- JsonArray([| for d in destinations -> JsonValue.Create d :> JsonNode |])
            node["from"] <- ofOption window.From
            node["until"] <- ofOption window.Until
        | Verify destination ->
            node["kind"] <- "verify"
            node["destination"] <- destination
        | Drop -> node["kind"] <- "drop"
        | Drained -> node["kind"] <- "drained"

    let private encodeStep (step: MigrationStep) : JsonNode =
        let node = JsonObject()
        node["id"] <- step.Id
        stepKind step node
        node["source"] <- step.Source
        node["db"] <- step.Db
        node["rp"] <- step.Rp
        node["measurement"] <- step.Measurement
        node["points"] <- ofOption step.Points
        node

    let private decodeStep (node: JsonNode) : MigrationStep =
        { Id = int (number node "id")
          Kind =
            match text node "kind" with
            | "copy" ->
                Copy([ for d in node["destinations"].AsArray() -> d.GetValue<int>() ], { From = optional node "from"; Until = optional node "until" })
            | "verify" -> Verify(int (number node "destination"))
            | "drop" -> Drop
            | "drained" -> Drained
            | other -> raise (FormatException $"unknown step kind {other}")
          Source = int (number node "source")
          Db = text node "db"
          Rp = text node "rp"
          Measurement = text node "measurement"
          Points = optional node "points" }

    let encodePlan (plan: PlannedJob) : string =
        let node = JsonObject()
        node["members"] <-
            JsonArray(
                [| for m in plan.Members ->
                       JsonObject(
                           [ Collections.Generic.KeyValuePair("id", JsonValue.Create m.Id :> JsonNode)
                             Collections.Generic.KeyValuePair("circle", JsonValue.Create m.Circle)
                             Collections.Generic.KeyValuePair("name", JsonValue.Create m.Name)
                             Collections.Generic.KeyValuePair("url", JsonValue.Create m.Url) ])
                       :> JsonNode |]
            )
        node["holdings"] <-
            JsonArray(
                [| for h in plan.Holdings ->
                       JsonArray(JsonValue.Create h.Backend, JsonValue.Create h.Db, JsonValue.Create h.Rp, JsonValue.Create h.Measurement, ofOption h.Points)
                       :> JsonNode |]
            )
        node["steps"] <- JsonArray([| for s in plan.Steps -> encodeStep s |])
        node.ToJsonString()

    let decodePlan (json: string) : PlannedJob option =
        try
            let node = JsonNode.Parse json
            Some
                { Members =
                    [ for m in node["members"].AsArray() ->
                        { Id = int (number m "id"); Circle = int (number m "circle"); Name = text m "name"; Url = text m "url" } ]
                  Holdings =
                    [ for h in node["holdings"].AsArray() ->
                        { Backend = h[0].GetValue<int>()
                          Db = h[1].GetValue<string>()
                          Rp = h[2].GetValue<string>()
                          Measurement = h[3].GetValue<string>()
                          Points = match h[4] with null -> None | p -> Some(p.GetValue<int64>()) } ]
                  Steps = [ for s in node["steps"].AsArray() -> decodeStep s ] }
        with :? InvalidOperationException | :? Text.Json.JsonException | :? FormatException | :? NullReferenceException | :? ArgumentException ->
            None

    /// One line of the step log, newline included; a reason keeps to one line.
    let encodeRecord (record: StepRecord) : string =
        match record with
        | StepDone(id, points) -> $"{id} done {points}\n"
        | StepFailed(id, reason) -> $"""{id} failed {reason.ReplaceLineEndings(" ")}""" + "\n"

    /// The records of a step log; a line that is not one, or has no newline yet (the last one, torn by a crash: a
    /// number cut short still reads as one), is left out.
    let decodeRecords (log: string) : StepRecord list =
        let lines = log.Split '\n'
        [ for line in lines[.. lines.Length - 2] do
              match line.Split(' ', 3) with
              | [| id; "done"; points |] ->
                  match Int32.TryParse id, Int64.TryParse points with
                  | (true, id), (true, points) -> StepDone(id, points)
                  | _ -> ()
              | [| id; "failed"; reason |] ->
                  match Int32.TryParse id with
                  | true, id -> StepFailed(id, reason)
                  | _ -> ()
              | _ -> () ]

    /// Each step's status after the records (a step recorded twice, the last record wins: a retry after a restart).
    let statuses (steps: MigrationStep list) (records: StepRecord list) : Map<int, StepStatus> =
        records
        |> List.fold
            (fun statuses record ->
                match record with
                | StepDone(id, points) -> Map.add id (Done points) statuses
                | StepFailed(id, reason) -> Map.add id (FailedWith reason) statuses)
            (steps |> List.map (fun s -> s.Id, Pending) |> Map.ofList)

    let encodeEnd =
        function
        | Finished -> "finished"
        | Cancelled -> "cancelled"
        | Abandoned reason -> "abandoned " + reason

    let decodeEnd (text: string) =
        match text with
        | "finished" -> Some Finished
        | "cancelled" -> Some Cancelled
        | _ when text.StartsWith("abandoned ", StringComparison.Ordinal) -> Some(Abandoned(text.Substring "abandoned ".Length))
        | _ -> None

    /// The copies finished whole by earlier jobs (<see cref="Inventory.Copied"/>), as kept on disk.
    let encodeCopied (copied: Set<string * string * string * string * string>) : string =
        JsonArray(
            [| for a, b, db, rp, m in copied ->
                   JsonArray(JsonValue.Create a, JsonValue.Create b, JsonValue.Create db, JsonValue.Create rp, JsonValue.Create m) :> JsonNode |]
        )
            .ToJsonString()

    /// None when the text is not such a set.
    let decodeCopied (json: string) : Set<string * string * string * string * string> option =
        try
            Some(
                set
                    [ for c in JsonNode.Parse(json).AsArray() ->
                        let t (i: int) = c[i].GetValue<string>()
                        t 0, t 1, t 2, t 3, t 4 ]
            )
        with :? InvalidOperationException | :? Text.Json.JsonException | :? FormatException | :? NullReferenceException | :? ArgumentException ->
            None
