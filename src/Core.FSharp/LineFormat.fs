/// Line protocol written back from what a query answers: how a migration copies points bit-exactly. Values keep the
/// text the answer gave them (an integer past 2^53, a float's shortest form), typed as the measurement's field keys
/// say; names are escaped as InfluxDB's own writer escapes them.
namespace InfluxProxy.Core

open System.Text

/// A field's type, as SHOW FIELD KEYS names it.
type FieldType =
    | FloatField
    | IntegerField
    | StringField
    | BooleanField

/// One field value as a query answered it: the JSON number's text, a string, or a boolean.
type AnsweredValue =
    | Number of text: string
    | Text of string
    | Flag of bool

module FieldType =
    let parse =
        function
        | "float" -> Some FloatField
        | "integer" -> Some IntegerField
        | "string" -> Some StringField
        | "boolean" -> Some BooleanField
        | _ -> None

    /// A field stored with several types (one per shard) is written as the first of float, integer, string,
    /// boolean it has, as the original did; None when it has none of them (an unsigned field).
    let preferred (types: string seq) : FieldType option =
        let known = types |> Seq.choose parse |> Set.ofSeq
        [ FloatField; IntegerField; StringField; BooleanField ] |> List.tryFind known.Contains

module LineFormat =
    let private escapeInto (sb: StringBuilder) (specials: string) (text: string) =
        for c in text do
            if specials.IndexOf c >= 0 then sb.Append('\\') |> ignore
            sb.Append c |> ignore

    /// A field value in line protocol, or None when the answered value does not fit the field's type.
    let value (fieldType: FieldType) (answered: AnsweredValue) : string option =
        match fieldType, answered with
        | FloatField, Number text -> Some text
        | IntegerField, Number text when not (text.Contains '.' || text.Contains 'e' || text.Contains 'E') -> Some(text + "i")
        | StringField, Text s -> Some("\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"")
        | BooleanField, Flag b -> Some(if b then "true" else "false")
        | _ -> None

    /// The start every line of one series shares: the measurement and its tags, sorted by key, those with an
    /// empty value left out (InfluxDB stores no empty tag; a query answers "" for a tag a series lacks).
    let seriesKey (measurement: string) (tags: (string * string) seq) : string =
        let sb = StringBuilder()
        escapeInto sb ", " measurement
        for key, tagValue in tags |> Seq.filter (fun (_, v) -> v <> "") |> Seq.sortBy fst do
            sb.Append ',' |> ignore
            escapeInto sb ", =" key
            sb.Append '=' |> ignore
            escapeInto sb ", =" tagValue
        sb.ToString()

    /// One line: the series key, the fields given as (key, value in line protocol), and the timestamp in ns. None
    /// when no field has a value.
    let line (seriesKey: string) (fields: (string * string) seq) (timestampNs: string) : string option =
        let sb = StringBuilder(seriesKey)
        let mutable first = true
        for key, fieldValue in fields do
            sb.Append(if first then ' ' else ',') |> ignore
            first <- false
            escapeInto sb ", =" key
            sb.Append('=').Append(fieldValue: string) |> ignore
        if first then None else Some(sb.Append(' ').Append(timestampNs: string).ToString())
