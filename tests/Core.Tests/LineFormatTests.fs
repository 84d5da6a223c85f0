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

/// A field as a query answers it, with its type, and the value line protocol must carry.
let private answered: Gen<FieldType * AnsweredValue * FieldValue> =
    Gen.oneof [
        Arb.anyInt64 |> Gen.map (fun i -> IntegerField, Number(i.ToString CultureInfo.InvariantCulture), Integer i)
        finiteFloat |> Gen.map (fun f -> FloatField, Number(f.ToString("R", CultureInfo.InvariantCulture)), Float f)
        stringValue |> Gen.map (fun s -> StringField, Text s, FieldValue.String s)
        Gen.elements [ true; false ] |> Gen.map (fun b -> BooleanField, Flag b, Boolean b) ]

let private fields = Gen.nonEmptyListOf (Gen.zip name answered) |> Gen.map (List.distinctBy fst)

let private written (m: string) tags (fields: (string * (FieldType * AnsweredValue * FieldValue)) list) (ts: int64) =
    let values = [ for key, (fieldType, value, _) in fields -> key, (LineFormat.value fieldType value).Value ]
    LineFormat.line (LineFormat.seriesKey m tags) values (ts.ToString CultureInfo.InvariantCulture)

let private config = { FsCheckConfig.defaultConfig with maxTest = 500 }

let private laws =
    testList "laws" [
        testPropertyWithConfig config "a line written from an answer reads back as the same point, typed, empty tags left out"
            (Prop.forAll (Arb.fromGen (Gen.zip (Gen.zip measurement tags) (Gen.zip fields Arb.anyInt64))) (fun ((m, tags), (fields, ts)) ->
                let expected: Point =
                    { Measurement = m
                      Tags = tags |> List.filter (fun (_, v) -> v <> "") |> List.sortBy fst
                      Fields = [ for key, (_, _, value) in fields -> key, value ]
                      Timestamp = Some ts }
                let line = (written m tags fields ts).Value
                (LineGrammar.parseLine line = Ok expected) |> Prop.label line))
    ]

let private examples =
    testList "examples" [
        test "a value that does not fit the field's type has no line protocol" {
            Expect.isNone (LineFormat.value IntegerField (Number "1.5")) "a fraction is no integer"
            Expect.isNone (LineFormat.value IntegerField (Number "1e3")) "nor an exponent"
            Expect.isNone (LineFormat.value FloatField (Flag true)) "a boolean is no float"
            Expect.isNone (LineFormat.value StringField (Number "1")) "a number is no string"
            Expect.equal (LineFormat.value IntegerField (Number "9007199254740993")) (Some "9007199254740993i") "an integer past 2^53 as answered"
        }

        test "a field of several types is written as the first of float, integer, string, boolean" {
            Expect.equal (FieldType.preferred [ "integer"; "float" ]) (Some FloatField) "float first"
            Expect.equal (FieldType.preferred [ "boolean"; "string" ]) (Some StringField) "string before boolean"
            Expect.equal (FieldType.preferred [ "unsigned" ]) None "unsigned is none of them"
        }

        test "a line needs a field" {
            Expect.isNone (LineFormat.line "cpu,host=a" [] "1") "no field"
            Expect.equal (LineFormat.line "cpu,host=a" [ "v", "1i" ] "1") (Some "cpu,host=a v=1i 1") "one field"
        }
    ]

let tests = testList "LineFormat" [ examples; laws ]
