module InfluxProxy.Core.Tests.MigrationPrerequisitesTests

open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core
open InfluxProxy.Core.Tests.MigrationPlanTests

/// Each operation, over the scenarios of the plan's laws. A resync's copies read what other copies of it write:
/// misplaced data travels on only in some orders, so a resync is given only what owners hold (moving the rest is a
/// rebalance's job).
let private planned: Gen<Model * MigrationStep list> =
    gen {
        let! c, removed, model, groups, circle = scenario
        let operations =
            [ Rebalance(circle, []); Rebalance(0, [ removed ]); Clear circle; Resync None; Resync(Some 150L) ]
            @ (if c.Circles.Length > 1 then [ Recovery(circle, (circle + 1) % c.Circles.Length, []) ] else [])
        let! operation = Gen.elements operations
        let model =
            match operation with
            | Resync _ -> model |> Map.filter (fun (b, db, _, m) _ -> [ 0 .. c.Circles.Length - 1 ] |> List.exists (fun ci -> (ownerOf c ci db m).Id = b))
            | _ -> model
        return model, plan c groups model operation
    }

let private isCopy (s: MigrationStep) = s.Kind.IsCopy
let private isVerify (s: MigrationStep) = s.Kind.IsVerify

/// The earlier steps `wanted` picks all are among the step's prerequisites.
let private waitsForEvery (waits: Map<int, int list>) (steps: MigrationStep list) (step: MigrationStep) (wanted: MigrationStep -> bool) =
    steps |> List.filter (fun s -> s.Id < step.Id && wanted s) |> List.forall (fun s -> List.contains s.Id waits[step.Id])

/// The steps in an order that runs each after its prerequisites: each next step, among those ready, is picked at
/// random or is the latest (which runs a step as early as its prerequisites allow, the surest way to find one missing).
let private anyOrder (steps: MigrationStep list) : Gen<MigrationStep list> =
    let waits = MigrationPlan.prerequisites steps
    let next (ran: MigrationStep list, left: MigrationStep list) (pick: int option) =
        let finished = ran |> List.map _.Id |> Set.ofList
        let ready = left |> List.filter (fun s -> waits[s.Id] |> List.forall finished.Contains)
        let chosen =
            match pick with
            | Some i -> ready[i % ready.Length]
            | None -> ready |> List.maxBy _.Id
        chosen :: ran, left |> List.filter (fun s -> s.Id <> chosen.Id)
    Gen.listOfLength steps.Length (Gen.optionOf (Gen.choose (0, 1_000_000)))
    |> Gen.map (List.fold next ([], steps) >> fst >> List.rev)

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

let private law name (holds: MigrationStep list -> Map<int, int list> -> bool) =
    testPropertyWithConfig config name
        (Prop.forAll (Arb.fromGen planned) (fun (_, steps) -> holds steps (MigrationPlan.prerequisites steps)))

let tests =
    testList "MigrationPlan.prerequisites" [
        law "copies wait for nothing" (fun steps waits -> steps |> List.filter isCopy |> List.forall (fun s -> waits[s.Id].IsEmpty))

        law "every step waits only for earlier ones, so running them in id order works" (fun steps waits ->
            steps |> List.forall (fun s -> waits[s.Id] |> List.forall (fun p -> p < s.Id && steps |> List.exists (fun t -> t.Id = p))))

        law "a verify waits for every copy before it of the same source, db, rp and measurement" (fun steps waits ->
            steps
            |> List.filter isVerify
            |> List.forall (fun v ->
                waitsForEvery waits steps v (fun s -> isCopy s && s.Source = v.Source && s.Db = v.Db && s.Rp = v.Rp && s.Measurement = v.Measurement)))

        law "a drop waits for every verify before it of the same source, db and measurement" (fun steps waits ->
            steps
            |> List.filter (fun s -> s.Kind = Drop)
            |> List.forall (fun d -> waitsForEvery waits steps d (fun s -> isVerify s && s.Source = d.Source && s.Db = d.Db && s.Measurement = d.Measurement)))

        law "a drained backend waits for every earlier step of its own" (fun steps waits ->
            steps
            |> List.filter (fun s -> s.Kind = Drained)
            |> List.forall (fun d -> waitsForEvery waits steps d (fun s -> s.Source = d.Source)))

        testPropertyWithConfig config "any order that keeps the prerequisites ends as the id order does"
            (Prop.forAll (Arb.fromGen (planned |> Gen.bind (fun (model, steps) -> anyOrder steps |> Gen.map (fun order -> model, steps, order))))
                (fun (model, steps, order) -> apply order model = apply steps model))
    ]
