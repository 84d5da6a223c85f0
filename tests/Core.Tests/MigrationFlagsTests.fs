module InfluxProxy.Core.Tests.MigrationFlagsTests

open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

let private parse = MigrationFlags.parseUpdate 2

let private examples =
    testList "examples" [
        test "a POST's parameters, read as Go reads booleans, validated before anything is applied" {
            Expect.equal (parse "true" "" "") (Ok { Resyncing = Some true; Circle = None }) "resyncing"
            Expect.equal (parse "" "1" "T") (Ok { Resyncing = None; Circle = Some(1, true) }) "a circle"
            Expect.equal (parse "0" "0" "false") (Ok { Resyncing = Some false; Circle = Some(0, false) }) "both"
            Expect.equal (parse "" "" "") (Error MissingParameter) "none"
            Expect.equal (parse "yes" "0" "true") (Error IllegalResyncing) "resyncing first"
            Expect.equal (parse "true" "2" "true") (Error InvalidCircleId) "no such circle: resyncing is not applied either"
            Expect.equal (parse "" "x" "true") (Error InvalidCircleId) "not a number"
            Expect.equal (parse "" "1" "") (Error IllegalMigrating) "no flag"
            Expect.equal (MigrationUpdateError.text InvalidCircleId) "invalid circle_id" "the original's words"
        }

        test "applied together; a circle migrating is not readable" {
            let flags = MigrationFlags.none 2 |> MigrationFlags.apply { Resyncing = Some true; Circle = Some(1, true) }
            Expect.equal flags { Resyncing = true; Migrating = [ false; true ] } "applied"
            Expect.isFalse (MigrationFlags.readable flags 1) "circle 1 migrates"
            Expect.isTrue (MigrationFlags.readable flags 0) "circle 0 serves reads"
        }
    ]

let private laws =
    testList "laws" [
        testProperty "an update changes only what it names"
            (Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.listOfLength 3 (Gen.elements [ true; false ])) (Gen.optionOf (Gen.elements [ true; false ])) (Gen.optionOf (Gen.zip (Gen.choose (0, 2)) (Gen.elements [ true; false ]))))) (fun (migrating, resync, circle) ->
                let before = { Resyncing = false; Migrating = migrating }
                let after = MigrationFlags.apply { Resyncing = resync; Circle = circle } before
                after.Resyncing = (resync |> Option.defaultValue false)
                && (after.Migrating |> List.indexed |> List.forall (fun (i, m) ->
                    match circle with
                    | Some(id, value) when id = i -> m = value
                    | _ -> m = migrating[i]))))
    ]

let tests = testList "MigrationFlags" [ examples; laws ]
