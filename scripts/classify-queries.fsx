// Classifies every query of a file (one query per line) with the proxy's own InfluxQL parser:
//   dotnet build src/Core.FSharp -c Release && dotnet fsi scripts/classify-queries.fsx queries.txt
// (`dotnet fsi build.fsx build` builds it too.)
// Prints, per line: the statement kinds, databases and measurements it routes by, or why the proxy refuses it,
// then a count per outcome.
#r "../src/Core.FSharp/bin/Release/net10.0/InfluxProxy.Core.dll"
#r "../src/Core.FSharp/bin/Release/net10.0/FParsec.dll"
#r "../src/Core.FSharp/bin/Release/net10.0/FParsecCS.dll"

open System.IO
open InfluxProxy.Core

let describe (s: Statement) =
    let db = s.On |> Option.orElse (s.Sources |> List.collect Source.databases |> List.tryHead) |> Option.defaultValue "-"
    let target =
        match Source.single s.Sources with
        | Some(_, measurement) -> sprintf "measurement %s" measurement
        | None when s.Sources.IsEmpty -> "all measurements"
        | None -> sprintf "%d sources" s.Sources.Length
    sprintf "%A on db %s, %s" s.Kind db target

let outcome (query: string) =
    match InfluxQL.parse query with
    | Ok statements -> "routed", statements |> List.map describe |> String.concat "; "
    | Error(Forbidden _ as refused) -> "forbidden", QueryError.text refused
    | Error(ParseError _ as unparsable) -> "unparsable", QueryError.text unparsable

let path = match fsi.CommandLineArgs with [| _; file |] -> file | _ -> failwith "usage: dotnet fsi scripts/classify-queries.fsx <file>"
let results = File.ReadLines path |> Seq.filter (fun l -> l.Trim() <> "") |> Seq.map (fun q -> q, outcome q) |> Seq.toList
for query, (kind, detail) in results do
    printfn "%-10s %s\n           %s" kind query detail
for kind, count in results |> List.countBy (snd >> fst) do
    printfn "%s: %d" kind count
