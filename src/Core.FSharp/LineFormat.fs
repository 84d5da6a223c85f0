/// Line protocol written back from what a query answers: how a migration copies points bit-exactly. Values keep the
/// text a JSON answer gave them (an integer past 2^53, a float's shortest form), or are written from a MessagePack
/// answer's typed values (a float as the shortest text that reads back to its bits), typed as the measurement's field
/// keys say; names are escaped as InfluxDB's own writer escapes them. Values are written as UTF-8 bytes straight into
/// the caller's buffer: a copy writes every point of a measurement through here.
namespace InfluxProxy.Core

open System
open System.Buffers.Text
open System.Globalization
open System.Text

/// A field's type, as SHOW FIELD KEYS names it.
type FieldType =
    | FloatField
    | IntegerField
    /// Only where the backend has them (InfluxDB 1.8 with unsigned integers enabled).
    | UnsignedField
    | StringField
    | BooleanField

module FieldType =
    let parse =
        function
        | "float" -> Some FloatField
        | "integer" -> Some IntegerField
        | "unsigned" -> Some UnsignedField
        | "string" -> Some StringField
        | "boolean" -> Some BooleanField
        | _ -> None

    /// A field stored with several types (one per shard) is written as the first of float, integer, unsigned,
    /// string, boolean it has, as the original did (it had no unsigned).
    let preferred (types: string seq) : FieldType option =
        let known = types |> Seq.choose parse |> Set.ofSeq
        [ FloatField; IntegerField; UnsignedField; StringField; BooleanField ] |> List.tryFind known.Contains

module LineFormat =
    let private escape (specials: string) (text: string) =
        let sb = StringBuilder(text.Length + 8)
        for c in text do
            if specials.IndexOf c >= 0 then sb.Append('\\') |> ignore
            sb.Append c |> ignore
        sb.ToString()

    /// The start every line of one series shares: the measurement and its tags, sorted by key, those with an
    /// empty value left out (InfluxDB stores no empty tag; a query answers "" for a tag a series lacks).
    let seriesKey (measurement: string) (tags: (string * string) seq) : string =
        let sb = StringBuilder(escape ", " measurement)
        for key, tagValue in tags |> Seq.filter (fun (_, v) -> v <> "") |> Seq.sortBy fst do
            sb.Append(',').Append(escape ", =" key).Append('=').Append(escape ", =" tagValue) |> ignore
        sb.ToString()

    /// `key=`, the key escaped.
    let fieldKey (key: string) : string = escape ", =" key + "="

    /// The most bytes a value of `length` bytes as the answer gave it takes in line protocol: every byte of a
    /// string escaped, and its quotes.
    let room (length: int) : int = 2 * length + 2

    let private isWhole (text: ReadOnlySpan<byte>) =
        text.IndexOfAny(byte '.', byte 'e', byte 'E') < 0

    /// A JSON number's text as a value of the field's type, into `into`; its length, or -1 when it does not fit the
    /// type (a fraction in an integer field, a number in a string field).
    let writeNumber (fieldType: FieldType) (text: ReadOnlySpan<byte>) (into: Span<byte>) : int =
        match fieldType with
        | FloatField ->
            text.CopyTo into
            text.Length
        | IntegerField
        | UnsignedField when isWhole text && not (fieldType = UnsignedField && text.Length > 0 && text[0] = byte '-') ->
            text.CopyTo into
            into[text.Length] <- if fieldType = IntegerField then byte 'i' else byte 'u'
            text.Length + 1
        | _ -> -1

    /// A string (UTF-8, unescaped) as a string field's value, quoted, `"` and `\` escaped; -1 for another type.
    let writeString (fieldType: FieldType) (text: ReadOnlySpan<byte>) (into: Span<byte>) : int =
        match fieldType with
        | StringField ->
            let mutable at = 0
            into[at] <- byte '"'
            at <- at + 1
            for i in 0 .. text.Length - 1 do
                let b = text[i]
                if b = byte '"' || b = byte '\\' then
                    into[at] <- byte '\\'
                    at <- at + 1
                into[at] <- b
                at <- at + 1
            into[at] <- byte '"'
            at + 1
        | _ -> -1

    /// A boolean field's value; -1 for another type.
    let writeBoolean (fieldType: FieldType) (value: bool) (into: Span<byte>) : int =
        match fieldType with
        | BooleanField ->
            let text = if value then "true"B else "false"B
            text.AsSpan().CopyTo into
            text.Length
        | _ -> -1

    /// A float as a float field's value: the shortest text that reads back to the same bits (`e` for an exponent, as
    /// InfluxDB writes it); -1 for another type.
    let writeFloat (fieldType: FieldType) (value: float) (into: Span<byte>) : int =
        match fieldType with
        | FloatField ->
            let mutable written = 0
            if not (value.TryFormat(into, &written, "R".AsSpan(), CultureInfo.InvariantCulture)) then -1
            else
                let exponent = into.Slice(0, written).IndexOf(byte 'E')
                if exponent >= 0 then into[exponent] <- byte 'e'
                written
        | _ -> -1

    /// An integer as the field's value: a float's digits, `i` after an integer's, `u` after an unsigned one's (when not
    /// negative); -1 for another type.
    let writeInteger (fieldType: FieldType) (value: int64) (into: Span<byte>) : int =
        let mutable written = 0
        match fieldType with
        | FloatField when Utf8Formatter.TryFormat(value, into, &written) -> written
        | IntegerField
        | UnsignedField when (fieldType = IntegerField || value >= 0L) && Utf8Formatter.TryFormat(value, into, &written) && written < into.Length ->
            into[written] <- if fieldType = IntegerField then byte 'i' else byte 'u'
            written + 1
        | _ -> -1

    /// An unsigned integer past 2^63 (InfluxDB 1.8's unsigned fields): a float's or an unsigned field's value; -1 for another type.
    let writeUnsigned (fieldType: FieldType) (value: uint64) (into: Span<byte>) : int =
        let mutable written = 0
        match fieldType with
        | FloatField when Utf8Formatter.TryFormat(value, into, &written) -> written
        | UnsignedField when Utf8Formatter.TryFormat(value, into, &written) && written < into.Length ->
            into[written] <- byte 'u'
            written + 1
        | _ -> -1

    /// The most bytes a float or an integer takes in line protocol, with its suffix.
    let numberRoom = 32
