/// A copy's answer turned into line protocol (the host's AnswerLines), without a server: chunks of JSON or MessagePack
/// as InfluxDB writes them in, lines the reference grammar reads back as the same points out.
module InfluxProxy.Testing.AnswerLinesTests

open System
open System.Globalization
open System.IO
open System.Text
open System.Text.Json
open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core
open InfluxProxy.Host.Migration
open MessagePack

/// Names with what line protocol escapes, and what JSON escapes.
let private name =
    Gen.elements [ "a"; "b c"; "d,e"; "f=g"; "q\"x"; "é"; "温"; "t\tx"; "u\u0001"; "k" ] |> Gen.nonEmptyListOf |> Gen.map (String.concat "")

/// JSON escapes, line protocol escapes, a newline (the reference grammar reads \r as \n, so none).
let private text =
    Gen.elements [ ""; "a"; "\""; "\\"; "\n"; "x,y=z"; "\u0000"; "é"; "😀"; "</script>" ] |> Gen.listOf |> Gen.map (String.concat "")

let private fieldTypes = Gen.elements [ FloatField; IntegerField; StringField; BooleanField ]

let private valueOf (fieldType: FieldType) : Gen<FieldValue option> =
    let value =
        match fieldType with
        | FloatField -> Gen.oneof [ Gen.choose (-1000, 1000) |> Gen.map float; Gen.elements [ 0.1; 1e21; -2.5e-300; 9007199254740994.0 ] ] |> Gen.map Float
        | IntegerField -> Gen.oneof [ Gen.choose64 (Int64.MinValue, Int64.MaxValue); Gen.elements [ (1L <<< 53) + 1L; 1_234_567L; -1L ] ] |> Gen.map Integer
        | StringField -> text |> Gen.map FieldValue.String
        | _ -> Gen.elements [ true; false ] |> Gen.map Boolean
    Gen.frequency [ 1, Gen.constant None; 4, value |> Gen.map Some ]

type private Series = { Tags: (string * string) list; Rows: (int64 * FieldValue option list) list }

let private scenario =
    gen {
        let! fields = Gen.nonEmptyListOf (Gen.zip name fieldTypes) |> Gen.map (List.distinctBy fst)
        let! series =
            Gen.listOf (
                gen {
                    let! tags = Gen.listOf (Gen.zip name (Gen.frequency [ 1, Gen.constant ""; 3, name ])) |> Gen.map (List.distinctBy fst)
                    let! rows = Gen.listOf (Gen.zip (Gen.choose64 (-1L <<< 62, 1L <<< 62)) (fields |> List.map (snd >> valueOf) |> Gen.sequenceToList))
                    return { Tags = tags; Rows = rows }
                })
        let! batch = Gen.choose (1, 5)
        return fields, series, batch
    }

/// One chunk as InfluxDB writes it: numbers as their text, strings JSON-escaped.
let private chunk (measurement: string) (fields: (string * FieldType) list) (series: Series list) =
    use stream = new MemoryStream()
    (use json = new Utf8JsonWriter(stream)
     json.WriteStartObject()
     json.WriteStartArray "results"
     json.WriteStartObject()
     json.WriteNumber("statement_id", 0)
     json.WriteStartArray "series"
     for s in series do
         json.WriteStartObject()
         json.WriteString("name", measurement)
         json.WriteStartObject "tags"
         for k, v in s.Tags do json.WriteString(k, v)
         json.WriteEndObject()
         json.WriteStartArray "columns"
         json.WriteStringValue "time"
         for f, _ in fields do json.WriteStringValue f
         json.WriteEndArray()
         json.WriteStartArray "values"
         for time, values in s.Rows do
             json.WriteStartArray()
             json.WriteNumberValue time
             for value in values do
                 match value with
                 | None -> json.WriteNullValue()
                 | Some(Float f) -> json.WriteRawValue(f.ToString("R", CultureInfo.InvariantCulture))
                 | Some(Integer i) -> json.WriteRawValue(i.ToString CultureInfo.InvariantCulture)
                 | Some(FieldValue.String t) -> json.WriteStringValue t
                 | Some(Boolean b) -> json.WriteBooleanValue b
             json.WriteEndArray()
         json.WriteEndArray()
         json.WriteEndObject()
     json.WriteEndArray()
     json.WriteBoolean("partial", true)
     json.WriteEndObject()
     json.WriteEndArray()
     json.WriteEndObject())
    stream.ToArray()

/// The same chunk in MessagePack, as InfluxDB 1.4+ writes it: a float as float64, an integer in its shortest form.
let private messagePackChunk (measurement: string) (fields: (string * FieldType) list) (series: Series list) =
    let buffer = Buffers.ArrayBufferWriter<byte>()
    let mutable w = MessagePackWriter(buffer)
    w.WriteMapHeader 1
    w.Write "results"
    w.WriteArrayHeader 1
    w.WriteMapHeader 3
    w.Write "statement_id"
    w.Write 0
    w.Write "series"
    w.WriteArrayHeader series.Length
    for s in series do
        w.WriteMapHeader 5
        w.Write "name"
        w.Write measurement
        w.Write "tags"
        w.WriteMapHeader s.Tags.Length
        for k, v in s.Tags do
            w.Write k
            w.Write v
        w.Write "columns"
        w.WriteArrayHeader(fields.Length + 1)
        w.Write "time"
        for f, _ in fields do w.Write f
        w.Write "values"
        w.WriteArrayHeader s.Rows.Length
        for time, values in s.Rows do
            w.WriteArrayHeader(values.Length + 1)
            w.Write time
            for value in values do
                match value with
                | None -> w.WriteNil()
                | Some(Float f) -> w.Write f
                | Some(Integer i) -> w.Write i
                | Some(FieldValue.String t) -> w.Write t
                | Some(Boolean b) -> w.Write b
        w.Write "partial"
        w.Write true
    w.Write "partial"
    w.Write true
    w.Flush()
    Buffers.ReadOnlySequence(buffer.WrittenMemory)

/// One row at time 7: the integer 3 in f, 2^64 - 1 in u and in i.
let private unsignedChunk () =
    let buffer = Buffers.ArrayBufferWriter<byte>()
    let mutable w = MessagePackWriter(buffer)
    w.WriteMapHeader 1
    w.Write "results"
    w.WriteArrayHeader 1
    w.WriteMapHeader 1
    w.Write "series"
    w.WriteArrayHeader 1
    w.WriteMapHeader 2
    w.Write "columns"
    w.WriteArrayHeader 4
    for c in [ "time"; "f"; "u"; "i" ] do w.Write c
    w.Write "values"
    w.WriteArrayHeader 1
    w.WriteArrayHeader 4
    w.Write 7L
    w.Write 3L
    w.Write UInt64.MaxValue
    w.Write UInt64.MaxValue
    w.Flush()
    Buffers.ReadOnlySequence(buffer.WrittenMemory)

/// The lines of the chunks, as the proxy's scanner cuts them (a string field may hold a newline).
let private linesOf (chunks: InfluxProxy.Host.Write.LineChunk list) =
    [ for c in chunks do
        let body = c.InMemoryPart.Lines.ToArray()
        let mutable offset = 0
        while offset < body.Length do
            let line = LineScanner.Scan(ReadOnlySpan body, offset, Nanosecond)
            if line.Kind <> LineKind.Blank then yield Encoding.UTF8.GetString(body, line.Start, line.End - line.Start)
            offset <- line.Next
        c.Discard() ]

let tests =
    testList "AnswerLines" [
        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 300 } "every row of every chunk, JSON or MessagePack, becomes one line that reads back as the same point"
            (Prop.forAll (Arb.fromGen (Gen.zip scenario (Gen.elements [ "json"; "msgpack" ]))) (fun ((fields, series, batch), format) ->
                let measurement = "m e,s"
                let types = dict [ for f, t in fields -> f, t ]
                let lines = AnswerLines("db", "rp", measurement, Collections.Generic.Dictionary types, batch, 1)
                let mutable taken = []
                // One chunk per series, as a chunked answer cut between series.
                for s in series do
                    if format = "json" then lines.Read(ReadOnlySpan(chunk measurement fields [ s ]))
                    else lines.Read(messagePackChunk measurement fields [ s ])
                    taken <- taken @ List.ofSeq (lines.TakeFull())
                let rest = lines.TakeRest() |> Option.ofObj |> Option.toList
                let expected =
                    [ for s in series do
                        for time, values in s.Rows do
                            let present = List.zip fields values |> List.choose (fun ((f, _), v) -> v |> Option.map (fun v -> f, v))
                            if not present.IsEmpty then
                                { Measurement = measurement
                                  Tags = s.Tags |> List.filter (fun (_, v) -> v <> "") |> List.sortBy fst
                                  Fields = present
                                  Timestamp = Some time } ]
                let actual = linesOf (taken @ rest) |> List.map LineGrammar.parseLine
                Expect.equal actual (expected |> List.map Ok) "the same points"
                Expect.equal lines.Points (int64 expected.Length) "counted"
                Expect.isTrue (taken |> List.forall (fun c -> c.Lines = batch)) "full chunks hold batch lines"))

        test "a value of a type its field's keys do not list is left out and counted; an error chunk fails the step" {
            let lines = AnswerLines("db", "rp", "m", Collections.Generic.Dictionary(dict [ "v", IntegerField ]), 10, 1)
            lines.Read(ReadOnlySpan(Encoding.UTF8.GetBytes """{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","v","w"],"values":[[1,1.5,2],[2,3,null]]}]}]}"""))
            Expect.equal (lines.Unfit, lines.Points) (2L, 1L) "1.5 in an integer field and the unknown w left out; the row with 3 written"
            Expect.equal (linesOf [ lines.TakeRest() ]) [ "m v=3i 2" ] "the line"
            Expect.throwsT<StepFailure> (fun () -> lines.Read(ReadOnlySpan(Encoding.UTF8.GetBytes """{"results":[{"statement_id":0,"error":"shard is closed"}]}"""))) "an error"
        }
    
        test "MessagePack: an integer in a float field is written as a float, an unsigned past 2^63 only into an unsigned field" {
            let types = Collections.Generic.Dictionary(dict [ "f", FloatField; "u", UnsignedField; "i", IntegerField ])
            let lines = AnswerLines("db", "rp", "m", types, 10, 1)
            lines.Read(unsignedChunk ())
            Expect.equal (linesOf [ lines.TakeRest() ]) [ "m f=3,u=18446744073709551615u 7" ] "the integer too large for i left out"
            Expect.equal lines.Unfit 1L "and counted"
        }
    ]
