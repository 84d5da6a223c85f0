module InfluxProxy.Core.Tests.BackendHealthTests

open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

let private examples =
    testList "examples" [
        test "pings set the state, but an answering ping does not clear refused credentials" {
            Expect.equal (BackendState.next Unknown (Pinged Up)) Up "up"
            Expect.equal (BackendState.next Up (Pinged Down)) Down "down"
            Expect.equal (BackendState.next Unauthorized (Pinged Up)) Unauthorized "ping does not check credentials"
            Expect.equal (BackendState.next Unauthorized (Pinged Down)) Down "gone"
        }

        test "writes: a lost connection or refused credentials tell at once; a taken write clears refused credentials" {
            Expect.equal (BackendState.next Up (Wrote(WriteOutcome.Unreachable "refused"))) Down "unreachable"
            Expect.equal (BackendState.next Up (Wrote(WriteOutcome.Died "reset"))) Down "went away"
            Expect.equal (BackendState.next Up (Wrote(WriteOutcome.CredentialsRefused "401"))) Unauthorized "credentials"
            Expect.equal (BackendState.next Unauthorized (Wrote WriteOutcome.Written)) Up "taken"
            Expect.equal (BackendState.next Up (Wrote(WriteOutcome.Transient "500"))) Up "a refusal says nothing of health"
        }

        test "writes go direct to a backend up or not yet probed" {
            Expect.equal ([ Unknown; Up; Down; Unauthorized ] |> List.map BackendState.acceptsWrites) [ true; true; false; false ] "states"
        }
    ]

let private state = Gen.elements [ Unknown; Up; Down; Unauthorized ]

let private event =
    Gen.oneof [ Gen.elements [ Up; Down; Unauthorized ] |> Gen.map Pinged
                Gen.elements [ WriteOutcome.Written; WriteOutcome.Transient "t"; WriteOutcome.Unreachable "u"; WriteOutcome.Died "d"
                               WriteOutcome.CredentialsRefused "a"; WriteOutcome.PartialWrite "p" ] |> Gen.map Wrote ]

let private laws =
    testList "laws" [
        testProperty "a backend once unauthorized stays so until a write is taken or it stops answering"
            (Prop.forAll (Arb.fromGen (Gen.listOf event)) (fun events ->
                let final = events |> List.fold BackendState.next Unauthorized
                let clearing = function Wrote(WriteOutcome.Written | WriteOutcome.PartialWrite _ | WriteOutcome.Unreachable _ | WriteOutcome.Died _) | Pinged Down -> true | _ -> false
                final = Unauthorized || List.exists clearing events))

        testProperty "nothing is ever Unknown again once learned"
            (Prop.forAll (Arb.fromGen (Gen.zip state (Gen.nonEmptyListOf event))) (fun (start, events) ->
                events |> List.fold BackendState.next start <> Unknown || start = Unknown && events |> List.forall (function Wrote _ -> true | _ -> false)))
    ]

let tests = testList "BackendHealth" [ examples; laws ]
