/// The /write path's memo of placement: the same owners as the ring, by the measurement's escaped bytes.
module InfluxProxy.Testing.ClusterOwnersTests

open System.Text
open Expecto
open FsCheck.FSharp
open InfluxProxy.Core
open InfluxProxy.Host.Backends
open InfluxProxy.Host.Write

let private newCluster () =
    let backend c i = sprintf """{"name":"influxdb-%d-%d","url":"http://127.0.0.1:%d"}""" c i (8086 + 3 * c + i)
    let circle c = sprintf """{"name":"circle-%d","backends":[%s]}""" c (List.init 3 (backend c) |> String.concat ",")
    sprintf """{"circles":[%s]}""" (List.init 2 circle |> String.concat ",")
    |> ProxyConfig.parse |> Result.defaultWith (failwithf "%A") |> Cluster

let private cluster = newCluster ()

let private escaped (name: string) = Encoding.UTF8.GetBytes(name.Replace(",", "\\,").Replace(" ", "\\ "))

let private ids (owners: BackendInfo seq) = owners |> Seq.map _.Id |> List.ofSeq

let private names = Gen.elements [ "cpu"; "a,b"; "a b"; "a\\b"; "mé"; "x"; "load,1 min" ] |> Gen.listOf |> Arb.fromGen

let tests =
    testList "Cluster owners" [
        testProperty "gives the ring's owners of the unescaped name, asked once or many times" (Prop.forAll names (fun names ->
            let cache = cluster
            for name in names @ names do
                Expect.equal (ids (cache.OwnersIn("db").Of(escaped name))) (ids (cluster.Owners("db", name))) name))

        test "one shared list per set of owners, so requests group lines by reference" {
            let cache = cluster
            let measurements = List.init 200 (sprintf "m%d")
            let lists = measurements |> List.map (fun m -> cache.OwnersIn("db").Of(escaped m))
            let distinctSets = lists |> List.distinctBy ids |> List.length
            Expect.equal (lists |> List.distinctBy LanguagePrimitives.PhysicalHash |> List.length) distinctSets "one instance per set"
            Expect.isGreaterThan distinctSets 1 "the names spread over several sets"
        }

        test "past its capacity of names and of databases, it forgets and still answers the ring's owners" {
            let cache = newCluster ()
            let sample = [ 0; 1; 99_999; 100_000; 100_049 ]
            for i in 0 .. 100_049 do cache.OwnersIn("db").Of(escaped (sprintf "m%d" i)) |> ignore
            Expect.equal cache.Remembered (struct (1, 50L)) "forgot the 100,000 at the capacity, holds the 50 after"
            for i in sample do
                Expect.equal (ids (cache.OwnersIn("db").Of(escaped (sprintf "m%d" i)))) (ids (cluster.Owners("db", sprintf "m%d" i))) (sprintf "m%d" i)
            for d in 0 .. 10_049 do cache.OwnersIn(sprintf "db%d" d).Of(escaped "cpu") |> ignore
            let struct (databases, _) = cache.Remembered
            Expect.isLessThanOrEqual databases 10_000 "databases bounded"
            for d in [ 0; 10_049 ] do
                Expect.equal (ids (cache.OwnersIn(sprintf "db%d" d).Of(escaped "cpu"))) (ids (cluster.Owners(sprintf "db%d" d, "cpu"))) (sprintf "db%d" d)
        }

        test "databases are placed apart" {
            let cache = cluster
            let differs = List.init 50 (sprintf "m%d") |> List.exists (fun m -> ids (cache.OwnersIn("a").Of(escaped m)) <> ids (cache.OwnersIn("b").Of(escaped m)))
            Expect.isTrue differs "the database is part of the ring key"
        }
    ]
