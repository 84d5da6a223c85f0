/// The migration endpoints' parameters (shared/spec/migration.md §1), v2.4.7's names with v2.5.12's as aliases:
/// validated in the original's order and words, except that a busy circle is a refusal of its own (409), never an
/// acceptance.
namespace InfluxProxy.Core

open System
open System.Text.Json
open System.Text.RegularExpressions

/// A backend a `rebalance?operation=rm` takes out of a circle, as its body lists it.
type RemovedBackend =
    { Name: string
      Url: string
      Username: string
      Password: string
      /// Its https certificate is not checked, as `tls_insecure_skip_verify` said of it before it was removed.
      TlsInsecureSkipVerify: bool }

type RequestedOperation =
    | RebalanceRequest of circle: int * removed: RemovedBackend list
    | RecoveryRequest of fromCircle: int * toCircle: int * urls: string list
    /// Points at or after `since` (ns), or all of them.
    | ResyncRequest of since: int64 option
    | ClearRequest of circle: int

type MigrationRequest =
    { Operation: RequestedOperation
      /// Empty: every database.
      Dbs: string list
      /// Copies run at once (`cpus`, `worker`).
      Workers: int
      /// Lines per batch read and written (`batch`), or the config's `migrate_batch`.
      Batch: int option
      /// Peers to tell of the flags; None keeps the list remembered from the last request.
      HaAddrs: string list option
      /// Answer the plan instead of running it.
      DryRun: bool }

type MigrationRequestError =
    /// 400, in the original's words.
    | Invalid of text: string
    /// 409: a circle it needs is migrating, or a resync runs.
    | Busy of text: string

/// Which job's statistics `/migrate/stats` (`/transfer/stats`) asks for.
type MigrationKind =
    | RebalanceKind
    | RecoveryKind
    | ResyncKind
    | ClearKind

module MigrationKind =
    let name =
        function
        | RebalanceKind -> "rebalance"
        | RecoveryKind -> "recovery"
        | ResyncKind -> "resync"
        | ClearKind -> "clear"

    let parse =
        function
        | "rebalance" -> Some RebalanceKind
        | "recovery" -> Some RecoveryKind
        | "resync" -> Some ResyncKind
        | "clear" | "cleanup" -> Some ClearKind
        | _ -> None

    let ofOperation =
        function
        | RebalanceRequest _ -> RebalanceKind
        | RecoveryRequest _ -> RecoveryKind
        | ResyncRequest _ -> ResyncKind
        | ClearRequest _ -> ClearKind

module MigrationRequestError =
    let text =
        function
        | Invalid text
        | Busy text -> text

module MigrationRequest =
    /// The default number of steps at once, when neither `cpus` nor `worker` says: a copy waits on its source's answer
    /// and its destination's writes far more than it works (about 1 CPU-second per million points), so more than
    /// the cores: with `build.fsx bench-migrate` on 2 cores, 8 copied about 235k points/s where 4 copied 150k–198k.
    let defaultWorkers = 8

    let private haAddress = Regex(@"^[\w\-.]+:\d{1,5}$")

    /// A list parameter: the whole value trimmed of commas and spaces, split on commas, each item trimmed (the
    /// original kept the spaces in the items, so `db1, db2` named " db2").
    let list (text: string) : string list =
        text.Trim(',', ' ').Split(',') |> Array.map _.Trim() |> Array.filter (fun s -> s <> "") |> List.ofArray

    let private circleId (circles: int) (name: string) (text: string) =
        match Int32.TryParse text with
        | true, id when id >= 0 && id < circles -> Ok id
        | _ -> Error(Invalid $"invalid {name}")

    let private nonNegative (text: string) =
        if text = "" then Some 0L
        else
            match Int64.TryParse text with
            | true, n when n >= 0L -> Some n
            | _ -> None

    let private removedBackends (body: string) : Result<RemovedBackend list, MigrationRequestError> =
        let fail = Error(Invalid "invalid backends from body")
        try
            use doc = JsonDocument.Parse(if String.IsNullOrWhiteSpace body then "null" else body)
            match doc.RootElement.ValueKind with
            | JsonValueKind.Object ->
                match doc.RootElement.TryGetProperty "backends" with
                | true, backends when backends.ValueKind = JsonValueKind.Array ->
                    let text (el: JsonElement) (key: string) =
                        match el.TryGetProperty key with
                        | true, v when v.ValueKind = JsonValueKind.String -> v.GetString()
                        | _ -> ""
                    let flag (el: JsonElement) (key: string) =
                        match el.TryGetProperty key with
                        | true, v -> v.ValueKind = JsonValueKind.True
                        | _ -> false
                    let list =
                        [ for b in backends.EnumerateArray() ->
                            { Name = text b "name"
                              Url = (text b "url").TrimEnd '/'
                              Username = text b "username"
                              Password = text b "password"
                              TlsInsecureSkipVerify = flag b "tls_insecure_skip_verify" } ]
                    if list.IsEmpty || list |> List.exists (fun b -> b.Url = "") then fail else Ok list
                | _ -> fail
            | _ -> fail
        with :? JsonException -> fail

    /// The operation a POST to `endpoint` (rebalance, recovery, resync, clear or cleanup) asks for, checked in the
    /// original's order: ids, operation and body, the window, whether a circle it needs is busy, then the tuning
    /// parameters and the peers. `value` gives a parameter ("" when absent), `nowNs` anchors a window.
    let parse (endpoint: string) (circles: int) (cores: int) (nowNs: int64) (flags: MigrationFlags) (value: string -> string) (body: string)
        : Result<MigrationRequest, MigrationRequestError> =
        let migrating circle = not (MigrationFlags.readable flags circle)
        let busy =
            function
            | _ when flags.Resyncing -> Error(Busy "proxy is resyncing")
            | RebalanceRequest(circle, _)
            | ClearRequest circle when migrating circle -> Error(Busy $"circle {circle} is migrating")
            | RecoveryRequest(a, b, _) when migrating a || migrating b -> Error(Busy $"circle {a} or {b} is migrating")
            | ResyncRequest _ when flags.Migrating |> List.exists id ->
                Error(Busy $"circle {List.findIndex id flags.Migrating} is migrating")
            | operation -> Ok operation
        let operation =
            match endpoint with
            | "rebalance" ->
                circleId circles "circle_id" (value "circle_id")
                |> Result.bind (fun circle ->
                    match value "operation" with
                    | "add" -> Ok(RebalanceRequest(circle, []))
                    | "rm" -> removedBackends body |> Result.map (fun removed -> RebalanceRequest(circle, removed))
                    | _ -> Error(Invalid "invalid operation"))
            | "recovery" ->
                circleId circles "from_circle_id" (value "from_circle_id")
                |> Result.bind (fun from ->
                    circleId circles "to_circle_id" (value "to_circle_id")
                    |> Result.bind (fun target ->
                        if from = target then Error(Invalid "from_circle_id and to_circle_id cannot be same")
                        else Ok(RecoveryRequest(from, target, list (value "backend_urls") |> List.map _.TrimEnd('/')))))
            | "resync" ->
                let seconds = [ "days", 86400L; "hours", 3600L; "minutes", 60L; "seconds", 1L ] |> List.map (fun (name, unit) -> nonNegative (value name) |> Option.map ((*) unit))
                if seconds |> List.exists Option.isNone then Error(Invalid "invalid days, hours, minutes or seconds")
                else
                    let window = seconds |> List.sumBy Option.get
                    Ok(ResyncRequest(if window > 0L then Some(nowNs - window * 1_000_000_000L) else None))
            | "clear" | "cleanup" -> circleId circles "circle_id" (value "circle_id") |> Result.map ClearRequest
            | other -> Error(Invalid $"unknown operation {other}")
        let positive (name: string) =
            match value name with
            | "" -> Ok None
            | text ->
                match Int32.TryParse text with
                | true, n when n > 0 -> Ok(Some n)
                | _ -> Error(Invalid $"invalid {name}, require positive integer")
        let workers =
            match value "cpus" with
            | "" -> positive "worker" |> Result.map (Option.defaultValue defaultWorkers)
            | text ->
                match Int32.TryParse text with
                | true, n when n >= 1 && n <= cores -> Ok n
                | _ -> Error(Invalid "invalid cpus")
        let since (operation: RequestedOperation) =
            match value "since", value "tick" with
            | "", "" -> Ok operation
            | text, "" | "", text ->
                match nonNegative text, operation with
                | None, _ -> Error(Invalid "invalid since, require non-negative integer")
                | Some 0L, _ -> Ok operation
                | Some seconds, ResyncRequest _ -> Ok(ResyncRequest(Some(seconds * 1_000_000_000L)))
                | Some _, other -> Ok other
            | _ -> Error(Invalid "invalid since, require non-negative integer")
        let haAddrs =
            match list (value "ha_addrs") with
            | [] when value "ha_addrs" = "" -> Ok None
            | [ _ ] -> Error(Invalid "ha_addrs should contain two addrs at least")
            | addrs when addrs |> List.forall haAddress.IsMatch -> Ok(Some addrs)
            | _ -> Error(Invalid "invalid ha_addrs")
        operation
        |> Result.bind busy
        |> Result.bind (fun operation ->
            workers
            |> Result.bind (fun workers ->
                positive "batch"
                |> Result.bind (fun batch ->
                    since operation
                    |> Result.bind (fun operation ->
                        haAddrs
                        |> Result.map (fun ha ->
                            { Operation = operation
                              Dbs = list (if value "db" <> "" then value "db" else value "dbs")
                              Workers = workers
                              Batch = batch
                              HaAddrs = ha
                              DryRun = value "dry_run" = "true" })))))

    /// `/migrate/stats?circle_id=&type=`.
    let parseStats (circles: int) (value: string -> string) : Result<int * MigrationKind, MigrationRequestError> =
        circleId circles "circle_id" (value "circle_id")
        |> Result.bind (fun circle ->
            match MigrationKind.parse (value "type") with
            | Some kind -> Ok(circle, kind)
            | None -> Error(Invalid "invalid stats type"))
