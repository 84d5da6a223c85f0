module InfluxProxy.Core.Tests.ConsistencyTests

open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

let private level = Gen.elements [ Any; One; Quorum; All ]

/// Circles, and how many of them stored and missed (never more than there are).
let private count =
    gen {
        let! circles = Gen.choose (1, 7)
        let! stored = Gen.choose (0, circles)
        let! missed = Gen.choose (0, circles - stored)
        return { Circles = circles; Stored = stored; Missed = missed }
    }

let private examples =
    testList "examples" [
        test "InfluxDB's level names in any case; none is any; anything else InfluxDB's 400 text" {
            for text, expected in [ "", Any; "any", Any; "ONE", One; "Quorum", Quorum; "all", All ] do
                Expect.equal (ConsistencyLevel.parse text) (Ok expected) text
            Expect.equal (ConsistencyLevel.parse "most") (Error "invalid consistency level") "unknown"
        }

        test "the circles each level needs: a majority for quorum" {
            let needs l = [ for circles in 1..5 -> ConsistencyLevel.circlesRequired l circles ]
            Expect.equal (needs Any) [ 0; 0; 0; 0; 0 ] "any"
            Expect.equal (needs One) [ 1; 1; 1; 1; 1 ] "one"
            Expect.equal (needs Quorum) [ 1; 2; 2; 3; 3 ] "quorum"
            Expect.equal (needs All) [ 1; 2; 3; 4; 5 ] "all"
        }

        test "a circle stores the points when its owner answered for them, not when they went to its backlog" {
            Expect.isTrue (ConsistencyLevel.stores Delivered) "delivered"
            Expect.isTrue (ConsistencyLevel.stores (PartlyRefused "type conflict")) "a partial write answered for them"
            Expect.isFalse (ConsistencyLevel.stores Backlogged) "backlogged"
            Expect.isFalse (ConsistencyLevel.stores (Failed "disk full")) "failed"
        }

        test "a level not met is InfluxDB's 500 with its word first, and says the points are kept" {
            let answer l c = ConsistencyLevel.answer l c Accepted
            match answer All { Circles = 2; Stored = 1; Missed = 0 } with
            | ConsistencyNotMet text as a ->
                Expect.stringStarts text "timeout: consistency all needs 2 of 2 circles to store the points, 1 did" "still waiting: a timeout"
                Expect.stringContains text "kept and will be delivered" "kept"
                Expect.equal (WriteAnswer.status a) 500 "500"
            | other -> failtestf "%A" other
            Expect.stringStarts (WriteAnswer.error (answer All { Circles = 2; Stored = 1; Missed = 1 })).Value "partial write:" "some stored"
            Expect.stringStarts (WriteAnswer.error (answer One { Circles = 2; Stored = 0; Missed = 2 })).Value "write failed:" "none stored"
            Expect.equal (answer Quorum { Circles = 3; Stored = 2; Missed = 1 }) Accepted "a majority stored"
        }

        test "points not persisted at all keep their 503, points refused their 400, and a met level keeps the lines' own answer" {
            let missedAll = { Circles = 2; Stored = 0; Missed = 2 }
            Expect.equal (ConsistencyLevel.answer All missedAll (NotPersisted "backlog full")) (NotPersisted "backlog full") "503"
            Expect.equal (ConsistencyLevel.answer All missedAll (StorageRefused "field type conflict")) (StorageRefused "field type conflict")
                "a backend's refusal keeps its 400: those points will never be delivered"
            let partial = PartiallyParsed("unable to parse 'x': missing fields", 1)
            Expect.equal (ConsistencyLevel.answer One { missedAll with Stored = 1; Missed = 1 } partial) partial "400 of the lines"
        }
    ]

let private laws =
    testList "laws" [
        testProperty "met exactly when enough circles stored; cannot be met exactly when too few are left to"
            (Prop.forAll (Arb.fromGen (Gen.zip level count)) (fun (l, c) ->
                let required = ConsistencyLevel.circlesRequired l c.Circles
                let verdict = ConsistencyLevel.judge l c
                (verdict = Met) = (c.Stored >= required)
                && (verdict = CannotMeet) = (c.Stored < required && c.Circles - c.Missed < required)))

        testProperty "any is always met; a level met stays met as more circles store"
            (Prop.forAll (Arb.fromGen (Gen.zip level count)) (fun (l, c) ->
                ConsistencyLevel.judge Any c = Met
                && (ConsistencyLevel.judge l c <> Met || c.Stored = c.Circles
                    || ConsistencyLevel.judge l { c with Stored = c.Stored + 1; Missed = min c.Missed (c.Circles - c.Stored - 1) } = Met)))

        testProperty "the answer is the request's own exactly when the level is met"
            (Prop.forAll (Arb.fromGen (Gen.zip level count)) (fun (l, c) ->
                (ConsistencyLevel.answer l c Accepted = Accepted) = (ConsistencyLevel.judge l c = Met)))
    ]

let tests = testList "Consistency" [ examples; laws ]
