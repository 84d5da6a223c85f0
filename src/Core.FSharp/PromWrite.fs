/// Prometheus remote write as InfluxDB 1.x stores it (`/api/v1/prom/write`), so a sample written through the proxy is
/// stored as a direct write to one influxd stores it: the metric name is the measurement, every label a tag (the
/// name too, as `__name__`), the sample the field `value`, its time in ms.
namespace InfluxProxy.Core

open System
open System.Text

module PromWrite =
    /// The measurement of a series without `__name__`, as InfluxDB names it.
    [<Literal>]
    let Unnamed = "prom_metric_not_specified"

    /// InfluxDB's answer to a request with an infinite sample: a 400, and nothing of the request stored.
    [<Literal>]
    let InfinityRefused = "+/-Inf is an unsupported value for field value"

    /// The series' samples as lines appended to `into`: NaN samples (Prometheus's stale markers among them) left out
    /// as InfluxDB leaves them out. Error when a sample is infinite.
    let append (labels: (string * string) list) (samples: (float * int64) seq) (into: StringBuilder) : Result<unit, string> =
        let name = labels |> List.tryFind (fun (key, _) -> key = "__name__") |> Option.map snd |> Option.filter ((<>) "")
        let key = LineFormat.seriesKey (defaultArg name Unnamed) labels
        let number = Array.zeroCreate<byte> LineFormat.numberRoom
        samples
        |> Seq.filter (fun (value, _) -> not (Double.IsNaN value))
        |> Seq.fold
            (fun result (value, ms) ->
                match result with
                | Error _ -> result
                | Ok() when Double.IsInfinity value -> Error InfinityRefused
                | Ok() ->
                    let length = LineFormat.writeFloat FloatField value (Span number)
                    into.Append(key).Append(" value=").Append(Encoding.ASCII.GetString(number, 0, length))
                        .Append(' ').Append(ms * 1_000_000L).Append('\n') |> ignore
                    Ok())
            (Ok())
