module InfluxProxy.Core.Tests.LineFormatTests

open System
open System.Globalization
open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

/// Names as a query answers them: separators, quotes, non-ASCII. A backslash comes only before a character line
/// protocol never escapes: before `,`, space, `=` or `\`, or at the end, InfluxDB itself reads it as an escape.
let private name: Gen<string> =
    let piece =
        Gen.frequency [
            8, Gen.elements [ "a"; "Z"; "0"; "_"; "-"; "."; " "; ","; "="; "\""; "'"; "#"; "é"; "温"; "😀" ]
            1, Gen.elements [ "\\a"; "\\n"; "\\温" ] ]
    Gen.nonEmptyListOf piece |> Gen.map (String.concat "")

/// A line starting with `#` is a comment.
let private measurement = name |> Gen.filter (fun n -> not (n.StartsWith "#"))

/// Tags with distinct keys; an empty value is a tag the series lacks.
let private tags = Gen.listOf (Gen.zip name (Gen.frequency [ 1, Gen.constant ""; 3, name ])) |> Gen.map (List.distinctBy fst)

let private finiteFloat: Gen<float> =
    Gen.oneof [
        Arb.anyInt64 |> Gen.map BitConverter.Int64BitsToDouble |> Gen.filter Double.IsFinite
        Gen.choose (-1000, 1000) |> Gen.map float
        Gen.elements [ 0.1; -0.0; 1e21; 5e-324; Double.MaxValue; Double.MinValue; 9007199254740994.0 ] ]

/// The reference grammar (FParsec) reads `\r\n` and `\r` as `\n`; InfluxDB keeps them.
let private stringValue = Arb.text |> Gen.map (fun s -> s.Replace("\r", ""))

/// Writes a value with one of the core's writers into a buffer; its text, or None when it does not fit.
let private writeWith (write: byte[] -> int) =
    let buffer = Array.zeroCreate 4096
    match write buffer with
    | -1 -> None
    | length -> Some(Text.Encoding.UTF8.GetString(buffer, 0, length))

let private number fieldType (text: string) =
    writeWith (fun b -> LineFormat.writeNumber fieldType (ReadOnlySpan(Text.Encoding.UTF8.GetBytes text)) (Span b))

let private stringOf fieldType (text: string) =
    writeWith (fun b -> LineFormat.writeString fieldType (ReadOnlySpan(Text.Encoding.UTF8.GetBytes text)) (Span b))

let private boolean fieldType value = writeWith (fun b -> LineFormat.writeBoolean fieldType value (Span b))

let private float fieldType value = writeWith (fun b -> LineFormat.writeFloat fieldType value (Span b))

let private integer fieldType value = writeWith (fun b -> LineFormat.writeInteger fieldType value (Span b))

let private unsigned fieldType value = writeWith (fun b -> LineFormat.writeUnsigned fieldType value (Span b))

/// A field as a query answers it (its type, the value's line protocol as the core writes it) and the value line
/// protocol must carry.
let private answered: Gen<string * FieldValue> =
    Gen.oneof [
        Arb.anyInt64 |> Gen.map (fun i -> (number IntegerField (i.ToString CultureInfo.InvariantCulture)).Value, Integer i)
        finiteFloat |> Gen.map (fun f -> (number FloatField (f.ToString("R", CultureInfo.InvariantCulture))).Value, Float f)
        // From a MessagePack answer's typed values.
        Arb.anyInt64 |> Gen.map (fun i -> (integer IntegerField i).Value, Integer i)
        finiteFloat |> Gen.map (fun f -> (float FloatField f).Value, Float f)
        stringValue |> Gen.map (fun s -> (stringOf StringField s).Value, FieldValue.String s)
        Gen.elements [ true; false ] |> Gen.map (fun b -> (boolean BooleanField b).Value, Boolean b) ]

let private fields = Gen.nonEmptyListOf (Gen.zip name answered) |> Gen.map (List.distinctBy fst)

let private written (m: string) tags (fields: (string * (string * FieldValue)) list) (ts: int64) =
    let fieldSet = [ for key, (text, _) in fields -> LineFormat.fieldKey key + text ] |> String.concat ","
    $"{LineFormat.seriesKey m tags} {fieldSet} {ts}"

let private config = { FsCheckConfig.defaultConfig with maxTest = 500 }

let private laws =
    testList "laws" [
        testPropertyWithConfig config "a line written from an answer's values reads back as the same point, typed, empty tags left out"
            (Prop.forAll (Arb.fromGen (Gen.zip (Gen.zip measurement tags) (Gen.zip fields Arb.anyInt64))) (fun ((m, tags), (fields, ts)) ->
                let expected: Point =
                    { Measurement = m
                      Tags = tags |> List.filter (fun (_, v) -> v <> "") |> List.sortBy fst
                      Fields = [ for key, (_, value) in fields -> key, value ]
                      Timestamp = Some ts }
                let line = written m tags fields ts
                (LineGrammar.parseLine line = Ok expected) |> Prop.label line))

        testProperty "a float from a MessagePack answer reads back to the same bits, in the room reserved for numbers"
            (Prop.forAll (Arb.fromGen finiteFloat) (fun f ->
                let text = (float FloatField f).Value
                BitConverter.DoubleToInt64Bits(Double.Parse(text, CultureInfo.InvariantCulture)) = BitConverter.DoubleToInt64Bits f
                && text.Length <= LineFormat.numberRoom && not (text.Contains 'E')))

        testProperty "a string takes at most the room the core reserves for it" (Prop.forAll (Arb.fromGen stringValue) (fun s ->
            (stringOf StringField s).Value |> Text.Encoding.UTF8.GetByteCount <= LineFormat.room (Text.Encoding.UTF8.GetByteCount s)))
    ]

let private examples =
    testList "examples" [
        test "a value that does not fit the field's type has no line protocol" {
            Expect.isNone (number IntegerField "1.5") "a fraction is no integer"
            Expect.isNone (number IntegerField "1e3") "nor an exponent"
            Expect.isNone (number UnsignedField "-1") "nor a negative number unsigned"
            Expect.isNone (boolean FloatField true) "a boolean is no float"
            Expect.isNone (number StringField "1") "a number is no string"
            Expect.isNone (stringOf BooleanField "true") "a string is no boolean"
        }

        test "numbers keep the text the answer gave them" {
            Expect.equal (number IntegerField "9007199254740993") (Some "9007199254740993i") "an integer past 2^53"
            Expect.equal (number UnsignedField "18446744073709551615") (Some "18446744073709551615u") "an unsigned"
            Expect.equal (number FloatField "3") (Some "3") "a whole float stays a float"
            Expect.equal (number FloatField "1e+21") (Some "1e+21") "an exponent"
            Expect.equal (stringOf StringField "a\"b\\c\nd") (Some "\"a\\\"b\\\\c\nd\"") "quote and backslash escaped, newline kept"
        }

        test "a field of several types is written as the first of float, integer, unsigned, string, boolean" {
            Expect.equal (FieldType.preferred [ "integer"; "float" ]) (Some FloatField) "float first"
            Expect.equal (FieldType.preferred [ "boolean"; "string" ]) (Some StringField) "string before boolean"
            Expect.equal (FieldType.preferred [ "string"; "unsigned" ]) (Some UnsignedField) "unsigned before string"
            Expect.equal (FieldType.preferred [ "map" ]) None "none known"
        }

        test "keys are escaped as InfluxDB's writer escapes them" {
            Expect.equal (LineFormat.seriesKey "c pu,x" [ "b", "2"; "a k", "1=x"; "empty", "" ]) "c\\ pu\\,x,a\\ k=1\\=x,b=2" "measurement and tags"
            Expect.equal (LineFormat.fieldKey "f,1 =") "f\\,1\\ \\==" "field key"
        }

        test "typed values from a MessagePack answer: each as its field's type wants it, or left out" {
            Expect.equal (float FloatField 1e21) (Some "1e+21") "an exponent in lower case, as InfluxDB writes it"
            Expect.equal (float IntegerField 2.0) None "a float in an integer field"
            Expect.equal (integer FloatField 3L) (Some "3") "an integer in a float field (a field of several types)"
            Expect.equal (integer IntegerField Int64.MinValue) (Some "-9223372036854775808i") "the smallest integer"
            Expect.equal (integer UnsignedField 5L) (Some "5u") "a small unsigned value arrives as an integer"
            Expect.equal (integer UnsignedField -1L) None "no negative unsigned value"
            Expect.equal (integer StringField 1L) None "a number in a string field"
            Expect.equal (unsigned UnsignedField UInt64.MaxValue) (Some "18446744073709551615u") "past 2^63"
            Expect.equal (unsigned IntegerField UInt64.MaxValue) None "past what an integer holds"
        }
    ]

let tests = testList "LineFormat" [ examples; laws ]
