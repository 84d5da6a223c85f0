module InfluxProxy.Core.Tests.WriteAnswerTests

open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

let private counts = LineCounts.empty

let private examples =
    testList "examples" [
        test "every line taken: 204" {
            Expect.equal (WriteAnswer.ofLines { counts with Points = 3 }) Accepted "accepted"
            Expect.equal (WriteAnswer.status Accepted) 204 "status"
            Expect.equal (WriteAnswer.error Accepted) None "no body"
        }

        test "lines that do not parse are listed as InfluxDB lists them, beside the taken ones or alone" {
            let bad = { counts with Points = 2; Unparsed = 2; Listed = [ "bad value=", MissingFieldValue; "also,bad", MissingTagValue ] }
            let answer = WriteAnswer.ofLines bad
            Expect.equal answer (PartiallyParsed("unable to parse 'bad value=': missing field value\nunable to parse 'also,bad': missing tag value", 2)) "partial"
            Expect.equal (WriteAnswer.error answer)
                (Some "partial write: unable to parse 'bad value=': missing field value\nunable to parse 'also,bad': missing tag value dropped=2") "text"
            Expect.equal (WriteAnswer.ofLines { bad with Points = 0 })
                (NothingParsed "unable to parse 'bad value=': missing field value\nunable to parse 'also,bad': missing tag value") "none parsed"
        }

        test "beyond ten listed lines the rest are counted" {
            let many = { counts with Points = 1; Unparsed = 12; Listed = List.replicate 10 ("x", MissingFields) }
            match WriteAnswer.ofLines many with
            | PartiallyParsed(errors, 12) -> Expect.stringEnds errors "\n(and 2 more)" "counted"
            | other -> failtestf "%A" other
        }

        test "a storage refusal is named before parse errors, tag keys before fields, in InfluxDB's words" {
            let refused =
                { counts with Points = 1; Unparsed = 1; Listed = [ "bad", MissingFields ]; Refused = 2
                              FirstTimeTag = Some(TimeTagKey "tagged"); FirstOnlyTimeField = Some(OnlyTimeField "only") }
            Expect.equal (WriteAnswer.ofLines refused)
                (StorageRefused "partial write: invalid tag key: input tag \"time\" on measurement \"tagged\" is invalid dropped=2") "tag first"
            Expect.equal (WriteAnswer.ofLines { counts with Refused = 1; FirstOnlyTimeField = Some(OnlyTimeField "only") })
                (StorageRefused "partial write: invalid field name: input field \"time\" on measurement \"only\" is invalid dropped=1") "field"
            Expect.equal (WriteAnswer.ofLines { counts with Points = 1; BeyondRetention = 3 })
                (StorageRefused "partial write: points beyond retention policy dropped=3") "retention"
        }

        test "after delivery: a failure is a 503, a backend's refusal its own 400, else the lines decide" {
            let bad = { counts with Points = 1; Unparsed = 1; Listed = [ "bad", MissingFields ] }
            Expect.equal (WriteAnswer.afterDelivery (Failed "backend b is unavailable and its backlog is full") bad)
                (NotPersisted "backend b is unavailable and its backlog is full") "failed"
            Expect.equal (WriteAnswer.status (NotPersisted "x")) 503 "503"
            Expect.equal (WriteAnswer.afterDelivery (PartlyRefused "partial write: field type conflict dropped=1") bad)
                (StorageRefused "partial write: field type conflict dropped=1") "the backend's words"
            Expect.equal (WriteAnswer.afterDelivery Backlogged bad) (WriteAnswer.ofLines bad) "backlogged is as good as delivered"
        }

        test "an early answer needs the journal and every owner sending directly" {
            Expect.isTrue (WriteAnswer.mayAnswerEarly Journaled [ true; true ]) "journaled, all direct"
            Expect.isFalse (WriteAnswer.mayAnswerEarly Journaled [ true; false ]) "one owner with a backlog"
            Expect.isFalse (WriteAnswer.mayAnswerEarly Journaled []) "no points"
            Expect.isFalse (WriteAnswer.mayAnswerEarly Stored [ true ]) "stored"
        }
    ]

let private delivery =
    Gen.oneof [ Gen.constant Delivered; Gen.constant Backlogged; Gen.elements [ "a"; "b" ] |> Gen.map PartlyRefused
                Gen.elements [ "c"; "d" ] |> Gen.map Failed ]

let private lineCounts =
    gen {
        let! points = Gen.choose (0, 3)
        let! unparsed = Gen.choose (0, 13)
        let! refused = Gen.choose (0, 2)
        let! beyond = Gen.choose (0, 2)
        return
            { LineCounts.empty with
                Points = points; Unparsed = unparsed; Listed = List.replicate (min unparsed LineCounts.listedMost) ("x", MissingFields)
                Refused = refused; FirstTimeTag = (if refused > 0 then Some(TimeTagKey "m") else None); BeyondRetention = beyond }
    }

let private kind =
    function
    | Delivered -> 0
    | Backlogged -> 1
    | PartlyRefused _ -> 2
    | Failed _ -> 3

let private laws =
    testList "laws" [
        testProperty "the worst delivery is the same kind in whatever order the owners answer"
            (Prop.forAll (Arb.fromGen (Gen.nonEmptyListOf delivery)) (fun deliveries ->
                kind (List.reduce Delivery.worse deliveries) = kind (List.reduce Delivery.worse (List.rev deliveries))
                && kind (List.reduce Delivery.worse deliveries) = (deliveries |> List.map kind |> List.max)))

        testProperty "a write is answered 204 exactly when nothing was refused, dropped or failed"
            (Prop.forAll (Arb.fromGen (Gen.zip lineCounts delivery)) (fun (counts, worst) ->
                let answer = WriteAnswer.afterDelivery worst counts
                (answer = Accepted) = (counts.Unparsed = 0 && counts.Refused = 0 && counts.BeyondRetention = 0 && kind worst <= 1)))

        testProperty "a failed delivery is always a 503, whatever the lines"
            (Prop.forAll (Arb.fromGen lineCounts) (fun counts -> WriteAnswer.status (WriteAnswer.afterDelivery (Failed "x") counts) = 503))
    ]

let tests = testList "WriteAnswer" [ examples; laws ]
