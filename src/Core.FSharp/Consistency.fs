/// `consistency=any|one|quorum|all` on /write, given the meaning across circles that InfluxDB Enterprise gives it
/// across replicas: how many circles must have stored a request's points before it is answered 204. The rest are
/// delivered afterwards, as any accepted point is.
namespace InfluxProxy.Core

type ConsistencyLevel =
    /// Answered once accepted: journaled, or stored or backlogged by every owner, as `write_ack` says. The default.
    | Any
    | One
    | Quorum
    | All

/// Where the circles stand with one request's points.
type CircleCount =
    { Circles: int
      /// Circles whose owners all stored their points (a backend's partial write counts: it answered for them).
      Stored: int
      /// Circles where an owner could not store its points now (they went to its backlog, or nowhere).
      Missed: int }

type ConsistencyVerdict =
    | Met
    /// Enough circles may still store the points.
    | Waiting
    /// Too few circles can store them now.
    | CannotMeet

module ConsistencyLevel =
    /// InfluxDB's levels, in any case; none given is `any`.
    let parse (text: string) : Result<ConsistencyLevel, string> =
        match text.ToLowerInvariant() with
        | ""
        | "any" -> Ok Any
        | "one" -> Ok One
        | "quorum" -> Ok Quorum
        | "all" -> Ok All
        | _ -> Error "invalid consistency level"

    let text =
        function
        | Any -> "any"
        | One -> "one"
        | Quorum -> "quorum"
        | All -> "all"

    /// The circles that must store the points: a majority for quorum.
    let circlesRequired (level: ConsistencyLevel) (circles: int) : int =
        match level with
        | Any -> 0
        | One -> min 1 circles
        | Quorum -> circles / 2 + 1
        | All -> circles

    /// Whether a circle counts as storing the points from what one of its owners did with them.
    let stores (delivery: Delivery) : bool =
        match delivery with
        | Delivered
        | PartlyRefused _ -> true
        | Backlogged
        | Failed _ -> false

    let judge (level: ConsistencyLevel) (count: CircleCount) : ConsistencyVerdict =
        let required = circlesRequired level count.Circles
        if count.Stored >= required then Met
        elif count.Circles - count.Missed < required then CannotMeet
        else Waiting

    /// The answer once the circles decided or `write_timeout` ran out, given the answer the request has otherwise: a
    /// level not met is InfluxDB's 500 (`timeout`, `partial write` when some but too few circles stored the points,
    /// `write failed` when none did), unless the points are not persisted at all (that 503 says more).
    let answer (level: ConsistencyLevel) (count: CircleCount) (otherwise: WriteAnswer) : WriteAnswer =
        match otherwise, judge level count with
        | NotPersisted _, _
        | StorageRefused _, _
        | _, Met -> otherwise
        | _, verdict ->
            let required = circlesRequired level count.Circles
            let cause =
                match verdict with
                | Waiting -> "timeout"
                | _ when count.Stored > 0 -> "partial write"
                | _ -> "write failed"
            ConsistencyNotMet(
                $"{cause}: consistency {text level} needs {required} of {count.Circles} circles to store the points, "
                + $"{count.Stored} did; the points are kept and will be delivered to the others")
