/// What `/migrate/stats` shows of a job: the original's counters per source backend (shared/spec/migration.md §2.4),
/// counted from what the steps did rather than from what was launched, and ours beside them.
namespace InfluxProxy.Core

type JobState =
    /// Accepted; the inventory or the plan is not made yet.
    | Planned
    | CopyingPoints
    /// Every copy has ended; verifications or drops remain.
    | Verifying
    | Succeeded
    /// Ended with a step failed or skipped.
    | EndedWithErrors
    | WasCancelled

/// One source backend's counters.
type SourceProgress =
    { Url: string
      DatabaseTotal: int
      DatabaseDone: int
      MeasurementTotal: int
      MeasurementDone: int
      /// Measurements with something to do (copy, verify or drop).
      MigrateCount: int
      InplaceCount: int
      /// Points read from this backend by finished and running copies.
      PointsCopied: int64
      StepsTotal: int
      StepsDone: int
      StepsFailed: int
      /// Why steps failed or were skipped.
      Errors: string list }

module JobState =
    let name =
        function
        | Planned -> "planned"
        | CopyingPoints -> "running"
        | Verifying -> "verifying"
        | Succeeded -> "done"
        | EndedWithErrors -> "failed"
        | WasCancelled -> "cancelled"

module MigrationProgress =
    let private ended =
        function
        | Done _
        | FailedWith _
        | Skipped _ -> true
        | Pending
        | Running _ -> false

    let private read =
        function
        | Done p
        | Running p -> p
        | _ -> 0L

    let state (plan: PlannedJob option) (statuses: Map<int, StepStatus>) (jobEnd: JobEnd option) : JobState =
        match jobEnd, plan with
        | Some Cancelled, _ -> WasCancelled
        | Some(Abandoned _), _ -> EndedWithErrors
        | _, None -> Planned
        | Some Finished, Some _ when statuses |> Map.forall (fun _ s -> s.IsDone) -> Succeeded
        | Some Finished, Some _ -> EndedWithErrors
        | None, Some plan ->
            let copiesLeft = plan.Steps |> List.exists (fun s -> s.Kind.IsCopy && not (statuses |> Map.tryFind s.Id |> Option.exists ended))
            if copiesLeft then CopyingPoints else Verifying

    /// The circles whose backends a job reads from: where `/migrate/stats` keeps its counters.
    let sourceCircles (circles: int) (operation: MigrationOperation) : int list =
        match operation with
        | Rebalance(circle, _)
        | Clear circle -> [ circle ]
        | Recovery(fromCircle, _, _) -> [ fromCircle ]
        | Resync _ -> [ 0 .. circles - 1 ]

    /// One step in words, members by URL.
    let describe (plan: PlannedJob) (step: MigrationStep) : string =
        let url id = plan.Members |> List.tryFind (fun m -> m.Id = id) |> Option.map _.Url |> Option.defaultValue $"#{id}"
        let what = $"db {step.Db} rp {step.Rp} measurement {step.Measurement}"
        match step.Kind with
        | Copy(destinations, _) -> $"""copy {what} from {url step.Source} to {destinations |> List.map url |> String.concat ","}"""
        | Verify destination -> $"verify {what} of {url step.Source} on {url destination}"
        | Drop -> $"drop db {step.Db} measurement {step.Measurement} from {url step.Source}"
        | Drained -> $"drain {url step.Source}"

    /// The counters of each member of `circle` a job reads from, by URL.
    let bySource (plan: PlannedJob) (statuses: Map<int, StepStatus>) (sourceCircles: int list) (circle: int) : SourceProgress list =
        let status (s: MigrationStep) = Map.tryFind s.Id statuses |> Option.defaultValue Pending
        [ for m in plan.Members do
              if m.Circle = circle && List.contains circle sourceCircles then
                  let held = plan.Holdings |> List.filter (fun h -> h.Backend = m.Id)
                  let steps = plan.Steps |> List.filter (fun s -> s.Source = m.Id && not s.Kind.IsDrained)
                  let measurements = held |> List.map (fun h -> h.Db, h.Measurement) |> List.distinct
                  let moving = steps |> List.map (fun s -> s.Db, s.Measurement) |> Set.ofList
                  let finished (db, measurement) =
                      steps |> List.forall (fun s -> s.Db <> db || s.Measurement <> measurement || ended (status s))
                  let dbs = measurements |> List.map fst |> List.distinct
                  let failures =
                      steps
                      |> List.choose (fun s ->
                          match status s with
                          | FailedWith reason
                          | Skipped reason -> Some $"{describe plan s}: {reason}"
                          | _ -> None)
                  { Url = m.Url
                    DatabaseTotal = dbs.Length
                    DatabaseDone = dbs |> List.filter (fun db -> measurements |> List.forall (fun (d, x) -> d <> db || finished (d, x))) |> List.length
                    MeasurementTotal = measurements.Length
                    MeasurementDone = measurements |> List.filter finished |> List.length
                    MigrateCount = measurements |> List.filter moving.Contains |> List.length
                    InplaceCount = measurements |> List.filter (moving.Contains >> not) |> List.length
                    PointsCopied = steps |> List.filter _.Kind.IsCopy |> List.sumBy (status >> read)
                    StepsTotal = steps.Length
                    StepsDone = steps |> List.filter (status >> _.IsDone) |> List.length
                    StepsFailed = failures.Length
                    Errors = failures } ]

    /// Points the job's copies read so far, and the points its copies hold in all (the sources' counts, each
    /// holding once however many slices it is cut into), for the rate and the time left.
    let points (plan: PlannedJob) (statuses: Map<int, StepStatus>) : int64 * int64 =
        let copies = plan.Steps |> List.filter _.Kind.IsCopy
        let read = copies |> List.sumBy (fun s -> Map.tryFind s.Id statuses |> Option.map read |> Option.defaultValue 0L)
        let total =
            copies
            |> List.distinctBy (fun s -> s.Source, s.Db, s.Rp, s.Measurement)
            |> List.sumBy (fun s -> s.Points |> Option.defaultValue 0L)
        read, total
