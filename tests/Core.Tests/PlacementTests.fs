module InfluxProxy.Core.Tests.PlacementTests

open System
open System.IO
open System.Text.Json
open Expecto
open FsCheck.FSharp
open InfluxProxy.Core

type private Vector = { HashKey: HashKey; Backends: RingMember list; Key: string; Index: int }

let private vectors =
    use doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "ring-vectors.json")))
    [ for v in doc.RootElement.EnumerateArray() ->
        { HashKey = v.GetProperty("hash_key").GetString() |> HashKey.parse |> Result.defaultWith (failwithf "%A")
          Backends =
            [ for b in v.GetProperty("backends").EnumerateArray() ->
                { Name = b.GetProperty("name").GetString(); Url = b.GetProperty("url").GetString() } ]
          Key = v.GetProperty("key").GetString()
          Index = v.GetProperty("index").GetInt32() } ]

let private idxRing n vnodes = Ring.create vnodes (List.init n string)
let private nameRing names = Ring.create Ring.DefaultVnodes names

let private examples =
    testList "examples" [
        test "ring-vectors.json holds 280 vectors" { Expect.equal vectors.Length 280 "vector count" }

        test "locate matches every vector of ring-vectors.json" {
            for v in vectors do
                let ring = Ring.ofBackends v.HashKey Ring.DefaultVnodes v.Backends
                Expect.equal (Ring.locate v.Key ring) v.Index (sprintf "%A %d backends, key %s" v.HashKey v.Backends.Length v.Key)
        }

        test "lookup takes the first point strictly greater than the key hash" {
            // CRC32("10") is the point of vnode 1 of backend 0; the owner is the next point's member.
            Expect.equal (Ring.locate "10" (idxRing 2 256)) 1 "upper bound, not lower bound"
        }

        test "db1,cpu1 on two idx backends lands on backend 1 (worked example)" {
            Expect.equal (Ring.locate "db1,cpu1" (idxRing 2 256)) 1 "worked example"
        }

        test "vnode_size variants of v2.4.7 match the original" {
            let keys = [ for i in 1..8 -> sprintf "db1,cpu%d" i ]
            let expected =
                [ 20, [ 1; 1; 1; 0; 0; 1; 0; 1 ], [ 1; 1; 2; 0; 0; 1; 0; 1 ]
                  100, [ 1; 1; 0; 0; 1; 0; 1; 1 ], [ 2; 1; 0; 0; 1; 0; 1; 2 ]
                  256, [ 1; 1; 0; 0; 1; 0; 1; 1 ], [ 2; 1; 0; 0; 1; 0; 1; 1 ]
                  512, [ 0; 1; 0; 0; 1; 0; 1; 1 ], [ 2; 1; 0; 0; 1; 0; 1; 1 ] ]
            for vnodes, two, three in expected do
                Expect.equal [ for k in keys -> Ring.locate k (idxRing 2 vnodes) ] two (sprintf "idx/2 vnode_size %d" vnodes)
                Expect.equal [ for k in keys -> Ring.locate k (idxRing 3 vnodes) ] three (sprintf "idx/3 vnode_size %d" vnodes)
        }

        test "an 11th idx backend steals 25 points of backend 0 (later member wins)" {
            Expect.equal (Ring.pointCount (idxRing 11 256)) 2791 "distinct points with 11 idx backends"
        }

        test "shard key templates render like the original" {
            let cases =
                [ "%db,%mm", "database,measurement"
                  "shard-%db-%mm", "shard-database-measurement"
                  "%db-%mm-key", "database-measurement-key"
                  "shard-%mm-%db-%mm-%db-key", "shard-measurement-database-measurement-database-key"
                  "%db%mm", "databasemeasurement"
                  "shard%mm%db%mm%dbkey", "shardmeasurementdatabasemeasurementdatabasekey" ]
            for template, expected in cases do
                let key = ShardKey.create template |> Result.defaultWith (failwithf "%A")
                Expect.equal (ShardKey.render key "database" "measurement") expected template
        }

        test "a db name containing %mm is not expanded again" {
            let key = ShardKey.create "%db,%mm" |> Result.defaultWith (failwithf "%A")
            Expect.equal (ShardKey.render key "a%mm" "m") "a%mm,m" "single pass"
        }

        test "hash_key accepts idx, exi, name, url and %idx templates only" {
            Expect.equal (HashKey.parse "backend-%idx") (Ok(Template "backend-%idx")) "template"
            Expect.isError (HashKey.parse "IDX") "case-sensitive like the original"
            Expect.isError (HashKey.parse "crc") "unknown"
        }
    ]

let private fairShare (n: int) (ring: Ring) =
    let random = Random 42
    let counts = Array.zeroCreate n
    for _ in 1..100_000 do
        let key = sprintf "db%d,m%d" (random.Next 100) (random.Next())
        let owner = Ring.locate key ring
        counts[owner] <- counts[owner] + 1
    counts |> Array.forall (fun c -> abs (float c - 100_000.0 / float n) <= 0.30 * 100_000.0 / float n)

let private laws =
    testList "laws" [
        testProperty "locate is deterministic" (Prop.forAll Arb.keys (fun keys ->
            let a, b = idxRing 4 256, idxRing 4 256
            keys |> List.forall (fun k -> Ring.locate k a = Ring.locate k b)))

        testProperty "every key maps to a configured backend" (Prop.forAll (Arb.keysAndNames 1 12) (fun (keys, names) ->
            let ring = nameRing names
            keys |> List.forall (fun k -> let i = Ring.locate k ring in i >= 0 && i < names.Length)))

        testProperty "adding a backend only moves keys to it" (Prop.forAll (Arb.keysAndNames 2 12) (fun (keys, names) ->
            let before, after = nameRing (List.take (names.Length - 1) names), nameRing names
            keys |> List.forall (fun k ->
                let owner = Ring.locate k after
                owner = Ring.locate k before || owner = names.Length - 1)))

        testProperty "removing a backend only moves its keys" (Prop.forAll (Arb.keysAndNames 2 12) (fun (keys, names) ->
            let removed = names.Length / 2
            let kept = names |> List.removeAt removed
            let before, after = nameRing names, nameRing kept
            keys |> List.forall (fun k ->
                let owner = Ring.locate k before
                owner = removed || names[owner] = kept[Ring.locate k after])))

        testProperty "exi labels never collide up to 100 backends" (Prop.forAll (Gen.choose (1, 100) |> FsCheck.FSharp.Arb.fromGen) (fun n ->
            let ring = Ring.ofBackends Exi Ring.DefaultVnodes (List.init n (fun i -> { Name = string i; Url = "" }))
            Ring.pointCount ring = n * Ring.DefaultVnodes))

        // The original's ring is not more even than this: idx/10 deviates 27%, so ±25% cannot hold byte-compatibly.
        test "100k random keys spread within 30% of fair share on idx rings of 2 to 10 backends" {
            for n in 2..10 do
                Expect.isTrue (fairShare n (idxRing n 256)) (sprintf "%d idx backends" n)
        }
    ]

let tests = testList "Placement" [ examples; laws ]
