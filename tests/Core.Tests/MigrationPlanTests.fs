module InfluxProxy.Core.Tests.MigrationPlanTests

open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

/// The backends in a model: each (backend, db, rp, measurement) holds a set of point times.
type Model = Map<int * string * string * string, Set<int64>>

let private inventoryWith copied (groups: Map<int * string * string, (int64 * int64) list>) (model: Model) : Inventory =
    { Holdings =
        [ for KeyValue((b, db, rp, m), points) in model do
            if not points.IsEmpty then { Backend = b; Db = db; Rp = rp; Measurement = m; Points = Some(int64 points.Count) } ]
      ShardGroups = groups
      Copied = copied }

let private inventoryOf groups model = inventoryWith Set.empty groups model

let private inWindow (w: Window) (t: int64) = (w.From |> Option.forall (fun f -> t >= f)) && (w.Until |> Option.forall (fun u -> t < u))

/// Carries the steps out on the model; also the (source, db, measurement) whose verification failed.
let apply (steps: MigrationStep list) (model: Model) : Model * Set<int * string * string> =
    let points (m: Model) key = Map.tryFind key m |> Option.defaultValue Set.empty
    steps
    |> List.fold
        (fun (m: Model, failed: Set<int * string * string>) step ->
            let source = step.Source, step.Db, step.Rp, step.Measurement
            match step.Kind with
            | Copy(destinations, window) ->
                let moving = points m source |> Set.filter (inWindow window)
                destinations
                |> List.fold (fun (m: Model) d -> m |> Map.add (d, step.Db, step.Rp, step.Measurement) (Set.union (points m (d, step.Db, step.Rp, step.Measurement)) moving)) m,
                failed
            | Verify destination ->
                if Set.isSubset (points m source) (points m (destination, step.Db, step.Rp, step.Measurement)) then m, failed
                else m, failed.Add(step.Source, step.Db, step.Measurement)
            | Drop when failed.Contains(step.Source, step.Db, step.Measurement) -> m, failed
            | Drop -> m |> Map.filter (fun (b, db, _, measurement) _ -> not (b = step.Source && db = step.Db && measurement = step.Measurement)), failed
            | Drained -> m, failed)
        (model, Set.empty)

/// Every point of each (db, rp, measurement), wherever it is.
let private everything (model: Model) =
    model |> Map.toList |> List.groupBy (fun ((_, db, rp, m), _) -> db, rp, m) |> List.map (fun (k, v) -> k, v |> List.map snd |> Set.unionMany) |> Map.ofList

let private hashKeys = Gen.elements [ Idx; Exi; Name; Url; Template "node-%idx" ]

/// 1 to 3 circles of 2 to 12 backends; ids numbered across circles.
let private cluster =
    gen {
        let! circles = Gen.choose (1, 3)
        let! sizes = Gen.listOfLength circles (Gen.choose (2, 12))
        let! hashKey = hashKeys
        let members =
            sizes
            |> List.mapi (fun c n -> [ for i in 0 .. n - 1 -> c, i ])
            |> List.concat
            |> List.mapi (fun id (c, i) -> { Id = id; Circle = c; Name = sprintf "influxdb-%d-%d" (c + 1) (i + 1); Url = sprintf "http://10.0.%d.%d:8086" c i })
        let byCircle = [ for c in 0 .. circles - 1 -> members |> List.filter (fun m -> m.Circle = c) ]
        let rings = byCircle |> List.map (fun ms -> ms |> List.map (fun m -> { RingMember.Name = m.Name; Url = m.Url }) |> Ring.ofBackends hashKey 64)
        return { Placement = { ShardKey = ShardKey.defaultTemplate; Rings = rings }; Circles = byCircle }
    }

/// Data on any backend (or a removed one), whether its owner or not; some shard groups.
let private data (backends: int list) =
    gen {
        let key = Gen.zip3 (Gen.elements backends) (Gen.elements [ "db1"; "db2" ]) (Gen.zip (Gen.elements [ "autogen"; "week" ]) (Gen.elements [ for i in 0..7 -> sprintf "m%d" i ]))
        let! entries = Gen.listOf (Gen.zip key (Gen.listOf (Gen.choose (0, 300)) |> Gen.map (List.map int64 >> Set.ofList)))
        let model = entries |> List.map (fun ((b, db, (rp, m)), points) -> (b, db, rp, m), points) |> List.filter (fun (_, p) -> not p.IsEmpty) |> Map.ofList
        let! grouped = Gen.elements [ true; false ]
        let groups =
            if grouped then Map.ofList [ for b in backends do for db in [ "db1"; "db2" ] do for rp in [ "autogen"; "week" ] -> (b, db, rp), [ (0L, 100L); (100L, 200L); (200L, 300L) ] ]
            else Map.empty
        return model, groups
    }

let ownerOf (c: MigrationCluster) circle db m = c.Circles[circle][Placement.owners db m c.Placement |> List.item circle]

let scenario =
    gen {
        let! c = cluster
        let ids = c.Circles |> List.concat |> List.map _.Id
        let removed = { Id = ids.Length; Circle = 0; Name = "removed-0"; Url = "http://10.9.9.9:8086" }
        let! model, groups = data (removed.Id :: ids)
        let! circle = Gen.choose (0, c.Circles.Length - 1)
        return c, removed, model, groups, circle
    }

let plan c groups model operation = MigrationPlan.plan c (inventoryOf groups model) [] operation

let private urlOf (c: MigrationCluster) (removed: MigrationMember) id =
    (removed :: List.concat c.Circles) |> List.find (fun m -> m.Id = id) |> _.Url

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

let private laws =
    testList "laws" [
        testPropertyWithConfig config "after rebalance then clear, every measurement of every rp sits on its owner in the circle, nothing lost"
            (Prop.forAll (Arb.fromGen scenario) (fun (c, removed, model, groups, circle) ->
                let members = c.Circles[circle] |> List.map _.Id |> Set.ofList
                let model = model |> Map.filter (fun (b, _, _, _) _ -> b <> removed.Id)
                let before = everything (model |> Map.filter (fun (b, _, _, _) _ -> members.Contains b))
                let moved, _ = apply (plan c groups model (Rebalance(circle, []))) model
                let cleared, failed = apply (plan c groups moved (Clear circle)) moved
                let inCircle = cleared |> Map.filter (fun (b, _, _, _) _ -> members.Contains b)
                failed.IsEmpty
                && inCircle |> Map.forall (fun (b, db, _, m) _ -> (ownerOf c circle db m).Id = b)
                && everything inCircle = before))

        testPropertyWithConfig config "rm drains the removed backend onto the owners: verified, then emptied; nothing is read from it after"
            (Prop.forAll (Arb.fromGen scenario) (fun (c, removed, model, groups, _) ->
                let steps = plan c groups model (Rebalance(0, [ removed ]))
                let after, failed = apply steps model
                let drained = steps |> List.tryFindIndex (fun s -> s.Kind = Drained && s.Source = removed.Id)
                let removedHeld = model |> Map.exists (fun (b, _, _, _) _ -> b = removed.Id)
                failed.IsEmpty
                && not (after |> Map.exists (fun (b, _, _, _) _ -> b = removed.Id))
                && drained.IsSome = removedHeld
                && (match drained with
                    | Some i -> steps |> List.skip (i + 1) |> List.forall (fun s -> s.Source <> removed.Id)
                    | None -> true)))

        testPropertyWithConfig config "a drop only ever follows a verification of every rp of the measurement on its owner"
            (Prop.forAll (Arb.fromGen scenario) (fun (c, removed, model, groups, circle) ->
                let steps = plan c groups model (Clear circle) @ plan c groups model (Rebalance(0, [ removed ]))
                let check (steps: MigrationStep list) =
                    steps
                    |> List.indexed
                    |> List.forall (fun (i, s) ->
                        s.Kind <> Drop
                        || (model
                            |> Map.forall (fun (b, db, rp, m) _ ->
                                not (b = s.Source && db = s.Db && m = s.Measurement)
                                || steps |> List.take i |> List.exists (fun v -> v.Source = b && v.Db = db && v.Rp = rp && v.Measurement = m && (match v.Kind with Verify _ -> true | _ -> false)))))
                check (plan c groups model (Clear circle)) && check (plan c groups model (Rebalance(0, [ removed ])))))

        testPropertyWithConfig config "no step drops the last copy of anything, even where an owner never got it"
            (Prop.forAll (Arb.fromGen scenario) (fun (c, _, model, groups, circle) ->
                // Clear without a rebalance first: owners may lack what their circle holds elsewhere.
                let after, _ = apply (plan c groups model (Clear circle)) model
                everything after = everything model))

        testPropertyWithConfig config "a plan run to success is done: planning again, with the copies it recorded, finds nothing to do"
            (Prop.forAll (Arb.fromGen (Gen.zip scenario (Gen.choose (0, 3)))) (fun ((c, removed, model, groups, circle), which) ->
                let others = if c.Circles.Length > 1 then (circle + 1) % c.Circles.Length else circle
                let placed = fst (apply (plan c groups model (Rebalance(circle, []))) model)
                // A resync unites what the circles' owners hold: misplaced data is a rebalance's to move first.
                let model, operation =
                    match which with
                    | 0 -> model, Rebalance(circle, [ removed ])
                    | 1 -> model, Recovery(circle, others, [])
                    | 2 ->
                        let owned = model |> Map.filter (fun (b, db, _, m) _ -> [ 0 .. c.Circles.Length - 1 ] |> List.exists (fun ci -> (ownerOf c ci db m).Id = b))
                        owned, Resync None
                    | _ -> placed, Clear circle
                let steps = plan c groups model operation
                let after, failed = apply steps model
                let copied = MigrationPlan.copiedWhole (urlOf c removed) operation steps
                let again = MigrationPlan.plan c (inventoryWith copied groups after) [] operation
                (not failed.IsEmpty || List.isEmpty again) |> Prop.label (sprintf "%A: again %A\nfirst %A" operation again steps)))

        testPropertyWithConfig config "recovery copies only onto the backends named, and only from the other circle"
            (Prop.forAll (Arb.fromGen scenario) (fun (c, _, model, groups, _) ->
                c.Circles.Length < 2
                || (let target = c.Circles[1]
                    let urls = target |> List.truncate 1 |> List.map _.Url
                    let named = target |> List.filter (fun m -> List.contains m.Url urls) |> List.map _.Id |> Set.ofList
                    let sources = c.Circles[0] |> List.map _.Id |> Set.ofList
                    plan c groups model (Recovery(0, 1, urls))
                    |> List.forall (fun s ->
                        sources.Contains s.Source
                        && (match s.Kind with
                            | Copy(destinations, _) -> destinations |> List.forall named.Contains
                            | _ -> false)))))

        testPropertyWithConfig config "resync gives every circle's owner the union of what the circles hold"
            (Prop.forAll (Arb.fromGen scenario) (fun (c, removed, model, groups, _) ->
                let model = model |> Map.filter (fun (b, _, _, _) _ -> b <> removed.Id)
                let after, _ = apply (plan c groups model (Resync None)) model
                let union = everything model
                union
                |> Map.forall (fun (db, rp, m) points ->
                    [ 0 .. c.Circles.Length - 1 ]
                    |> List.forall (fun circle ->
                        // Only circles that held some of it copy it to the others.
                        let holders = c.Circles[circle] |> List.map _.Id |> Set.ofList
                        let heldHere = model |> Map.exists (fun (b, d, r, mm) _ -> holders.Contains b && d = db && r = rp && mm = m)
                        let owner = (ownerOf c circle db m).Id
                        let ownerHas = Map.tryFind (owner, db, rp, m) after |> Option.defaultValue Set.empty
                        let fromOthers =
                            model |> Map.filter (fun (b, d, r, mm) _ -> not (holders.Contains b) && d = db && r = rp && mm = m) |> Map.values |> Set.unionMany
                        heldHere || Set.isSubset fromOthers ownerHas)
                    && points = (everything after |> Map.find (db, rp, m)))))

        testPropertyWithConfig config "a copy is cut along the source's shard groups, and the slices cover all time"
            (Prop.forAll (Arb.fromGen scenario) (fun (c, removed, model, groups, circle) ->
                let steps = plan c groups model (Rebalance(circle, [ removed ]))
                steps
                |> List.filter (fun s -> match s.Kind with Copy _ -> true | _ -> false)
                |> List.groupBy (fun s -> s.Source, s.Db, s.Rp, s.Measurement, (match s.Kind with Copy(d, _) -> d | _ -> []))
                |> List.forall (fun (_, slices) ->
                    let windows = slices |> List.map (fun s -> match s.Kind with Copy(_, w) -> w | _ -> failwith "copy")
                    // Every time from -∞ to +∞ falls in exactly one slice.
                    [ -1000L; 0L; 99L; 100L; 250L; 299L; 300L; 100000L ]
                    |> List.forall (fun t -> windows |> List.filter (fun w -> inWindow w t) |> List.length = 1))))
    ]

let private examples =
    testList "examples" [
        test "a measurement on the wrong backend of a circle is copied to its owner, once" {
            let c = { Placement = { ShardKey = ShardKey.defaultTemplate; Rings = [ Ring.ofBackends Idx 256 [ { RingMember.Name = "a"; Url = "u0" }; { Name = "b"; Url = "u1" } ] ] }
                      Circles = [ [ { Id = 0; Circle = 0; Name = "a"; Url = "u0" }; { Id = 1; Circle = 0; Name = "b"; Url = "u1" } ] ] }
            let owner = ownerOf c 0 "db" "cpu"
            let other = 1 - owner.Id
            let inventory = { Holdings = [ { Backend = other; Db = "db"; Rp = "autogen"; Measurement = "cpu"; Points = Some 10L } ]; ShardGroups = Map.empty; Copied = Set.empty }
            Expect.equal (MigrationPlan.plan c inventory [] (Rebalance(0, [])))
                [ { Id = 0; Kind = Copy([ owner.Id ], { From = None; Until = None }); Source = other; Db = "db"; Rp = "autogen"; Measurement = "cpu"; Points = Some 10L } ] "one copy"
            let copied = { inventory with Holdings = inventory.Holdings @ [ { Backend = owner.Id; Db = "db"; Rp = "autogen"; Measurement = "cpu"; Points = Some 10L } ] }
            Expect.isNonEmpty (MigrationPlan.plan c copied [] (Rebalance(0, []))) "as many points there proves nothing: copied again"
            let recorded = { copied with Copied = Set.singleton ((if other = 0 then "u0" else "u1"), owner.Url, "db", "autogen", "cpu") }
            Expect.isEmpty (MigrationPlan.plan c recorded [] (Rebalance(0, []))) "copied by an earlier job, still there"
            let wiped = { recorded with Holdings = inventory.Holdings }
            Expect.isNonEmpty (MigrationPlan.plan c wiped [] (Rebalance(0, []))) "copied once, but the destination lost it since"
            Expect.equal (MigrationPlan.plan c copied [] (Clear 0) |> List.map _.Kind) [ Verify owner.Id; Drop ] "clear: verify, then drop"
            Expect.isEmpty (MigrationPlan.plan c copied [ "other" ] (Clear 0)) "only the databases asked for"
        }
    ]

let tests = testList "MigrationPlan" [ examples; laws ]
