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
