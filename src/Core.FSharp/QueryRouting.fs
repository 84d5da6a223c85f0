/// Where a parsed statement goes, what it needs of the backends, and what it changes of what the write path knows:
/// the query path's decisions, apart from the HTTP that carries them out.
namespace InfluxProxy.Core

/// How the answers of a statement asked of every backend of a circle become one.
type Merge =
    /// Cardinalities: added up.
    | SumCounts
    /// SELECT, SHOW STATS, SHOW DIAGNOSTICS: series side by side.
    | ConcatSeries
    /// The other SHOW statements: merged, sorted, de-duplicated, then paged once.
    | MergeShow of limit: int option * offset: int option

/// How one statement reaches the backends.
type QueryRoute =
    /// One measurement: its owner, in the first circle that can answer.
    | Owner of measurement: string
    /// Several measurements or none named: every backend of one circle, answers merged.
    | FanOut of Merge
    /// Schema changes: every backend of every circle.
    | Everywhere
    /// Data deletion of one measurement: its owner in every circle.
    | OwnerEverywhere of measurement: string

/// What a statement run through the proxy changes of the schema the write path knows.
type SchemaChange =
    | DatabaseCreated of db: string
    | DatabaseDropped of db: string
    | PolicyCreated of db: string * rp: string
    | PolicyDropped of db: string * rp: string

/// One place a statement may be sent (a backend, or a circle), as the ordering sees it.
type Candidate<'a> =
    { Item: 'a
      /// Lower is healthier (<see cref="QueryRouting.rank"/>; a circle's is its backends' sum).
      Rank: int
      /// Not migrating: it may serve reads.
      Readable: bool }

module QueryRouting =
    let route (statement: Statement) : QueryRoute =
        let single = Source.single statement.Sources |> Option.map snd
        match statement.Kind, single with
        | (CreateDatabase _ | DropDatabase _ | CreateRetentionPolicy _ | DropRetentionPolicy _), _ -> Everywhere
        | (Delete | DropSeries | DropMeasurement _), Some measurement -> OwnerEverywhere measurement
        | (Delete | DropSeries | DropMeasurement _), None -> Everywhere
        | (Select | ShowSeries | ShowTagKeys | ShowTagValues | ShowFieldKeys), Some measurement -> Owner measurement
        | ShowCardinality _, _ -> FanOut SumCounts
        | (Select | ShowStats | ShowDiagnostics), _ -> FanOut ConcatSeries
        | _ -> FanOut(MergeShow(statement.Limit, statement.Offset))

    /// The database a statement runs against: its ON clause, a `db.rp.m` source, or the `db` parameter.
    let database (dbParam: string) (statement: Statement) : string =
        statement.On
        |> Option.orElse (statement.Sources |> List.collect Source.databases |> List.tryHead)
        |> Option.defaultValue dbParam

    /// Every database a request names: the `db` parameter, each ON clause, each source's.
    let databasesNamed (dbParam: string) (statements: Statement list) : string list =
        [ for s in statements do
            yield! Option.toList s.On
            yield! s.Sources |> List.collect Source.databases
          yield dbParam ]
        |> List.filter (fun db -> db <> "")

    /// What a statement changes of the schema, once run against `db`: what it created once it succeeded, what it
    /// dropped even when some backend failed (forgetting only makes the next write ask again).
    let schemaChange (db: string) (succeeded: bool) (statement: Statement) : SchemaChange option =
        match statement.Kind with
        | CreateDatabase name when succeeded -> Some(DatabaseCreated name)
        | DropDatabase name -> Some(DatabaseDropped name)
        | CreateRetentionPolicy rp when succeeded -> Some(PolicyCreated(db, rp))
        | DropRetentionPolicy rp -> Some(PolicyDropped(db, rp))
        | _ -> None

    /// How fit a backend is for reads: up (or not probed yet) with nothing left to replay first, then up but still
    /// replaying; a `write_only` one up after those; any backend down last.
    let rank (writeOnly: bool) (acceptsWrites: bool) (backlogEmpty: bool) : int =
        if not acceptsWrites then 4
        else (if writeOnly then 2 else 0) + (if backlogEmpty then 0 else 1)

    /// The candidates to try, in order: the readable ones (all of them when none is, so reads still go somewhere),
    /// healthiest first, ties in the order of `tieBreak` (a key per candidate's index: random keys spread the load).
    let inTryOrder (tieBreak: int -> int) (candidates: Candidate<'a> list) : 'a list =
        let readable = candidates |> List.exists _.Readable
        candidates
        |> List.mapi (fun i c -> c, tieBreak i)
        |> List.filter (fun (c, _) -> c.Readable || not readable)
        |> List.sortBy (fun (c, key) -> c.Rank, key)
        |> List.map (fun (c, _) -> c.Item)

/// The database whitelist (`db_list`): empty allows every database.
module Whitelist =
    let allows (allowed: string list) (db: string) : bool = allowed.IsEmpty || List.contains db allowed

    /// The first database a request names that is not allowed.
    let firstRefused (allowed: string list) (dbParam: string) (statements: Statement list) : string option =
        QueryRouting.databasesNamed dbParam statements |> List.tryFind (allows allowed >> not)
