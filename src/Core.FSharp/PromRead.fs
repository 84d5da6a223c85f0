/// Prometheus remote read (`/api/v1/prom/read`) as the proxy routes it: a query naming its metric goes to that
/// measurement's owner; any other is asked of every backend of one circle and the answers merged.
namespace InfluxProxy.Core

/// A label matcher of a remote read query: its kind (`=`, `!=`, `=~`, `!~`), label and value.
type PromMatcher =
    | Equal of label: string * value: string
    | NotEqual of label: string * value: string
    | Matches of label: string * regex: string
    | NotMatches of label: string * regex: string

module PromRead =
    /// The measurement a query reads when one of its matchers names the metric exactly (`__name__="…"`).
    let measurement (matchers: PromMatcher list) : string option =
        matchers |> List.tryPick (function
            | Equal("__name__", name) -> Some name
            | _ -> None)
