/// The memory pool Kestrel's sockets read /write bodies into.
module InfluxProxy.Testing.ReceiveBlockPoolTests

open System
open System.IO
open System.Runtime.InteropServices
open Expecto
open Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets
open Microsoft.Extensions.DependencyInjection
open Microsoft.Extensions.Options
open InfluxProxy.Core
open InfluxProxy.Host.Http

let private arrayOf (owner: Buffers.IMemoryOwner<byte>) =
    match MemoryMarshal.TryGetArray(Memory.op_Implicit owner.Memory : ReadOnlyMemory<byte>) with
    | true, segment -> segment.Array
    | _ -> failwith "not an array"

let tests =
    testList "ReceiveBlockPool" [
        test "blocks are 64 KB, whatever smaller size is asked, and never handed out twice while rented" {
            use pool = new ReceiveBlockPool()
            let rented = [ for size in [ -1; 1; 2048; 4096; ReceiveBlockPool.BlockSize ] -> pool.Rent size ]
            for block in rented do
                Expect.equal block.Memory.Length ReceiveBlockPool.BlockSize "a whole block"
            Expect.equal (Collections.Generic.HashSet(rented |> List.map arrayOf, HashIdentity.Reference).Count) rented.Length "distinct blocks"
        }

        test "a returned block is rented again, and at most MaxRetained wait for reuse" {
            use pool = new ReceiveBlockPool()
            let first = [ for _ in 1 .. ReceiveBlockPool.MaxRetained + 8 -> pool.Rent() ]
            let arrays = Collections.Generic.HashSet(first |> List.map arrayOf, HashIdentity.Reference)
            for block in first do block.Dispose()
            let second = [ for _ in 1 .. ReceiveBlockPool.MaxRetained + 8 -> pool.Rent() ]
            let reused = second |> List.filter (fun b -> arrays.Contains(arrayOf b)) |> List.length
            Expect.equal reused ReceiveBlockPool.MaxRetained "the kept blocks, no more"
        }

        test "Kestrel's socket transport takes its pools from it, one pool for every listener" {
            let dataDir = Path.Combine(Path.GetTempPath(), sprintf "influx-proxy-pool-%s" (Guid.NewGuid().ToString "N"))
            let config =
                ProxyConfig.parse (sprintf """{"circles":[{"name":"c","backends":[{"name":"b","url":"http://127.0.0.1:1"}]}],"listen_addr":"127.0.0.1:0","data_dir":%s}""" (Text.Json.JsonSerializer.Serialize dataDir))
                |> Result.defaultWith (failwithf "%A")
            let app = ProxyServer.BuildAsync(config).Result
            use _ = { new IDisposable with
                        member _.Dispose() =
                            app.Services.GetRequiredService<InfluxProxy.Host.Backends.BackendRegistry>().Closing.StopAsync().Wait()
                            Directory.Delete(dataDir, true) }
            let transport = app.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value
            // Kestrel reads the factory from an internal option, filled from DI.
            let factory =
                typeof<SocketTransportOptions>.GetProperty("MemoryPoolFactory", Reflection.BindingFlags.Instance ||| Reflection.BindingFlags.NonPublic ||| Reflection.BindingFlags.Public).GetValue transport
                :?> Microsoft.AspNetCore.Connections.IMemoryPoolFactory<byte>
            Expect.isTrue (factory :? ReceiveBlockPool.Factory) "the proxy's factory"
            Expect.isTrue (obj.ReferenceEquals(factory.Create(), factory.Create())) "one shared pool"
        }

        test "a request for more than a block is refused" {
            use pool = new ReceiveBlockPool()
            Expect.throwsT<ArgumentOutOfRangeException> (fun () -> pool.Rent(ReceiveBlockPool.BlockSize + 1) |> ignore) "too large"
        }
    ]
