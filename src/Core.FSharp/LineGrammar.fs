/// The reference grammar of InfluxDB 1.x line protocol in FParsec: the specification the hand-written `LineScanner`
/// is checked against.
namespace InfluxProxy.Core

open System

/// A field value as line protocol writes it.
type FieldValue =
    | Float of float
    | Integer of int64
    | String of string
    | Boolean of bool

/// One point, as the reference parser reads it. Names are unescaped as InfluxDB stores them.
type Point =
    { Measurement: string
      Tags: (string * string) list
      Fields: (string * FieldValue) list
      /// As written, before any precision is applied.
      Timestamp: int64 option }

/// Why the reference refuses a line.
type GrammarError =
    /// Where FParsec stopped.
    | NotInGrammar of message: string
    /// The grammar reads the line, its second reading of the field set does not.
    | ReadOtherwise of LineError

/// The reference grammar of one line, in FParsec, production by production after the line protocol reference
/// (https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/). It is the specification the
/// hand-written `LineScanner` is checked against: every line this parser accepts, the scanner accepts with the
/// same measurement and timestamp (a property in the tests).
module LineGrammar =
    open FParsec

    type private P<'a> = Parser<'a, unit>

    // ---------------------------------------------------------------- lexical syntax

    /// In measurements and tags InfluxDB checks "is the previous byte a backslash", so a run of backslashes and the
    /// byte after it are one literal unit.
    let private escapedUnit (stops: string) : P<string> =
        attempt (many1Chars (pchar '\\') .>>. anyChar |>> fun (run, c) -> run + string c)
        <|> (noneOf (stops + "\\") |>> string)

    /// In field keys and string values a backslash escapes exactly the next byte.
    let private escapePair: P<string> = attempt (pchar '\\' >>. anyChar |>> fun c -> "\\" + string c)

    let private unescape (escapes: string) (raw: string) =
        escapes |> Seq.fold (fun (text: string) c -> text.Replace("\\" + string c, string c)) raw

    let private blanks: P<unit> = skipManySatisfy (fun c -> c = ' ' || c = '\t' || c = '\000')

    let private fieldEnd: P<unit> = notFollowedBy (noneOf ", ")

    // ---------------------------------------------------------------- hierarchical syntax

    /// measurement: any text but an unescaped comma or space, not starting with a comma.
    let private measurement: P<string> =
        notFollowedBy (pchar ',') >>. many1Strings (escapedUnit ", ") |>> unescape ", "

    /// tag_set: `,key=value` pairs; a value may start with `=` but contain no other unescaped one.
    /// Keys and values as written (escaped): InfluxDB compares keys before unescaping them.
    let private rawTag: P<string * string> =
        let key = notFollowedBy (anyOf " ,=") >>. many1Strings (escapedUnit " ,=")
        let value = pipe2 (escapedUnit ", ") (manyStrings (escapedUnit ", =")) (+)
        pchar ',' >>. key .>> pchar '=' .>>. (value .>> notFollowedBy (pchar '='))

    /// A key may appear once: `duplicate tags` otherwise.
    let private tags: P<(string * string) list> =
        many rawTag
        >>= fun raw ->
            if (raw |> List.map fst |> List.distinct |> List.length) < raw.Length then fail "duplicate tags"
            else preturn [ for k, v in raw -> unescape ", =" k, unescape ", =" v ]

    let private digits: P<string> = many1Satisfy isDigit

    /// float | integer "i", with InfluxDB's range checks. An unsigned "u" integer is not a value for InfluxDB 1.x
    /// (its uint64 support is off: "invalid number").
    let private number: P<FieldValue> =
        let sign = opt (pchar '-') |>> function Some _ -> "-" | None -> ""
        let integer =
            attempt (pipe2 sign digits (+) .>> pchar 'i' .>> fieldEnd)
            >>= fun text -> match Int64.TryParse text with | true, v -> preturn (Integer v) | _ -> fail "integer out of range"
        let mantissa = (pipe2 digits (opt (pchar '.' >>. manySatisfy isDigit)) (fun i f -> i + (f |> Option.map ((+) ".") |> Option.defaultValue "")))
                       <|> (pchar '.' >>. digits |>> (+) ".")
        let exponent = opt (anyOf "eE" >>. pipe2 (opt (anyOf "+-")) digits (fun s d -> "e" + (s |> Option.map string |> Option.defaultValue "") + d))
        let float =
            attempt (pipe3 sign mantissa exponent (fun s m e -> s + m + Option.defaultValue "" e) .>> fieldEnd)
            >>= fun text ->
                match Double.TryParse(text, Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture) with
                | true, v when not (Double.IsInfinity v) -> preturn (Float v)
                | _ -> fail "invalid float"
        integer <|> float

    let private boolean: P<FieldValue> =
        choice [ for w in [ "true"; "True"; "TRUE"; "t"; "T" ] -> attempt (pstring w .>> fieldEnd) >>% Boolean true
                 for w in [ "false"; "False"; "FALSE"; "f"; "F" ] -> attempt (pstring w .>> fieldEnd) >>% Boolean false ]

    /// string: double-quoted; `\"` and `\\` are escapes, a raw newline is allowed.
    let private stringValue: P<FieldValue> =
        between (pchar '"') (pchar '"') (manyStrings (escapePair <|> (noneOf "\"\\" |>> string))) .>> fieldEnd
        |>> (unescape "\"\\" >> String)

    /// field_set: `key=value` pairs separated by commas.
    let private field: P<string * FieldValue> =
        let key = many1Strings (escapePair <|> (noneOf " ,=\\" |>> string)) |>> unescape ", =\\"
        key .>> pchar '=' .>>. (stringValue <|> number <|> boolean)

    let private timestamp: P<int64> =
        pipe2 (opt (pchar '-')) digits (fun s d -> (if s.IsSome then "-" else "") + d)
        >>= fun text -> match Int64.TryParse text with | true, v -> preturn v | _ -> fail "bad timestamp"

    /// field_set, with the text it was read from.
    let private fieldSet: P<string * (string * FieldValue) list> =
        withSkippedString (fun text fields -> text, fields) (sepBy1 field (pchar ','))

    /// line: leading blanks, measurement tag_set? " " field_set ( whitespace timestamp )? trailing spaces
    let private line: P<Point * string> =
        blanks >>. notFollowedByL (pchar '#') "a comment, not a point" >>. pipe4 measurement tags (pchar ' ' >>. blanks >>. fieldSet)
            ((attempt (many1Satisfy (fun c -> c = ' ' || c = '\t' || c = '\000') >>. timestamp |>> Some) .>> skipManySatisfy ((=) ' '))
             <|> (blanks >>% None))
            (fun m tags (text, fields) ts -> { Measurement = m; Tags = tags; Fields = fields; Timestamp = ts }, text)
        .>> eof

    let private wholeValue: P<FieldValue> = (stringValue <|> number <|> boolean) .>> eof

    /// InfluxDB's second reading of a field set (models/points.go walkFields, and its storage's field iterator): a key
    /// up to the first `=` not after a backslash, a value up to the first comma outside double quotes, where only
    /// `\"` and `\\` escape. Each value it finds must be a whole field value of the grammar above.
    let secondReading (fieldSet: string) : Result<unit, LineError> =
        let rec keyEnd (rest: string) i =
            if i >= rest.Length || (rest[i] = '=' && (i = 0 || rest[i - 1] <> '\\')) then i else keyEnd rest (i + 1)
        let rec valueEnd (rest: string) i quoted =
            if i >= rest.Length then i
            elif rest[i] = '\\' && i + 1 < rest.Length && (rest[i + 1] = '"' || rest[i + 1] = '\\') then valueEnd rest (i + 2) quoted
            elif rest[i] = '"' then valueEnd rest (i + 1) (not quoted)
            elif rest[i] = ',' && not quoted then i
            else valueEnd rest (i + 1) quoted
        /// The (key, value) pairs, or the key walkFields stops at.
        let rec fields (rest: string) : Result<(string * string) list, LineError> =
            if rest = "" then Result.Ok []
            else
                let equals = keyEnd rest 0
                let key = rest.Substring(0, equals)
                if equals > rest.Length - 2 then Result.Error(FieldWithoutValue key)
                else
                    let stop = valueEnd rest (equals + 1) false
                    fields (rest.Substring(min rest.Length (stop + 1)))
                    |> Result.map (fun later -> (key, rest.Substring(equals + 1, stop - equals - 1)) :: later)
        let storable (_, value) =
            match runParserOnString wholeValue () "value" value with
            | Success _ -> true
            | Failure _ -> false
        fields fieldSet
        |> Result.bind (fun read ->
            match read |> List.tryFind (storable >> not) with
            | None -> Result.Ok()
            | Some(key, value) -> Result.Error(AmbiguousFieldSet(key, value)))

    /// What InfluxDB's storage makes of a point it parsed, before storing anything (tsdb/shard.go): a tag key `time`
    /// is refused, then a field set with no key but `time`.
    let storageKind (point: Point) : LineKind =
        if point.Tags |> List.exists (fun (key, _) -> key = "time") then LineKind.TimeTag
        elif point.Fields |> List.forall (fun (key, _) -> key = "time") then LineKind.OnlyTimeField
        else LineKind.Point

    /// Parses one line (its newline removed) as InfluxDB stores it: both readings of its field set.
    let parseLine (text: string) : Result<Point, GrammarError> =
        match runParserOnString line () "line" text with
        | Success((point, fieldSet), _, _) -> secondReading fieldSet |> Result.map (fun () -> point) |> Result.mapError ReadOtherwise
        | Failure(message, _, _) -> Result.Error(NotInGrammar message)
