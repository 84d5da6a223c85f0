/// The fields of InfluxDB's CSV answers as its `csvFormatter` writes them through Go's encoding/csv (services/httpd
/// response_writer.go in InfluxDB 1.6; checked against influxd 1.6.7).
module InfluxProxy.Core.CsvField

open System
open System.Globalization
open System.Text.Json
open System.Text.Json.Nodes

/// A field as Go's csv writer writes it: in quotes, its quotes doubled, when it is `\.`, holds a comma, a quote, `\r`
/// or `\n`, or begins with white space (Unicode's, which Go and .NET agree on); as it is otherwise.
let quote (text: string) : string =
    let needsQuotes =
        text = @"\." || text.IndexOfAny [| ','; '"'; '\r'; '\n' |] >= 0 || (text.Length > 0 && Char.IsWhiteSpace text[0])
    if needsQuotes then "\"" + text.Replace("\"", "\"\"") + "\"" else text

/// A JSON number as InfluxDB's CSV writes a float (`strconv.FormatFloat(v, 'f', -1, 64)`): its digits without an
/// exponent. Go's JSON gives floats under 1e-6 or from 1e21 on in exponent form (`1e+21`, `1.5e-7`) with the same
/// shortest digits, so moving the point is exact; any other number is its text.
let number (json: string) : string =
    match json.IndexOfAny [| 'e'; 'E' |] with
    | -1 -> json
    | e ->
        match Int32.TryParse(json.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) with
        | false, _ -> json
        | true, exponent ->
            let sign, mantissa = if json.StartsWith '-' then "-", json[1 .. e - 1] else "", json[.. e - 1]
            let digits = mantissa.Replace(".", "")
            // Where the point falls among the digits once the exponent has moved it.
            let point = (match mantissa.IndexOf '.' with -1 -> mantissa.Length | p -> p) + exponent
            let fixedText =
                if point <= 0 then "0." + String('0', -point) + digits
                elif point >= digits.Length then digits + String('0', point - digits.Length)
                else digits[.. point - 1] + "." + digits[point..]
            sign + fixedText

/// A row's value: a string as it is, a number as `number` writes it, `true`/`false`, nothing for null.
let value (node: JsonNode) : string =
    match node with
    | null -> ""
    | :? JsonValue as v when v.GetValueKind() = JsonValueKind.String -> v.GetValue<string>()
    | :? JsonValue as v when v.GetValueKind() = JsonValueKind.Number -> number (v.ToJsonString())
    | other -> other.ToJsonString()

/// InfluxDB escapes `,`, space and `=` in tag keys and values with a backslash, as in a series key.
let private escapeTag (text: string) = text.Replace(",", @"\,").Replace(" ", @"\ ").Replace("=", @"\=")

/// A series' `tags` column: its series key without the measurement, `key=value` joined by commas in the order of the
/// series' tags (InfluxDB's are sorted by key), escaped, those with an empty value left out (GROUP BY * gives a series
/// every key of the measurements it reads, empty where the series has none).
let tags (series: JsonObject) : string =
    match series["tags"] with
    | :? JsonObject as tags ->
        [ for tag in tags do
            match value tag.Value with
            | "" -> ()
            | text -> escapeTag tag.Key + "=" + escapeTag text ]
        |> String.concat ","
    | _ -> ""
