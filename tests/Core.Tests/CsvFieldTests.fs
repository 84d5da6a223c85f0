module InfluxProxy.Core.Tests.CsvFieldTests

open System
open System.Globalization
open System.Text.Json.Nodes
open System.Text.RegularExpressions
open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

let private series (json: string) = JsonNode.Parse json :?> JsonObject

/// Floats Go's JSON writes in exponent form (under 1e-6 or from 1e21 on), either sign, with that JSON text: its
/// shortest digits (.NET's "R", which also uses an exponent there), `e`, the exponent without leading zeros.
let private exponentFloats =
    gen {
        let! digits = Gen.choose (1, 99_999_999)
        let! exponent = Gen.elements ([ -300 .. -14 ] @ [ 21 .. 300 ])
        let! sign = Gen.elements [ 1.0; -1.0 ]
        let v = sign * float digits * 10.0 ** float exponent
        let json = Regex.Replace(v.ToString("R", CultureInfo.InvariantCulture), "E([+-])0*", "e$1")
        return v, json
    }
    |> Arb.fromGen

/// The significant digits of a number's text: no sign, point, exponent, or zeros before or after them.
let private significant (text: string) =
    let mantissa = text.Split([| 'e'; 'E' |])[0]
    mantissa.TrimStart('-').Replace(".", "").Trim('0')

let tests =
    testList "CsvField" [
        testList "quote" [
            test "a plain field is as it is" {
                for text in [ ""; "m1"; "a b"; "tab\tinside"; @"a\b"; "é" ] do
                    Expect.equal (CsvField.quote text) text text
            }

            test "a comma, quote, CR or LF anywhere, white space first, or exactly \\. is quoted, quotes doubled" {
                // As influxd 1.6.7 writes these values (Go's encoding/csv).
                Expect.equal (CsvField.quote "he said \"hi\", ok") "\"he said \"\"hi\"\", ok\"" "comma and quotes"
                Expect.equal (CsvField.quote "line\nbreak") "\"line\nbreak\"" "LF kept inside the quotes"
                Expect.equal (CsvField.quote "cr\rx") "\"cr\rx\"" "CR kept inside the quotes"
                Expect.equal (CsvField.quote " lead") "\" lead\"" "a leading space"
                Expect.equal (CsvField.quote "\tlead") "\"\tlead\"" "a leading tab"
                Expect.equal (CsvField.quote "\u00a0nbsp") "\"\u00a0nbsp\"" "a leading no-break space (Unicode white space)"
                Expect.equal (CsvField.quote @"\.") "\"\\.\"" @"\. alone"
                Expect.equal (CsvField.quote @"\\.") @"\\." @"only \. exactly"
            }
        ]

        testList "number" [
            test "Go's JSON exponent forms lose their exponent, as InfluxDB's CSV writes floats" {
                // As influxd 1.6.7 writes the floats its JSON gives as 1e-7, 1.2345678901234569e+23, 1e+21.
                Expect.equal (CsvField.number "1e-7") "0.0000001" "small"
                Expect.equal (CsvField.number "1.2345678901234569e+23") "123456789012345690000000" "large"
                Expect.equal (CsvField.number "1e+21") "1000000000000000000000" "1e21"
                Expect.equal (CsvField.number "-2.5e-8") "-0.000000025" "negative"
            }

            test "a number without exponent is its text" {
                for text in [ "0"; "-0.0000012"; "1600000001000000000"; "2"; "-1.5" ] do
                    Expect.equal (CsvField.number text) text text
            }

            testProperty "a float in Go's JSON exponent form is written without exponent, the same float with the same digits" <|
                Prop.forAll exponentFloats (fun (v, json) ->
                    let text = CsvField.number json
                    not (text.Contains 'e') && Double.Parse(text, CultureInfo.InvariantCulture) = v && significant text = significant json)
        ]

        testList "tags" [
            test "key=value joined by commas, commas, spaces and = escaped, empty values left out" {
                // As influxd 1.6.7 writes `SELECT * FROM m3,m5,m6 GROUP BY *`.
                let tags json = CsvField.tags (series (sprintf """{"name":"m","tags":%s}""" json))
                Expect.equal (tags """{"\"q\"":"","dc":"x","host":"a,b c=d","k=y":""}""") @"dc=x,host=a\,b\ c\=d" "escaped, empty left out"
                Expect.equal (tags """{"k=y":"\\.","z":"tab\tx"}""") "k\\=y=\\.,z=tab\tx" "backslash and tab as they are"
                Expect.equal (tags """{"a":"","b":""}""") "" "all empty"
            }

            test "a series without tags has none" {
                Expect.equal (CsvField.tags (series """{"name":"m","columns":["time"]}""")) "" "no tags"
            }
        ]
    ]
