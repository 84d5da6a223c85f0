/// The timestamp unit of a /write request, and InfluxDB's rules for turning timestamps into nanoseconds.
namespace InfluxProxy.Core

open System

/// Timestamp unit of a /write request (`precision`).
type Precision =
    | Nanosecond
    | Microsecond
    | Millisecond
    | Second
    | Minute
    | Hour

/// A `precision` InfluxDB does not know.
type PrecisionError =
    | UnknownPrecision of text: string

module PrecisionError =
    let text (UnknownPrecision precision) = sprintf "invalid precision %A (use n, ns, u, us, µ, ms, s, m or h)" precision

module Precision =
    let parse (text: string) : Result<Precision, PrecisionError> =
        match text with
        | "" | "n" | "ns" -> Ok Nanosecond
        | "u" | "us" | "µ" -> Ok Microsecond
        | "ms" -> Ok Millisecond
        | "s" -> Ok Second
        | "m" -> Ok Minute
        | "h" -> Ok Hour
        | other -> Error(UnknownPrecision other)

    let nanosecondsPer =
        function
        | Nanosecond -> 1L
        | Microsecond -> 1_000L
        | Millisecond -> 1_000_000L
        | Second -> 1_000_000_000L
        | Minute -> 60_000_000_000L
        | Hour -> 3_600_000_000_000L

    /// InfluxDB keeps the two lowest and the highest int64 for itself (models.MinNanoTime / MaxNanoTime).
    let minNanoTime = Int64.MinValue + 2L
    let maxNanoTime = Int64.MaxValue - 1L

    /// The timestamp in ns; ValueNone when the product overflows or leaves InfluxDB's range.
    let tryToNanoseconds (precision: Precision) (value: int64) : int64 voption =
        match precision with
        | Nanosecond -> if value < minNanoTime || value > maxNanoTime then ValueNone else ValueSome value // no division on the usual path
        | _ ->
            let unit = nanosecondsPer precision
            if value > maxNanoTime / unit || value < minNanoTime / unit then ValueNone
            else
                let ns = value * unit
                if ns < minNanoTime || ns > maxNanoTime then ValueNone else ValueSome ns

    /// What InfluxDB does to its clock for a point without timestamp: truncate to the unit.
    let truncate (precision: Precision) (nowNs: int64) : int64 =
        let unit = nanosecondsPer precision
        let rest = nowNs % unit
        if rest < 0L then nowNs - rest - unit else nowNs - rest
