module InfluxProxy.Core.Tests.VerificationTests

open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

/// A (series, field) out of a few, so that source and destination share many.
let private key = Gen.zip (Gen.elements [ "cpu"; "cpu,host=a"; "cpu,host=b"; "mem,host=a" ]) (Gen.elements [ "idle"; "usage"; "value" ])

let private counts = Gen.listOf (Gen.zip key (Gen.choose (0, 5) |> Gen.map int64)) |> Gen.map Map.ofList

let private held (destination: Map<string * string, int64>) k = Map.tryFind k destination |> Option.defaultValue 0L

let private pair = Arb.fromGen (Gen.zip counts counts)

let private laws =
    testList "laws" [
        testProperty "no shortfall iff the destination holds at least as many points of each series and field"
            (Prop.forAll pair (fun (source, destination) ->
                (Verification.shortfall source destination).IsNone = (source |> Map.forall (fun k n -> n <= held destination k))))

        testProperty "a shortfall names the first series and field short, by series then field, with both counts"
            (Prop.forAll pair (fun (source, destination) ->
                match Verification.shortfall source destination with
                | None -> true
                | Some found ->
                    let (series, field), wanted = source |> Map.toList |> List.filter (fun (k, n) -> n > held destination k) |> List.minBy fst
                    found = { Series = series; Field = field; Source = wanted; Destination = held destination (series, field) }))

        testProperty "what the destination holds beyond the source never matters"
            (Prop.forAll (Arb.fromGen (Gen.zip3 counts counts counts)) (fun (source, destination, extra) ->
                let more = extra |> Map.fold (fun d k n -> if source.ContainsKey k then d else Map.add k n d) destination
                Verification.shortfall source more = Verification.shortfall source destination))
    ]

let private examples =
    testList "examples" [
        test "a shortfall in words" {
            let source = Map.ofList [ ("cpu,host=a", "value"), 5L; ("cpu,host=b", "value"), 2L ]
            let destination = Map.ofList [ ("cpu,host=a", "value"), 3L; ("cpu,host=b", "value"), 9L; ("cpu,host=c", "value"), 1L ]
            Expect.equal (Verification.shortfall source destination |> Option.map Verification.describe)
                (Some "the owner holds 3 of the source's 5 points of series cpu,host=a field value") "short"
            Expect.isNone (Verification.shortfall source (destination |> Map.add ("cpu,host=a", "value") 5L)) "as many"
            Expect.isNone (Verification.shortfall Map.empty destination) "nothing to hold"
        }
    ]

let tests = testList "Verification" [ examples; laws ]
