/// The two readers of a chunked answer (the host's JsonLines and MessagePackValues), without a server: whatever the
/// pieces the stream arrives in, each chunk comes out whole, once, in order.
module InfluxProxy.Testing.ChunkedStreamTests

open System
open System.IO
open System.Threading
open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Host.Migration
open MessagePack

/// A stream that hands out its bytes in the given sizes, in turn (a socket's reads: never more than has arrived).
type private PieceStream(bytes: byte[], pieces: int list) =
    inherit Stream()
    let mutable position = 0
    let mutable next = 0
    override _.CanRead = true
    override _.CanSeek = false
    override _.CanWrite = false
    override _.Length = int64 bytes.Length
    override _.Position with get () = int64 position and set _ = raise (NotSupportedException())
    override _.Flush() = ()
    override _.Seek(_, _) = raise (NotSupportedException())
    override _.SetLength _ = raise (NotSupportedException())
    override _.Write(_, _, _) = raise (NotSupportedException())
    override _.Read(buffer: byte[], offset: int, count: int) =
        let piece = if pieces.IsEmpty then count else pieces[next % pieces.Length]
        next <- next + 1
        let n = min (min piece count) (bytes.Length - position)
        Array.blit bytes position buffer offset n
        position <- position + n
        n

/// A MessagePack value of nested maps and arrays, as InfluxDB's chunks are, with every kind of scalar in them.
type private Value =
    | Scalar of int
    | Text of string
    | Bytes of int
    | Extension of int
    | Items of Value list
    | Entries of (string * Value) list

/// Integers the writer puts in each of MessagePack's forms: fixints, negative fixints, 8, 16, 32 and 64 bits, signed or not.
let private integers = [| 0L; 5L; -5L; -100L; 200L; -200L; 40_000L; -40_000L; 70_000L; -3_000_000_000L; 5_000_000_000L |]

let rec private write (w: byref<MessagePackWriter>) (value: Value) =
    match value with
    | Scalar n when n % 6 = 0 -> w.WriteNil()
    | Scalar n when n % 6 = 1 -> w.Write(float n / 3.0)
    | Scalar n when n % 6 = 2 -> w.Write(float32 n / 3.0f)
    | Scalar n when n % 6 = 3 -> w.Write((n % 2) = 0)
    | Scalar n when n % 6 = 4 -> w.Write(UInt64.MaxValue - uint64 n)
    | Scalar n -> w.Write(integers[n % integers.Length])
    | Text s -> w.Write s
    | Bytes n -> w.Write(Array.create n 7uy)
    | Extension n -> w.WriteExtensionFormat(ExtensionResult(5y, Array.create n 9uy))
    | Items items ->
        w.WriteArrayHeader items.Length
        for item in items do write &w item
    | Entries entries ->
        w.WriteMapHeader entries.Length
        for key, item in entries do
            w.Write key
            write &w item

let private encode (value: Value) =
    let buffer = Buffers.ArrayBufferWriter<byte>()
    let mutable w = MessagePackWriter(buffer)
    write &w value
    w.Flush()
    buffer.WrittenMemory.ToArray()

let private values =
    // Lengths that take each of MessagePack's forms: fixed, 8, 16 and 32-bit sizes.
    let length = Gen.elements [ 0; 1; 2; 3; 4; 8; 16; 40; 300; 70_000 ]
    let sized =
        Gen.oneof
            [ length |> Gen.map (fun n -> Text(String('x', n)))
              length |> Gen.map Bytes
              length |> Gen.filter (fun n -> n > 0) |> Gen.map Extension ]
    let rec value depth =
        if depth = 0 then Gen.oneof [ Gen.choose (0, 1000) |> Gen.map Scalar; sized ]
        else
            Gen.frequency
                [ 2, Gen.choose (0, 1000) |> Gen.map Scalar
                  1, sized
                  2, value (depth - 1) |> Gen.listOf |> Gen.map Items
                  1, Gen.zip (Gen.elements [ "results"; "series"; "k" ]) (value (depth - 1)) |> Gen.listOf |> Gen.map Entries ]
    value 3 |> Gen.nonEmptyListOf

/// Read sizes: single bytes, a header's worth, a socket's.
let private pieces = Gen.elements [ 1; 2; 3; 7; 100; 4096; 65536 ] |> Gen.nonEmptyListOf

/// The exception `f` ends with, unwrapped from the task's.
let private failure (f: unit -> 'a) =
    try
        f () |> ignore
        None
    with e -> Some(e.GetBaseException())

let private readAll (stream: Stream) =
    use reader = new MessagePackValues(stream)
    [ let mutable next = reader.NextAsync(CancellationToken.None).AsTask().Result
      while next.HasValue do
          next.Value.ToArray()
          next <- reader.NextAsync(CancellationToken.None).AsTask().Result ]

let tests =
    testList "ChunkedStreams" [
        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 200 } "MessagePackValues: each value of the stream whole, in order, whatever the pieces it arrives in"
            (Prop.forAll (Arb.fromGen (Gen.zip values pieces)) (fun (sent, pieces) ->
                let encoded = sent |> List.map encode
                let received = readAll (new PieceStream(Array.concat encoded, pieces))
                Expect.equal received encoded "the same values"))

        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 100 } "MessagePackValues: a stream that ends inside a value says so, after the whole ones"
            (Prop.forAll (Arb.fromGen (Gen.zip values pieces)) (fun (sent, pieces) ->
                // Its last value of more than one byte, so that what is left of it is not nothing.
                let encoded = sent @ [ Text "values" ] |> List.map encode
                let cut = Array.concat encoded |> Array.truncate (List.sumBy Array.length encoded - 1)
                use reader = new MessagePackValues(new PieceStream(cut, pieces))
                for value in encoded |> List.take (encoded.Length - 1) do
                    Expect.equal (reader.NextAsync(CancellationToken.None).AsTask().Result.Value.ToArray()) value "a whole value"
                match failure (fun () -> reader.NextAsync(CancellationToken.None).AsTask().Result) with
                | Some(:? EndOfStreamException) -> ()
                | other -> failtestf "the cut value: %A" other))

        test "MessagePackValues: a byte no value begins with (0xc1) is not MessagePack" {
            use reader = new MessagePackValues(new PieceStream([| 0x91uy; 0xc1uy |], []))
            match failure (fun () -> reader.NextAsync(CancellationToken.None).AsTask().Result) with
            | Some(:? MessagePackSerializationException) -> ()
            | other -> failtestf "%A" other
        }

        test "MessagePackValues: an array and a map of more than 65,535 items (32-bit sizes)" {
            let sent = [ Items(List.replicate 70_000 (Scalar 0)); Entries(List.replicate 70_000 ("k", Scalar 2)) ] |> List.map encode
            Expect.equal (readAll (new PieceStream(Array.concat sent, [ 3; 5000 ]))) sent "the same values"
        }

        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 200 } "JsonLines: each line whole, in order, the last one without its newline too, but for an empty last one"
            (Prop.forAll (Arb.fromGen (Gen.zip (Gen.elements [ ""; "{}"; "{\"a\":1}"; String('z', 70_000) ] |> Gen.nonEmptyListOf) pieces))
                (fun (lines, pieces) ->
                    let text = String.Join("\n", lines)
                    use reader = new JsonLines(new PieceStream(Text.Encoding.UTF8.GetBytes text, pieces))
                    let received =
                        [ while reader.FillAsync(CancellationToken.None).AsTask().Result do
                              let mutable line = ReadOnlyMemory<byte>()
                              while reader.TryNext(&line) do
                                  Text.Encoding.UTF8.GetString line.Span ]
                    // An empty last line is no line: the stream ended with the newline before it.
                    let expected = if List.last lines = "" then List.take (lines.Length - 1) lines else lines
                    Expect.equal received expected "the same lines"))
    ]
