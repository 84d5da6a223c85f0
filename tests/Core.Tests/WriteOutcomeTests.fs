module InfluxProxy.Core.Tests.WriteOutcomeTests

open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

let private examples =
    testList "examples" [
        test "a backend's status decides the outcome, with InfluxDB's text kept" {
            Expect.equal (WriteOutcome.ofStatus 204 "") Written "204"
            Expect.equal (WriteOutcome.ofStatus 400 "partial write: field type conflict dropped=1") (PartialWrite "partial write: field type conflict dropped=1") "400"
            Expect.equal (WriteOutcome.ofStatus 401 "authorization failed") (CredentialsRefused "status 401: authorization failed") "401"
            Expect.equal (WriteOutcome.ofStatus 403 "x") (CredentialsRefused "status 403: x") "403"
            Expect.equal (WriteOutcome.ofStatus 404 "database not found: \"d\"") (Transient "status 404: database not found: \"d\"") "404 waits for the database"
            Expect.equal (WriteOutcome.ofStatus 413 "too large") (TooLarge "too large") "413"
            Expect.equal (WriteOutcome.ofStatus 500 "engine: x") (Transient "status 500: engine: x") "500"
        }

        test "halves: the second goes only once the first was taken, and the worse one is the answer" {
            Expect.isFalse (WriteOutcome.isTaken (Transient "t")) "first not taken: the batch is retried whole"
            Expect.isTrue (WriteOutcome.isTaken (PartialWrite "p")) "first partly refused for good: the second goes"
            Expect.equal (WriteOutcome.ofHalves Written (PartialWrite "p")) (PartialWrite "p") "second refused part"
            Expect.equal (WriteOutcome.ofHalves (PartialWrite "p") Written) (PartialWrite "p") "first refused part"
            Expect.equal (WriteOutcome.ofHalves Written (Died "d")) (Died "d") "second lost"
        }

        test "what a send says about its record" {
            Expect.equal (WriteOutcome.sendResult Written) Taken "delivered"
            Expect.equal (WriteOutcome.sendResult (PartialWrite "p")) Taken "partly refused for good"
            Expect.equal (WriteOutcome.sendResult (Transient "t")) (Refused "t") "refused"
            Expect.equal (WriteOutcome.sendResult (Died "d")) (WentAway "d") "died"
            Expect.equal (WriteOutcome.sendResult (Unreachable "u")) Missed "never reached"
        }
    ]

let private cut (text: string) = Halving.cut (System.ReadOnlySpan(System.Text.Encoding.UTF8.GetBytes text))

let private halving =
    testList "halving" [
        test "a batch is cut after a newline near its middle; one line is not cut" {
            Expect.equal (cut "a 1\nb 2\nc 3\nd 4\n") (ValueSome 8) "before the middle"
            Expect.equal (cut "aaaaaaaaaa 1\nb 2\n") (ValueSome 13) "after the middle"
            Expect.equal (cut "a 1\n") ValueNone "one line"
            Expect.equal (cut "a 1") ValueNone "one line without newline"
        }

        testProperty "both halves hold whole lines and neither is empty"
            (Prop.forAll (Arb.fromGen (Gen.listOf (Gen.elements [ "a 1"; "bb 22"; "ccc 333" ]) |> Gen.map (fun lines -> String.concat "" (List.map (fun l -> l + "\n") lines)))) (fun text ->
                match cut text with
                | ValueSome at -> at > 0 && at < text.Length && text[at - 1] = '\n'
                | ValueNone -> text.Split('\n', System.StringSplitOptions.RemoveEmptyEntries).Length <= 1))
    ]

let private laws =
    testList "laws" [
        testProperty "every status maps to one outcome, 2xx and only 2xx delivered"
            (Prop.forAll (Arb.fromGen (Gen.choose (100, 599))) (fun status ->
                (WriteOutcome.ofStatus status "" = Written) = (status >= 200 && status < 300)))
    ]

let tests = testList "WriteOutcome" [ examples; halving; laws ]
