/// What a migration does, as data: from what every backend holds and the operation asked for, the steps that put
/// every measurement where the current ring says. No I/O: the host gathers the inventory and carries the steps out.
/// The operations are the original's (shared/spec/migration.md §3), with what it lacked: every retention policy, a
/// verification before anything is dropped, and nothing copied twice.
namespace InfluxProxy.Core

open System

/// A backend as migration sees it. Removed backends (a rebalance that takes backends away) are members too, with
/// ids after the configured ones.
type MigrationMember =
    { Id: int
      Circle: int
      Name: string
      Url: string }

/// The current ring's members, circle by circle, and where each measurement belongs.
type MigrationCluster =
    { Placement: Placement
      /// By circle, in ring order (the index a ring returns).
      Circles: MigrationMember list list }

/// One (database, retention policy, measurement) on one backend, with its point count when known (the most of any
/// field's count: every point has at least one field).
type Holding =
    { Backend: int
      Db: string
      Rp: string
      Measurement: string
      Points: int64 option }

/// What a job sees before it plans: what each backend holds, the time spans of each backend's shard groups per
/// (database, retention policy), by which large copies are cut into slices, and the copies earlier jobs finished.
type Inventory =
    { Holdings: Holding list
      ShardGroups: Map<int * string * string, (int64 * int64) list>
      /// (source URL, destination URL, db, rp, measurement) copied whole, and delivered, by an earlier job.
      Copied: Set<string * string * string * string * string> }

/// A time range in ns: [From, Until); None is unbounded.
type Window = { From: int64 option; Until: int64 option }

type MigrationOperation =
    /// Put circle C's data where its ring says; `removed` are backends taken out of C's ring (drained, verified,
    /// then emptied).
    | Rebalance of circle: int * removed: MigrationMember list
    /// Rebuild backends of circle `toCircle` from `fromCircle`; only the destinations in `urls` (empty: all).
    | Recovery of fromCircle: int * toCircle: int * urls: string list
    /// Copy every measurement to its owner in every other circle, points at or after `since` (ns).
    | Resync of since: int64 option
    /// Drop from circle C's backends what belongs elsewhere, once its owner is verified to hold it.
    | Clear of circle: int

type StepKind =
    /// Copy the source's points in the window to each destination.
    | Copy of destinations: int list * window: Window
    /// Check that the destination holds at least the source's points, series by series.
    | Verify of destination: int
    /// DROP MEASUREMENT on the source (every retention policy of it).
    | Drop
    /// A removed backend: nothing is read from it after this step.
    | Drained

type MigrationStep =
    { Id: int
      Kind: StepKind
      Source: int
      Db: string
      /// "" for Drop and Drained.
      Rp: string
      /// "" for Drained.
      Measurement: string
      /// The source's points, when known.
      Points: int64 option }

module MigrationPlan =
    let private owner (cluster: MigrationCluster) (circle: int) (db: string) (measurement: string) : MigrationMember =
        let index = Placement.owners db measurement cluster.Placement |> List.item circle
        cluster.Circles[circle][index]

    let private membersOf (cluster: MigrationCluster) (circle: int) = cluster.Circles[circle] |> List.map _.Id |> Set.ofList

    /// An earlier job copied the holding whole to the destination, which still holds at least as many points (a
    /// destination wiped since, or never reached, is copied to again). A count alone proves nothing: an owner may
    /// hold as many points written live as the source holds old ones.
    let private covered (inventory: Inventory) (urlOf: int -> string) (source: Holding) (destination: int) =
        let held =
            inventory.Holdings
            |> List.tryFind (fun h -> h.Backend = destination && h.Db = source.Db && h.Rp = source.Rp && h.Measurement = source.Measurement)
        inventory.Copied.Contains(urlOf source.Backend, urlOf destination, source.Db, source.Rp, source.Measurement)
        && match source.Points, held |> Option.bind _.Points with
           | Some wanted, Some there -> there >= wanted
           | _ -> false

    /// The windows a copy of `holding` is cut into: the source's shard groups, clipped to `since`; one unbounded
    /// window when they are unknown.
    let private windows (inventory: Inventory) (since: int64 option) (holding: Holding) : Window list =
        let clip (start, finish) =
            match since with
            | Some s when finish <= s -> None
            | Some s -> Some { From = Some(max start s); Until = Some finish }
            | None -> Some { From = Some start; Until = Some finish }
        match Map.tryFind (holding.Backend, holding.Db, holding.Rp) inventory.ShardGroups with
        | Some groups when not groups.IsEmpty ->
            // The first group starts at the beginning of time and the last runs on: a point outside every group
            // (a clock far off, a group made since) is still copied.
            let sorted = groups |> List.sortBy fst
            let last = sorted.Length - 1
            sorted
            |> List.mapi (fun i (start, finish) -> (if i = 0 then Int64.MinValue else start), (if i = last then Int64.MaxValue else finish))
            |> List.choose clip
            |> List.map (fun w ->
                { From = (if w.From = Some Int64.MinValue then None else w.From)
                  Until = (if w.Until = Some Int64.MaxValue then None else w.Until) })
        | _ -> [ { From = since; Until = None } ]

    let private copies (inventory: Inventory) (since: int64 option) (holding: Holding) (destinations: int list) =
        [ for window in windows inventory since holding ->
            Copy(destinations, window), holding ]

    let private numbered (steps: (StepKind * Holding) list) : MigrationStep list =
        steps
        |> List.mapi (fun i (kind, h) ->
            { Id = i; Kind = kind; Source = h.Backend; Db = h.Db; Rp = h.Rp; Measurement = h.Measurement; Points = h.Points })

    /// Copy, verify, then drop what `sources` hold that belongs to another member of `circle`; with `drop` false,
    /// only the copies.
    let private moveOff (cluster: MigrationCluster) (inventory: Inventory) (urlOf: int -> string) (circle: int) (sources: Holding list) (copy: bool) (drop: bool) =
        let misplaced = sources |> List.filter (fun h -> (owner cluster circle h.Db h.Measurement).Id <> h.Backend)
        [ if copy then
              for h in misplaced do
                  let destination = (owner cluster circle h.Db h.Measurement).Id
                  if not (covered inventory urlOf h destination) then yield! copies inventory None h [ destination ]
          if drop then
              for (backend, db, measurement), held in misplaced |> List.groupBy (fun h -> h.Backend, h.Db, h.Measurement) do
                  let destination = (owner cluster circle db measurement).Id
                  for h in held do
                      Verify destination, h
                  Drop, { held.Head with Rp = "" } ]

    /// The steps of `operation`, over the databases `dbs` (empty: every database held).
    let plan (cluster: MigrationCluster) (inventory: Inventory) (dbs: string list) (operation: MigrationOperation) : MigrationStep list =
        let holdings =
            inventory.Holdings |> List.filter (fun h -> dbs.IsEmpty || List.contains h.Db dbs) |> List.sortBy (fun h -> h.Backend, h.Db, h.Measurement, h.Rp)
        let on (members: Set<int>) = holdings |> List.filter (fun h -> members.Contains h.Backend)
        let removed = match operation with Rebalance(_, removed) -> removed | _ -> []
        let urls = List.concat cluster.Circles @ removed |> List.map (fun m -> m.Id, m.Url) |> Map.ofList
        let urlOf id = Map.tryFind id urls |> Option.defaultValue ""
        let move = moveOff cluster inventory urlOf
        match operation with
        | Rebalance(circle, removed) ->
            numbered
                [ yield! move circle (on (membersOf cluster circle)) true false
                  for r in removed do
                      let held = on (Set.singleton r.Id)
                      if not held.IsEmpty then
                          yield! move circle held true true
                          Drained, { Backend = r.Id; Db = ""; Rp = ""; Measurement = ""; Points = None } ]
        | Clear circle -> numbered (move circle (on (membersOf cluster circle)) false true)
        | Recovery(fromCircle, toCircle, urls) ->
            numbered
                [ for h in on (membersOf cluster fromCircle) do
                      let destination = owner cluster toCircle h.Db h.Measurement
                      if destination.Id <> h.Backend && (urls.IsEmpty || List.contains destination.Url urls)
                         && not (covered inventory urlOf h destination.Id) then
                          yield! copies inventory None h [ destination.Id ] ]
        | Resync since ->
            numbered
                [ for circle in 0 .. cluster.Circles.Length - 1 do
                      for h in on (membersOf cluster circle) do
                          let destinations =
                              [ for other in 0 .. cluster.Circles.Length - 1 do
                                  if other <> circle then
                                      let destination = (owner cluster other h.Db h.Measurement).Id
                                      if since.IsSome || not (covered inventory urlOf h destination) then destination ]
                          if not destinations.IsEmpty then yield! copies inventory since h destinations ]

    /// The copies a plan run to success made whole, for the inventory of the next job (<see cref="Inventory.Copied"/>):
    /// each (source, destination) of a copy over every window. A resync of everything sends every holder's points to
    /// every other circle's owner, so afterwards each of them holds what all of them held: every pair is covered.
    /// A resync from `since` copies part of the history only, and covers nothing.
    let copiedWhole (urlOf: int -> string) (operation: MigrationOperation) (finished: MigrationStep list) : Set<string * string * string * string * string> =
        let copies =
            finished
            |> List.choose (fun s ->
                match s.Kind with
                | Copy(destinations, window) -> Some((s.Db, s.Rp, s.Measurement), s.Source, destinations, window)
                | _ -> None)
        let whole (slices: Window list) = slices |> List.exists (fun w -> w.From.IsNone) && slices |> List.exists (fun w -> w.Until.IsNone)
        let pairs =
            match operation with
            | Resync(Some _) -> []
            | Resync None ->
                [ for (db, rp, m), group in copies |> List.groupBy (fun (key, _, _, _) -> key) do
                    let participants = group |> List.collect (fun (_, s, ds, _) -> s :: ds) |> List.distinct
                    for a in participants do
                        for b in participants do
                            if a <> b then (a, b, db, rp, m) ]
            | _ ->
                [ for (key, destination), group in copies |> List.collect (fun (key, s, ds, w) -> ds |> List.map (fun d -> (key, (s, d)), w)) |> List.groupBy fst do
                    if whole (group |> List.map snd) then
                        let (db, rp, m), (source, target) = key, destination
                        (source, target, db, rp, m) ]
        pairs |> List.map (fun (a, b, db, rp, m) -> urlOf a, urlOf b, db, rp, m) |> Set.ofList

    /// The steps each step waits for: a verify, the copies of what it verifies; a drop, the verifies of what it
    /// drops; a drained backend, every step reading it. Copies wait for nothing, so they run in parallel, slices of
    /// one measurement too. Every step waits only for steps before it.
    let prerequisites (steps: MigrationStep list) : Map<int, int list> =
        let groupIds key (wanted: MigrationStep -> bool) =
            steps |> List.filter wanted |> List.groupBy key |> List.map (fun (k, group) -> k, group |> List.map _.Id) |> Map.ofList
        let copies = groupIds (fun s -> s.Source, s.Db, s.Rp, s.Measurement) _.Kind.IsCopy
        let verifies = groupIds (fun s -> s.Source, s.Db, s.Measurement) _.Kind.IsVerify
        let bySource = groupIds _.Source (fun _ -> true)
        let before (step: MigrationStep) key (groups: Map<_, int list>) =
            Map.tryFind key groups |> Option.defaultValue [] |> List.filter (fun id -> id < step.Id)
        steps
        |> List.map (fun step ->
            step.Id,
            match step.Kind with
            | Copy _ -> []
            | Verify _ -> before step (step.Source, step.Db, step.Rp, step.Measurement) copies
            | Drop -> before step (step.Source, step.Db, step.Measurement) verifies
            | Drained -> before step step.Source bySource)
        |> Map.ofList
