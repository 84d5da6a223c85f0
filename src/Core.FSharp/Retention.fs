/// Which points InfluxDB refuses as beyond their retention policy, so the proxy can refuse them before it answers.
namespace InfluxProxy.Core

open System
open FParsec

/// One retention policy as a backend's SHOW RETENTION POLICIES lists it.
type RetentionPolicy =
    { Name: string
      /// In ns; 0 keeps points forever.
      Duration: int64
      /// In ns.
      ShardGroupDuration: int64
      Default: bool }

/// The time one existing shard group covers, in ns: [Start, End). A group keeps the width it was made with when
/// its policy's shard group duration changes.
type ShardGroupSpan = { Start: int64; End: int64 }

/// What one backend keeps of a (db, rp): its policy and the shard groups it has for it.
type RetentionState = { Policy: RetentionPolicy; Groups: ShardGroupSpan list }

module Retention =
    let private second = 1_000_000_000L
    let private hour = 3_600L * second

    /// InfluxDB allows no duration and no shard group under an hour: no point younger than both can be refused.
    let shortestReach = 2L * hour

    /// Room for the proxy's clock and the backends' to differ: a point this close to the floor is left to them.
    let clockMargin = hour / 6L

    let private durationUnit: Parser<int64, unit> =
        choice [ pstring "ns" >>% 1L; pstring "us" >>% 1_000L; pstring "µs" >>% 1_000L; pstring "ms" >>% 1_000_000L
                 pstring "h" >>% hour; pstring "m" >>% 60L * second; pstring "s" >>% second ]

    let private duration: Parser<int64, unit> =
        let part = pfloat .>>. durationUnit |>> fun (value, ns) -> int64 (Math.Round(value * float ns))
        many1 part |>> List.sum .>> eof

    /// Go's time.Duration text as InfluxDB prints it (`168h0m0s`, `30m0s`, `1.5s`, `0s`), in ns.
    let parseDuration (text: string) : int64 option =
        match runParserOnString duration () "duration" text with
        | Success(ns, _, _) -> Some ns
        | Failure _ -> None

    /// The timestamp under which InfluxDB refuses a point as beyond retention whatever else the request holds, given
    /// what every backend keeps (None where a backend could not tell): Int64.MinValue when none can be refused.
    /// InfluxDB drops a point older than now − duration unless another point of the request, not that old, falls in
    /// its shard group: an existing group reaching past now − duration, or a new one of the current width.
    let refusalFloor (nowNs: int64) (backends: RetentionState option seq) : int64 =
        let backends = List.ofSeq backends
        if backends.IsEmpty || backends |> List.exists (function Some b -> b.Policy.Duration <= 0L | None -> true) then Int64.MinValue
        else
            // Go durations reach 292 years: the arithmetic could leave int64.
            let lowestStored (b: RetentionState) =
                let min = decimal nowNs - decimal b.Policy.Duration
                let newGroup = min - decimal b.Policy.ShardGroupDuration
                // A group ending just before the proxy's min may still reach past the backend's (its clock, and
                // the whole seconds SHOW SHARD GROUPS prints).
                let reachesPast (g: ShardGroupSpan) = decimal g.End + decimal second > min - decimal clockMargin
                b.Groups |> List.filter reachesPast |> List.fold (fun low g -> Math.Min(low, decimal g.Start)) newGroup
            let floor = (backends |> List.choose id |> List.map lowestStored |> List.min) - decimal clockMargin
            if floor <= decimal Int64.MinValue then Int64.MinValue else int64 floor
