/// Generators shared by the property tests.
module InfluxProxy.Core.Tests.Arb

open FsCheck
open FsCheck.FSharp

/// Shard keys as clients produce them: any text, ASCII-heavy, sometimes non-ASCII.
let shardKey: Gen<string> =
    let char = Gen.frequency [ 8, Gen.elements ([ 'a' .. 'z' ] @ [ '0' .. '9' ] @ [ ','; ' '; '.'; '_' ]); 1, ArbMap.defaults |> ArbMap.generate<char> ]
    Gen.arrayOf char |> Gen.map System.String

/// Between `min` and `max` distinct, non-empty backend names.
let backendNames (min: int) (max: int) : Gen<string list> =
    gen {
        let! n = Gen.choose (min, max)
        let! names = Gen.listOfLength (n * 2) (Gen.choose (1, 99999) |> Gen.map (sprintf "influxdb-%d"))
        let distinct = List.distinct names
        return List.truncate n distinct
    }
    |> Gen.filter (fun names -> names.Length >= min)

/// Keys and names together, for laws about adding or removing a backend.
let keysAndNames min max =
    Gen.zip (Gen.listOfLength 200 shardKey) (backendNames min max) |> Arb.fromGen

let keys = Gen.listOfLength 200 shardKey |> Arb.fromGen

// ---- line protocol

/// A point as a client means it: names with characters that need escaping, every field type, maybe a timestamp.
type LinePoint =
    { Measurement: string
      Tags: (string * string) list
      Fields: (string * string) list
      Timestamp: int64 option }

let private nameChar = Gen.elements ([ 'a' .. 'z' ] @ [ 'A'; 'Z'; '0'; '9'; '_'; '-'; '.'; ' '; ','; '='; 'é'; '温' ])
let private name = Gen.nonEmptyListOf nameChar |> Gen.map (List.toArray >> System.String) |> Gen.filter (fun n -> not (n.StartsWith "#"))

/// Escapes as line protocol needs: measurement `,` and space; keys and tag values also `=`.
let escapeMeasurement (text: string) = text.Replace(",", "\\,").Replace(" ", "\\ ")
let escapeKey (text: string) = text.Replace(",", "\\,").Replace("=", "\\=").Replace(" ", "\\ ")

let private fieldValue =
    Gen.oneof [
        Gen.choose (-100000, 100000) |> Gen.map (fun i -> sprintf "%di" i)
        Gen.choose (-100000, 100000) |> Gen.map (fun i -> sprintf "%d.%d" i (abs i % 97))
        Gen.elements [ "t"; "T"; "true"; "True"; "TRUE"; "f"; "F"; "false"; "False"; "FALSE" ]
        Gen.elements [ "\"plain\""; "\"with \\\"quotes\\\"\""; "\"C:\\\\path\""; "\"multi\nline\""; "\"\"" ] ]

let linePoint: Gen<LinePoint> =
    gen {
        let! measurement = name |> Gen.filter (fun n -> n.[0] <> ',' && not (n.EndsWith "\\"))
        // InfluxDB refuses a key named twice ("duplicate tags"), so a valid point's keys are distinct.
        let! tags = Gen.listOf (Gen.zip name name) |> Gen.map (List.distinctBy fst >> List.truncate 3)
        let! fields = Gen.nonEmptyListOf (Gen.zip name fieldValue) |> Gen.map (List.truncate 3)
        let! timestamp = Gen.optionOf (Gen.choose (-1000000, 1000000) |> Gen.map (fun t -> int64 t * 1_000_000_000L))
        return { Measurement = measurement; Tags = tags; Fields = fields; Timestamp = timestamp }
    }

let formatLine (p: LinePoint) =
    let tags = p.Tags |> List.map (fun (k, v) -> sprintf ",%s=%s" (escapeKey k) (escapeKey v)) |> String.concat ""
    let fields = p.Fields |> List.map (fun (k, v) -> sprintf "%s=%s" (escapeKey k) v) |> String.concat ","
    let time = p.Timestamp |> Option.map (sprintf " %d") |> Option.defaultValue ""
    sprintf "%s%s %s%s" (escapeMeasurement p.Measurement) tags fields time

// ---- InfluxQL

let private identifierText = Gen.elements [ "cpu"; "cpu load"; "c.pu"; "c,pu"; "c\"pu"; "温度"; "m_1"; "select"; "x;y" ]
let private maybe g = Gen.optionOf g

let source: Gen<InfluxProxy.Core.Source> =
    Gen.oneof [
        Gen.map3 (fun db rp m -> InfluxProxy.Core.Measurement(db, rp, m)) (maybe identifierText) (maybe identifierText) identifierText
        Gen.map (fun p -> InfluxProxy.Core.MeasurementRegex(None, None, p)) (Gen.elements [ "cpu.*"; "^m[0-9]$"; "a/b" ]) ]

/// Statements whose routing parts `InfluxQL.print` can render.
let statement: Gen<InfluxProxy.Core.Statement> =
    gen {
        let! kind =
            Gen.elements [
                InfluxProxy.Core.Select; InfluxProxy.Core.ShowMeasurements; InfluxProxy.Core.ShowSeries; InfluxProxy.Core.ShowTagKeys
                InfluxProxy.Core.ShowFieldKeys; InfluxProxy.Core.ShowDatabases; InfluxProxy.Core.CreateDatabase "db;1"
                InfluxProxy.Core.DropMeasurement "cpu load"; InfluxProxy.Core.Delete; InfluxProxy.Core.DropSeries ]
        let! sources = Gen.nonEmptyListOf source |> Gen.map (List.truncate 3)
        let! on = maybe identifierText
        let! limit = maybe (Gen.choose (1, 100))
        let! offset = maybe (Gen.choose (1, 100))
        let empty: InfluxProxy.Core.Statement =
            { Kind = kind; On = None; Sources = []; Limit = None; Offset = None; Text = ""; UnpagedText = "" }
        return
            match kind with
            | InfluxProxy.Core.Select -> { empty with Sources = sources; Limit = limit; Offset = offset }
            | InfluxProxy.Core.ShowMeasurements -> { empty with On = on; Limit = limit; Offset = offset }
            | InfluxProxy.Core.ShowSeries | InfluxProxy.Core.ShowTagKeys | InfluxProxy.Core.ShowFieldKeys ->
                { empty with On = on; Sources = sources; Limit = limit; Offset = offset }
            | InfluxProxy.Core.ShowDatabases -> { empty with Limit = limit; Offset = offset }
            | InfluxProxy.Core.CreateDatabase db -> { empty with On = Some db }
            | InfluxProxy.Core.DropMeasurement m -> { empty with Sources = [ InfluxProxy.Core.Measurement(None, None, m) ] }
            | _ -> { empty with Sources = sources }
    }

// ---- text and numbers kept or sent as they are

/// Text of whole Unicode characters (no lone surrogate: neither JSON nor UTF-8 carries one), heavy in those that need
/// escaping somewhere: quotes, backslashes, line ends, separators, a combining mark, a character outside the BMP.
let text: Gen<string> =
    let piece =
        Gen.frequency [
            6, Gen.elements [ "a"; "Z"; "0"; " "; ","; "="; "."; "\""; "'"; "\\"; "\n"; "\r\n"; "\t"; "/"; "é"; "温"; "😀"; "\u0301"; "\u0000"; "\u2028" ]
            1, Gen.choose (0x20, 0xD7FF) |> Gen.map (char >> string) ]
    Gen.listOf piece |> Gen.map (String.concat "")

/// Any int64, the extremes and the neighbours of 2^53 (past which a double loses integers) more often than chance.
let anyInt64: Gen<int64> =
    Gen.frequency [
        4, Gen.choose64 (System.Int64.MinValue, System.Int64.MaxValue)
        2, ArbMap.defaults |> ArbMap.generate<int64>
        1, Gen.elements [ System.Int64.MinValue; System.Int64.MaxValue; 0L; (1L <<< 53) + 1L; -(1L <<< 53) - 1L ] ]

// ---- query results

/// A merged `results[i]` as JSON text: 1 to 6 series of distinct names (some with tags), 1 to 3 columns, 0 to 12
/// rows each, cells numbers, strings or null.
let queryResult: Gen<string> =
    let cell = Gen.oneof [ Gen.choose (-9, 9) |> Gen.map string; Gen.elements [ "\"a\""; "\"b,c\""; "null" ] ]
    let row columns = Gen.listOfLength columns cell |> Gen.map (fun cells -> "[" + String.concat "," cells + "]")
    let series i =
        gen {
            let! tagged = Gen.elements [ true; false ]
            let! columns = Gen.choose (1, 3)
            let! rows = Gen.choose (0, 12) |> Gen.bind (fun n -> Gen.listOfLength n (row columns))
            let tags = if tagged then sprintf ",\"tags\":{\"host\":\"h%d\"}" i else ""
            let names = List.init columns (sprintf "\"c%d\"") |> String.concat ","
            let values = if rows.IsEmpty then "" else sprintf ",\"values\":[%s]" (String.concat "," rows)
            return sprintf "{\"name\":\"m%d\"%s,\"columns\":[%s]%s}" i tags names values
        }
    gen {
        let! id = Gen.choose (0, 3)
        let! count = Gen.choose (1, 6)
        let! series = List.init count series |> Gen.sequenceToList
        return sprintf "{\"statement_id\":%d,\"series\":[%s]}" id (String.concat "," series)
    }
