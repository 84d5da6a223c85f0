/// Whether a destination holds what a source holds, series by series: the check before a migration drops anything.
namespace InfluxProxy.Core

/// A series and field that the destination holds fewer points of than the source.
type Shortfall =
    { Series: string
      Field: string
      Source: int64
      Destination: int64 }

module Verification =
    /// The first (series, field) — by series key then field — the destination holds fewer points of than the
    /// source; None when it holds at least as many of each. Counts are by (series key, field). Points written to
    /// the destination since (live writes) only add to its counts.
    let shortfall (source: Map<string * string, int64>) (destination: Map<string * string, int64>) : Shortfall option =
        source
        |> Map.toSeq
        |> Seq.tryPick (fun ((series, field), wanted) ->
            let held = Map.tryFind (series, field) destination |> Option.defaultValue 0L
            if held < wanted then Some { Series = series; Field = field; Source = wanted; Destination = held } else None)

    let describe (s: Shortfall) : string =
        $"the owner holds {s.Destination} of the source's {s.Source} points of series {s.Series} field {s.Field}"
