module InfluxProxy.Core.Tests.QueryRoutingTests

open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

let private one (q: string) =
    match InfluxQL.parse q with
    | Ok [ statement ] -> statement
    | other -> failtestf "%s: %A" q other

let private route q = QueryRouting.route (one q)

let private examples =
    testList "examples" [
        test "one measurement goes to its owner; several, a regex or none fan out; schema everywhere" {
            Expect.equal (route "SELECT * FROM cpu") (Owner "cpu") "select"
            Expect.equal (route "SHOW TAG KEYS FROM cpu") (Owner "cpu") "show tag keys"
            Expect.equal (route "SELECT * FROM (SELECT * FROM cpu)") (Owner "cpu") "a subquery of one measurement"
            Expect.equal (route "SELECT * FROM cpu, mem") (FanOut ConcatSeries) "two"
            Expect.equal (route "SELECT * FROM /c.*/") (FanOut ConcatSeries) "regex"
            Expect.equal (route "SHOW MEASUREMENTS LIMIT 5 OFFSET 2") (FanOut(MergeShow(Some 5, Some 2))) "paged show"
            Expect.equal (route "SHOW SERIES CARDINALITY") (FanOut SumCounts) "cardinality"
            Expect.equal (route "SHOW STATS") (FanOut ConcatSeries) "stats"
            Expect.equal (route "CREATE DATABASE d") Everywhere "create"
            Expect.equal (route "DROP MEASUREMENT cpu") (OwnerEverywhere "cpu") "drop one"
            Expect.equal (route "DELETE FROM /c.*/") Everywhere "delete by regex"
        }

        test "the database a statement runs against: ON, then a source's, then the parameter" {
            Expect.equal (QueryRouting.database "p" (one "SHOW MEASUREMENTS ON d")) "d" "on"
            Expect.equal (QueryRouting.database "p" (one "SELECT * FROM d.rp.cpu")) "d" "source"
            Expect.equal (QueryRouting.database "p" (one "SELECT * FROM cpu")) "p" "parameter"
        }

        test "the whitelist covers the parameter, every ON and every source" {
            let statements q = match InfluxQL.parse q with Ok s -> s | Error e -> failtestf "%A" e
            Expect.equal (Whitelist.firstRefused [ "a" ] "a" (statements "SHOW MEASUREMENTS ON b")) (Some "b") "on"
            Expect.equal (Whitelist.firstRefused [ "a" ] "a" (statements "SELECT * FROM a..cpu; SELECT * FROM c..cpu")) (Some "c") "second statement's source"
            Expect.equal (Whitelist.firstRefused [ "a" ] "x" (statements "SELECT * FROM cpu")) (Some "x") "parameter"
            Expect.equal (Whitelist.firstRefused [] "x" (statements "SELECT * FROM y..cpu")) None "empty allows all"
            Expect.isTrue (Whitelist.allows [ "a" ] "a") "listed"
        }

        test "schema statements change what the write path knows: creations once they succeed, drops always" {
            Expect.equal (QueryRouting.schemaChange "" true (one "CREATE DATABASE d")) (Some(DatabaseCreated "d")) "created"
            Expect.equal (QueryRouting.schemaChange "" false (one "CREATE DATABASE d")) None "failed creation"
            Expect.equal (QueryRouting.schemaChange "" false (one "DROP DATABASE d")) (Some(DatabaseDropped "d")) "drop, even failed"
            Expect.equal (QueryRouting.schemaChange "d" true (one "CREATE RETENTION POLICY r ON d DURATION 1d REPLICATION 1")) (Some(PolicyCreated("d", "r"))) "policy"
            Expect.equal (QueryRouting.schemaChange "d" true (one "SELECT * FROM cpu")) None "a query"
        }

        test "candidates: readable ones, healthiest first; all of them when none is readable" {
            let c item rank readable = { Item = item; Rank = rank; Readable = readable }
            Expect.equal (QueryRouting.inTryOrder (fun _ -> 0) [ c "a" 2 true; c "b" 0 true; c "m" 0 false ]) [ "b"; "a" ] "migrating left out"
            Expect.equal (QueryRouting.inTryOrder (fun i -> [| 5; 1 |][i]) [ c "a" 0 false; c "b" 0 false ]) [ "b"; "a" ] "all migrating: ties broken"
            let rank = QueryRouting.rank
            Expect.equal [ rank false true true; rank false true false; rank true true true; rank true true false; rank false false true ] [ 0; 1; 2; 3; 4 ]
                "up, up replaying, write_only up, write_only up replaying, down"
        }
    ]

let private candidates =
    Gen.listOf (Gen.zip3 (Gen.choose (0, 4)) (Gen.elements [ true; false ]) (Gen.choose (0, 100)))
    |> Gen.map (List.mapi (fun i (rank, readable, tieBreak) -> { Item = i; Rank = rank; Readable = readable }, tieBreak))

let private laws =
    testList "laws" [
        testProperty "a statement naming one measurement goes to its owner (one or every circle); no other does"
            (Prop.forAll (Arb.fromGen Arb.statement) (fun statement ->
                let parsed = match InfluxQL.parse (InfluxQLPrinter.print statement) with Ok [ s ] -> s | other -> failwithf "%A" other
                match QueryRouting.route parsed with
                | Owner m | OwnerEverywhere m -> Source.single parsed.Sources = Some(None, m) || Source.single parsed.Sources |> Option.map snd = Some m
                | FanOut _ | Everywhere -> true))

        testProperty "the try order is the readable candidates (or all), each once, healthiest first"
            (Prop.forAll (Arb.fromGen candidates) (fun pairs ->
                let cs, tieBreaks = List.unzip pairs
                let order = QueryRouting.inTryOrder (fun i -> tieBreaks[i]) cs
                let eligible = if cs |> List.exists _.Readable then cs |> List.filter _.Readable else cs
                let rankOf i = (cs |> List.find (fun c -> c.Item = i)).Rank
                List.sort order = List.sort (eligible |> List.map _.Item)
                && (order |> List.map rankOf |> List.pairwise |> List.forall (fun (a, b) -> a <= b))))

        testProperty "a request passes the whitelist exactly when every database it names is on it"
            (Prop.forAll (Arb.fromGen (Gen.zip (Gen.listOf (Gen.elements [ "a"; "b" ])) (Gen.elements [ ""; "a"; "c" ]))) (fun (allowed, db) ->
                let statements = match InfluxQL.parse "SELECT * FROM b..cpu" with Ok s -> s | Error e -> failwithf "%A" e
                (Whitelist.firstRefused allowed db statements = None)
                = (allowed.IsEmpty || (List.contains "b" allowed && (db = "" || List.contains db allowed)))))
    ]

let tests = testList "QueryRouting" [ examples; laws ]
