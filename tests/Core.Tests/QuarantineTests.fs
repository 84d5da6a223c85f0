module InfluxProxy.Core.Tests.QuarantineTests

open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

let private policy = QuarantinePolicy.ofRewriteInterval 1000L

/// Observes `results` one second apart from t = 0; the history and the time of the last one.
let private after (results: SendResult list) =
    results |> List.fold (fun (h, t) r -> RecordHistory.observe t r h, t + 1000L) (RecordHistory.fresh, 0L)

let private isQuarantine = function Quarantine _ -> true | _ -> false

let private examples =
    testList "examples" [
        test "a fresh record is sent" {
            Expect.equal (RecordHistory.verdict policy 0L true RecordHistory.fresh) Send "fresh"
        }

        test "a record after which the backend died twice is set aside, whatever waits behind it" {
            let once, t = after [ WentAway "response ended" ]
            Expect.equal (RecordHistory.verdict policy t false once) Send "once"
            let twice, t = after [ WentAway "response ended"; Missed; WentAway "response ended" ]
            Expect.equal (RecordHistory.verdict policy t false twice) (Quarantine "the backend went away while taking it, 2 times (response ended)") "twice"
        }

        test "a record refused long enough is tried behind the next one, and set aside only when refused again after it" {
            let refused = List.replicate 5 (Refused "status 500: engine: unable to parse bool value")
            let h, _ = after refused
            Expect.equal (RecordHistory.verdict policy 4000L true h) Send "five refusals over four seconds: not long enough"
            Expect.equal (RecordHistory.verdict policy 5000L false h) Send "nothing behind it: nothing held up"
            Expect.equal (RecordHistory.verdict policy 5000L true h) SendBehindFirst "five refusals over five seconds"
            let h = RecordHistory.behindTaken h
            Expect.equal (RecordHistory.verdict policy 5000L true h) Send "the behind record was taken: the record is tried again"
            let h = RecordHistory.observe 6000L (Refused "status 500: engine: unable to parse bool value") h
            Expect.equal (RecordHistory.verdict policy 6000L true h)
                (Quarantine "refused 6 times over 6 s while the backend took the record behind it: status 500: engine: unable to parse bool value") "refused again"
        }

        test "a backend that refuses the record behind it too keeps the record" {
            let h, t = after (List.replicate 8 (Refused "status 500: disk full"))
            Expect.equal (RecordHistory.verdict policy t true h) SendBehindFirst "probe"
            // The record behind was refused as well: behindTaken is not recorded, the record stays.
            let h = RecordHistory.observe t (Refused "status 500: disk full") h
            Expect.isFalse (isQuarantine (RecordHistory.verdict policy t true h)) "kept"
        }

        test "the policy follows the replay interval" {
            Expect.equal (QuarantinePolicy.ofRewriteInterval 10_000L) { Deaths = 2; Refusals = 5; RefusingForMs = 50_000L } "defaults"
        }
    ]

let private result =
    Gen.oneof [ Gen.constant Taken; Gen.constant Missed; Gen.constant (WentAway "reset"); Gen.constant (Refused "status 500") ]

let private steps = Gen.listOf (Gen.zip result (Gen.choose (0, 20_000))) |> Gen.map (List.truncate 30)

/// The history after `steps` (each a result and the ms since the previous), with `behind` taken after the first
/// probe verdict when `takeBehind`; and the time of the last step.
let private run (takeBehind: bool) (steps: (SendResult * int) list) =
    steps
    |> List.fold (fun (h, t) (r, dt) ->
        let t = t + int64 dt
        let h = if takeBehind && RecordHistory.verdict policy t true h = SendBehindFirst then RecordHistory.behindTaken h else h
        RecordHistory.observe t r h, t) (RecordHistory.fresh, 0L)

let private config = { FsCheckConfig.defaultConfig with maxTest = 1000 }

let private laws =
    testList "laws" [
        testPropertyWithConfig config "taken and missed sends change nothing"
            (Prop.forAll (Arb.fromGen (Gen.zip steps (Gen.elements [ Taken; Missed ]))) (fun (steps, r) ->
                let h, t = run true steps
                RecordHistory.observe t r h = h))

        testPropertyWithConfig config "a record is set aside for refusals only once refused after the record behind it was taken"
            (Prop.forAll (Arb.fromGen steps) (fun steps ->
                let h, t = run false steps
                h.Deaths >= policy.Deaths || not (isQuarantine (RecordHistory.verdict policy t true h))))

        testPropertyWithConfig config "deaths alone decide from the policy's count on"
            (Prop.forAll (Arb.fromGen steps) (fun steps ->
                let h, t = run true steps
                let deaths = steps |> List.filter (fun (r, _) -> r = WentAway "reset") |> List.length
                h.Deaths = deaths && (deaths < policy.Deaths || isQuarantine (RecordHistory.verdict policy t false h))))

        testPropertyWithConfig config "the record behind goes first only when one waits, after enough refusals over enough time"
            (Prop.forAll (Arb.fromGen (Gen.zip steps (Gen.elements [ true; false ]))) (fun (steps, hasBehind) ->
                let h, t = run false steps
                match RecordHistory.verdict policy t hasBehind h with
                | SendBehindFirst ->
                    hasBehind && h.Refusals >= policy.Refusals
                    && h.FirstRefusalMs |> Option.exists (fun first -> t - first >= policy.RefusingForMs)
                | _ -> true))
    ]

let tests = testList "Quarantine" [ examples; laws ]
