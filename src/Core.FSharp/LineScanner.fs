/// The /write hot path's scanner of InfluxDB 1.x line protocol, reading lines as InfluxDB's own parser does
/// (influxdb models/points.go: scanLine, scanKey, scanMeasurement, scanTags, scanFields, scanNumber, scanBoolean,
/// scanTime, SafeCalcTime), so the proxy accepts exactly the lines InfluxDB accepts and refuses the others with
/// InfluxDB's reason. Reference:
/// https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/
namespace InfluxProxy.Core

open System
open System.Buffers.Text
open System.Runtime.CompilerServices
open System.Runtime.Intrinsics

/// What one line of a /write body is.
type LineKind =
    | Point = 0
    /// Empty, whitespace only, or a `#` comment.
    | Blank = 1
    | Malformed = 2
    /// Well-formed, but InfluxDB's storage refuses it: a tag key `time`.
    | TimeTag = 3
    /// Well-formed, but InfluxDB's storage refuses it: no field but `time` (a `time` field beside others is
    /// dropped by InfluxDB and the point stored).
    | OnlyTimeField = 4

/// One scanned line, as offsets into the body.
[<Struct>]
type ScannedLine =
    { Kind: LineKind
      /// First content byte (after leading space, tab or NUL).
      Start: int
      /// One past the last content byte (newline and a trailing carriage return excluded).
      End: int
      /// Where the next line starts, or the body length.
      Next: int
      /// One past the escaped measurement: body[Start..MeasurementEnd).
      MeasurementEnd: int
      /// One past the field set: body[Start..FieldsEnd) is the point without its timestamp.
      FieldsEnd: int
      HasTimestamp: bool
      /// In ns, after the precision (only with HasTimestamp).
      Timestamp: int64
      /// InfluxDB's reason when Malformed, TimeTag or OnlyTimeField.
      Error: LineError voption }

/// The hand-written scanner of the /write hot path: no allocation for a line InfluxDB stores.
/// Internal steps return the next position, or a negative error code (see `errors`).
type LineScanner private () =

    static let errors =
        [| LineError.MissingMeasurement; LineError.MissingFields; LineError.MissingTagKey; LineError.MissingTagValue
           LineError.InvalidTagFormat; LineError.MissingFieldKey; LineError.MissingFieldValue; LineError.InvalidNumber
           LineError.InvalidBoolean; LineError.UnbalancedQuotes; LineError.InvalidFieldFormat; LineError.BadTimestamp
           LineError.TimeOutOfRange; LineError.InvalidPoint; LineError.IntegerOutOfRange; LineError.InvalidFloat
           LineError.DuplicateTags |]

    /// The error codes, each named after the LineError it stands for: `errors[-1 - code]`.
    static let fail code = -1 - code
    static let missingMeasurement, missingFields, missingTagKey, missingTagValue, invalidTagFormat = fail 0, fail 1, fail 2, fail 3, fail 4
    static let missingFieldKey, missingFieldValue, invalidNumber, invalidBoolean, unbalancedQuotes = fail 5, fail 6, fail 7, fail 8, fail 9
    static let invalidFieldFormat, badTimestamp, timeOutOfRange, invalidPoint = fail 10, fail 11, fail 12, fail 13
    static let integerOutOfRange, invalidFloat, duplicateTags = fail 14, fail 15, fail 16

    /// InfluxDB's MaxKeyLength: a series key (measurement and tags), and each series key with a field key and the
    /// 4-byte separator InfluxDB stores between them, must stay below 64 KiB.
    static let maxKeyLength = LineError.maxKeyLength
    static let fieldKeySeparator = 4
    /// A line holds its series key, a space, a field key, `=` and a value: no line this long or shorter holds a key
    /// over the limit, so only `Line` measures keys.
    static let longestPlainLine = maxKeyLength - fieldKeySeparator + 3

    static let isDigit (b: byte) = b >= '0'B && b <= '9'B

    static let lineSpecials = Buffers.SearchValues.Create("\n\"\\"B)
    static let fieldSpecials = Buffers.SearchValues.Create("\\\"=, "B)

    /// The first of the three bytes at or after `i`, or -1: the token scanners below jump from delimiter to
    /// delimiter with one vectorised search instead of testing every byte.
    static let indexOf3 (buf: ReadOnlySpan<byte>) (i: int) (a: byte) (b: byte) (c: byte) =
        let found = buf.Slice(i).IndexOfAny(a, b, c)
        if found < 0 then -1 else i + found

    /// InfluxDB tests "is the previous byte a backslash" to tell an escaped delimiter from a real one.
    static let escaped (buf: ReadOnlySpan<byte>) (i: int) = buf[i - 1] = '\\'B

    /// Whether the key buf[start..stop) is `time`, which InfluxDB's storage refuses as a tag key and skips as a field
    /// key. No escape turns other bytes into these four, so the escaped key is compared.
    static let isTime (buf: ReadOnlySpan<byte>) (start: int) (stop: int) =
        stop - start = 4 && Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(buf.Slice(start, 4)) = 0x656D6974u

    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    static member private SkipWhitespace(buf: ReadOnlySpan<byte>, i: int) =
        let mutable i = i
        while i < buf.Length && (buf[i] = ' 'B || buf[i] = '\t'B || buf[i] = 0uy) do
            i <- i + 1
        i

    /// scanLine: the end of the line starting at `i`; a newline inside a string field value does not end it.
    /// Most lines have no quote or backslash before their newline: one vectorised search finds the end.
    /// Also tells whether the line is plain: no quote and no backslash before its end.
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    static member private LineEnd(buf: ReadOnlySpan<byte>, start: int, plain: outref<bool>) =
        let first = buf.Slice(start).IndexOfAny(lineSpecials)
        plain <- first < 0 || buf[start + first] = '\n'B
        if first < 0 then buf.Length
        elif plain then start + first
        else LineScanner.QuotedLineEnd(buf, start)

    static member private QuotedLineEnd(buf: ReadOnlySpan<byte>, start: int) =
        let mutable i = start
        let mutable quoted = false
        let mutable fields = false
        let mutable equals = 0
        let mutable commas = 0
        let mutable fin = false
        while not fin && i < buf.Length do
            let b = buf[i]
            if b = '\\'B && i + 2 < buf.Length then i <- i + 2
            else
                if b = ' 'B then fields <- true
                if fields && not quoted && b = '='B then equals <- equals + 1; i <- i + 1
                elif fields && not quoted && b = ','B then commas <- commas + 1; i <- i + 1
                elif fields && b = '"'B && equals > commas then quoted <- not quoted; i <- i + 1
                elif b = '\n'B && not quoted then fin <- true
                else i <- i + 1
        i

    /// scanMeasurement: ends at an unescaped comma (tags follow) or space (fields follow).
    static member private MeasurementEnd(buf: ReadOnlySpan<byte>, i: int) =
        if i >= buf.Length || buf[i] = ','B then missingMeasurement
        else
            let mutable i = i + 1
            let mutable result = 0
            while result = 0 do
                let found = buf.Slice(i).IndexOfAny(','B, ' 'B)
                let stop = if found < 0 then -1 else i + found
                if stop < 0 then result <- missingFields
                elif escaped buf stop then i <- stop + 1
                else result <- stop
            result

    /// scanTagsKey: a non-empty key up to an unescaped `=`.
    static member private TagKey(buf: ReadOnlySpan<byte>, i: int) =
        if i >= buf.Length || buf[i] = ' 'B || buf[i] = ','B || buf[i] = '='B then missingTagKey
        else
            let mutable i = i + 1
            let mutable result = 0
            while result = 0 do
                let stop = indexOf3 buf i ' 'B ','B '='B
                if stop < 0 then result <- missingTagValue
                elif escaped buf stop then i <- stop + 1
                elif buf[stop] = '='B then result <- stop + 1
                else result <- missingTagValue
            result

    /// scanTagsValue: a non-empty value up to an unescaped comma or space (returned as its position).
    static member private TagValue(buf: ReadOnlySpan<byte>, i: int) =
        if i >= buf.Length || buf[i] = ','B || buf[i] = ' 'B then missingTagValue
        else
            let mutable i = i + 1
            let mutable result = 0
            while result = 0 do
                let stop = indexOf3 buf i '='B ','B ' 'B
                if stop < 0 then result <- missingFields
                elif escaped buf stop then i <- stop + 1
                elif buf[stop] = '='B then result <- invalidTagFormat
                else result <- stop
            result

    /// scanTags: `key=value` pairs after the measurement's comma; returns the position of the space before the fields.
    /// A key named twice (as escaped bytes) is refused once the tags are well-formed, as scanKey does: comparing each
    /// key with the one before settles it when the keys are sorted, as clients usually send them.
    static member private Tags(buf: ReadOnlySpan<byte>, start: int, timeTag: outref<bool>) =
        let mutable i = start
        let mutable result = 0
        let mutable previousKey = -1
        let mutable previousKeyEnd = -1
        let mutable duplicate = false
        let mutable sorted = true
        while result = 0 do
            let valueStart = LineScanner.TagKey(buf, i)
            if valueStart < 0 then result <- valueStart
            else
                if previousKey >= 0 then
                    let order = LineScanner.KeyOrder(buf, previousKey, previousKeyEnd, i, valueStart - 1)
                    if order = 0 then duplicate <- true
                    elif order > 0 then sorted <- false
                previousKey <- i
                previousKeyEnd <- valueStart - 1
                if isTime buf i (valueStart - 1) then timeTag <- true
                let stop = LineScanner.TagValue(buf, valueStart)
                if stop < 0 then result <- stop
                elif buf[stop] = ' 'B then result <- stop
                else i <- stop + 1
        if result >= 0 && (duplicate || (not sorted && LineScanner.AnyKeyTwice(buf, start, result))) then duplicateTags
        else result

    /// How the tag key buf[previous..previousEnd) sorts against buf[key..keyEnd), as escaped bytes (scanKey's order).
    static member private KeyOrder(buf: ReadOnlySpan<byte>, previous: int, previousEnd: int, key: int, keyEnd: int) =
        buf.Slice(previous, previousEnd - previous).SequenceCompareTo(buf.Slice(key, keyEnd - key))

    /// Whether two keys of the well-formed tags in buf[start..stop) are equal; every pair is compared.
    static member private AnyKeyTwice(buf: ReadOnlySpan<byte>, start: int, stop: int) =
        let mutable tag = start
        let mutable found = false
        while not found && tag < stop do
            let valueStart = LineScanner.TagKey(buf, tag)
            let key = buf.Slice(tag, valueStart - 1 - tag)
            let next = LineScanner.TagValue(buf, valueStart) + 1
            let mutable other = next
            while not found && other < stop do
                let otherValueStart = LineScanner.TagKey(buf, other)
                found <- buf.Slice(other, otherValueStart - 1 - other).SequenceEqual(key)
                other <- LineScanner.TagValue(buf, otherValueStart) + 1
            tag <- next
        found

    /// scanNumber: float or `i` integer; returns the position after it. InfluxDB 1.x reads a `u` unsigned integer
    /// but refuses it as an invalid number (its uint64 support is off), as this does: 1.x backends could not store it.
    static member private Number(buf: ReadOnlySpan<byte>, start: int) =
        let mutable i = start
        let mutable error = if buf[i] = '-'B && i + 1 = buf.Length then invalidNumber else 0
        if buf[i] = '-'B then i <- i + 1
        let mutable isInt = false
        let mutable decimal = false
        let mutable scientific = false
        let mutable fin = false
        while error = 0 && not fin && i < buf.Length do
            // A digit only ever advances: skip a run of them at once.
            while i < buf.Length - 1 && isDigit buf[i] do
                i <- i + 1
            let b = buf[i]
            if b = ','B || b = ' 'B then fin <- true
            elif b = 'i'B && i > start && not isInt then isInt <- true; i <- i + 1
            elif b = '.'B && decimal then error <- invalidNumber
            else
                if b = '.'B then decimal <- true
                if i > start && (b = 'e'B || b = 'E'B) then scientific <- true; i <- i + 1
                elif (b = '+'B || b = '-'B) && (buf[i - 1] = 'e'B || buf[i - 1] = 'E'B) then i <- i + 1
                elif isDigit b || b = '.'B then i <- i + 1
                else error <- invalidNumber
        let digits =
            i - start - (if isInt then 1 else 0) - (if decimal then 1 else 0) - (if buf[start] = '-'B then 1 else 0)
        let invariant = Globalization.CultureInfo.InvariantCulture
        if error <> 0 then error
        elif isInt && (decimal || scientific) then invalidNumber
        elif digits <= 0 then invalidNumber
        // Shorter literals made of the characters checked above are always in range: parse only the long ones.
        elif isInt && i - 1 - start < 18 then
            if buf[i - 1] <> 'i'B then invalidNumber else i
        elif not isInt && not scientific && i - start < 300 then i
        elif isInt then
            let mutable value = 0L
            if buf[i - 1] <> 'i'B then invalidNumber
            elif Int64.TryParse(buf.Slice(start, i - 1 - start), Globalization.NumberStyles.AllowLeadingSign, invariant, &value) then i
            else integerOutOfRange
        else
            let mutable value = 0.0
            if Double.TryParse(buf.Slice(start, i - start), Globalization.NumberStyles.Float, invariant, &value)
               && not (Double.IsInfinity value) then i
            else invalidFloat

    /// scanBoolean: t, T, true, True, TRUE, f, F, false, False, FALSE.
    static member private Boolean(buf: ReadOnlySpan<byte>, start: int) =
        let mutable i = start + 1
        while i < buf.Length && buf[i] <> ','B && buf[i] <> ' 'B do
            i <- i + 1
        let word = buf.Slice(start, i - start)
        if word.Length = 1 && (word[0] = 't'B || word[0] = 'T'B || word[0] = 'f'B || word[0] = 'F'B) then i
        elif word.SequenceEqual("true"B) || word.SequenceEqual("True"B) || word.SequenceEqual("TRUE"B)
             || word.SequenceEqual("false"B) || word.SequenceEqual("False"B) || word.SequenceEqual("FALSE"B) then i
        else invalidBoolean

    /// scanFields: `key=value` pairs, string values quoted; returns the position after the field set.
    /// Also tells whether every key is `time`, and the length of the first key longer than `keyRoom` (or 0).
    static member private Fields(buf: ReadOnlySpan<byte>, start: int, keyRoom: int, onlyTimeFields: outref<bool>, longKey: outref<int>) =
        let mutable i = start
        let mutable key = start
        onlyTimeFields <- true
        longKey <- 0
        let mutable quoted = false
        let mutable equals = 0
        let mutable commas = 0
        let mutable error = 0
        let mutable fin = false
        while not fin && error = 0 && i < buf.Length do
            // Only a backslash or a quote matters inside a string; outside, those and `=`, `,`, space.
            let next =
                if quoted then buf.Slice(i).IndexOfAny('\\'B, '"'B) else buf.Slice(i).IndexOfAny(fieldSpecials)
            i <- if next < 0 then buf.Length else i + next
            let b = if i < buf.Length then buf[i] else 0uy
            if i >= buf.Length then ()
            elif b = '\\'B && i + 1 < buf.Length then i <- i + 2
            elif b = '"'B && equals > commas then quoted <- not quoted; i <- i + 1
            elif b = '='B && not quoted then
                equals <- equals + 1
                if onlyTimeFields && not (isTime buf key i) then onlyTimeFields <- false
                if longKey = 0 && i - key > keyRoom then longKey <- i - key
                if (buf[i - 1] = ' 'B || buf[i - 1] = ','B) && buf[i - 2] <> '\\'B then error <- missingFieldKey
                elif i + 1 >= buf.Length || buf[i + 1] = ','B || buf[i + 1] = ' 'B then error <- missingFieldValue
                else
                    let next = buf[i + 1]
                    let after =
                        if isDigit next || next = '-'B || next = '.'B || next = 'N'B || next = 'n'B then LineScanner.Number(buf, i + 1)
                        elif next <> '"'B then LineScanner.Boolean(buf, i + 1)
                        else i + 1
                    if after < 0 then error <- after else i <- after
            elif b = ','B && not quoted then commas <- commas + 1; i <- i + 1; key <- i
            elif b = ' 'B && not quoted then fin <- true
            else i <- i + 1
        if error <> 0 then error
        elif quoted then unbalancedQuotes
        elif equals = 0 || commas <> equals - 1 then invalidFieldFormat
        else i

    /// InfluxDB reads a field set twice (models/points.go): scanFields checks it, then walkFields and its storage's
    /// field iterator read it again by other rules: a key ends at the first `=` not after a backslash, a value at the
    /// first comma outside double quotes, where only `\"` and `\\` escape. The readings part only over backslashes
    /// and quotes. Every field of the second reading must be one the first accepts: otherwise InfluxDB refuses the
    /// line ("invalid value"), or its storage fails on it with a 500 that every retry meets again, or stores a value
    /// nobody wrote, or its process dies (a string value of one quote). The reason, when they part.
    static member private SecondReading(fields: ReadOnlySpan<byte>) : LineError voption =
        if fields.IndexOfAny('\\'B, '"'B) < 0 then ValueNone
        else
            let mutable field = 0
            let mutable invalid = ValueNone
            let mutable ambiguous = ValueNone
            while invalid.IsNone && field < fields.Length do
                // scanTo: walkFields slices each field off, so a field's first byte has no byte before it
                let mutable equals = field
                while equals < fields.Length && not (fields[equals] = '='B && (equals = field || fields[equals - 1] <> '\\'B)) do
                    equals <- equals + 1
                let key = fields.Slice(field, equals - field)
                if equals > fields.Length - 2 then invalid <- ValueSome(FieldWithoutValue(Text.Encoding.UTF8.GetString key))
                else
                    let valueEnd = LineScanner.SecondReadingValueEnd(fields, equals + 1)
                    let value = fields.Slice(equals + 1, valueEnd - equals - 1)
                    if ambiguous.IsNone && not (LineScanner.IsWholeValue value) then
                        ambiguous <- ValueSome(AmbiguousFieldSet(Text.Encoding.UTF8.GetString key, Text.Encoding.UTF8.GetString value))
                    field <- valueEnd + 1
            // InfluxDB's parser walks every field before its storage reads a value.
            if invalid.IsSome then invalid else ambiguous

    /// scanFieldValue: up to the first comma outside double quotes; only `\"` and `\\` are escapes.
    static member private SecondReadingValueEnd(fields: ReadOnlySpan<byte>, start: int) =
        let mutable i = start
        let mutable quoted = false
        let mutable fin = false
        while not fin && i < fields.Length do
            let b = fields[i]
            if b = '\\'B && i + 1 < fields.Length && (fields[i + 1] = '"'B || fields[i + 1] = '\\'B) then i <- i + 2
            elif b = '"'B then quoted <- not quoted; i <- i + 1
            elif b = ','B && not quoted then fin <- true
            else i <- i + 1
        i

    /// Whether `value`, alone, is one field value as scanFields reads values: a number, a boolean, or a string whose
    /// closing quote is its last byte.
    static member private IsWholeValue(value: ReadOnlySpan<byte>) =
        if value.IsEmpty then false
        elif value[0] = '"'B then
            let mutable i = 1
            while i < value.Length && value[i] <> '"'B do
                i <- if value[i] = '\\'B && i + 1 < value.Length then i + 2 else i + 1
            i = value.Length - 1
        elif isDigit value[0] || value[0] = '-'B || value[0] = '.'B || value[0] = 'N'B || value[0] = 'n'B then
            LineScanner.Number(value, 0) = value.Length
        else LineScanner.Boolean(value, 0) = value.Length

    static member private Line(buf: ReadOnlySpan<byte>, start: int, finish: int, next: int, precision: Precision) : ScannedLine =
        let line = buf.Slice(0, finish)
        let malformedBecause error =
            { Kind = LineKind.Malformed; Start = start; End = finish; Next = next; MeasurementEnd = start; FieldsEnd = start
              HasTimestamp = false; Timestamp = 0L; Error = ValueSome error }
        let malformed code = malformedBecause errors[-1 - code]
        let measurementEnd = LineScanner.MeasurementEnd(line, start)
        let mutable timeTag = false
        let mutable onlyTimeFields = false
        let mutable longFieldKey = 0
        if measurementEnd < 0 then malformed measurementEnd
        else
            let keyEnd = if line[measurementEnd] = ','B then LineScanner.Tags(line, measurementEnd + 1, &timeTag) else measurementEnd
            if keyEnd < 0 then malformed keyEnd
            elif keyEnd - start > maxKeyLength then malformedBecause (KeyTooLong(keyEnd - start))
            else
                let fieldsStart = LineScanner.SkipWhitespace(line, keyEnd)
                let keyRoom = maxKeyLength - fieldKeySeparator - (keyEnd - start)
                let fieldsEnd =
                    if fieldsStart >= line.Length then missingFields
                    else LineScanner.Fields(line, fieldsStart, keyRoom, &onlyTimeFields, &longFieldKey)
                let readOtherwise =
                    if fieldsEnd > fieldsStart then LineScanner.SecondReading(line.Slice(fieldsStart, fieldsEnd - fieldsStart)) else ValueNone
                if fieldsEnd < 0 then malformed fieldsEnd
                elif fieldsEnd = fieldsStart then malformed missingFields
                elif readOtherwise.IsSome then malformedBecause readOtherwise.Value
                elif longFieldKey > 0 then malformedBecause (KeyTooLong(keyEnd - start + fieldKeySeparator + longFieldKey))
                else
                    // scanTime: optional integer, maybe negative, then only spaces.
                    let tsStart = LineScanner.SkipWhitespace(line, fieldsEnd)
                    let mutable tsEnd = tsStart
                    while tsEnd < line.Length && line[tsEnd] <> ' 'B
                          && (isDigit line[tsEnd] || (tsEnd = tsStart && line[tsEnd] = '-'B)) do
                        tsEnd <- tsEnd + 1
                    let rest = LineScanner.SkipSpaces(line, tsEnd)
                    if tsEnd < line.Length && line[tsEnd] <> ' 'B then malformed badTimestamp
                    elif tsEnd = tsStart then
                        LineScanner.Judged(buf, timeTag, onlyTimeFields,
                                           { Kind = LineKind.Point; Start = start; End = finish; Next = next; MeasurementEnd = measurementEnd
                                             FieldsEnd = fieldsEnd; HasTimestamp = false; Timestamp = 0L; Error = ValueNone })
                    elif rest < line.Length then malformed invalidPoint
                    else
                        let mutable raw = 0L
                        if not (LineScanner.Timestamp(line.Slice(tsStart, tsEnd - tsStart), &raw)) then
                            malformed badTimestamp
                        else
                            match Precision.tryToNanoseconds precision raw with
                            | ValueNone -> malformed timeOutOfRange
                            | ValueSome ns ->
                                LineScanner.Judged(buf, timeTag, onlyTimeFields,
                                                   { Kind = LineKind.Point; Start = start; End = finish; Next = next; MeasurementEnd = measurementEnd
                                                     FieldsEnd = fieldsEnd; HasTimestamp = true; Timestamp = ns; Error = ValueNone })

    /// A well-formed point, or what InfluxDB's storage says of it before storing anything (tsdb/shard.go): first
    /// a tag key `time`, then a field set with no key but `time`.
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    static member private Judged(buf: ReadOnlySpan<byte>, timeTag: bool, onlyTimeFields: bool, point: ScannedLine) : ScannedLine =
        if timeTag || onlyTimeFields then LineScanner.Refused(buf, timeTag, point) else point

    static member private Refused(buf: ReadOnlySpan<byte>, timeTag: bool, point: ScannedLine) : ScannedLine =
        let name = LineScanner.NameInErrors(buf.Slice(point.Start, point.MeasurementEnd - point.Start))
        if timeTag then
            { point with Kind = LineKind.TimeTag; Error = ValueSome(TimeTagKey name) }
        else
            { point with Kind = LineKind.OnlyTimeField; Error = ValueSome(OnlyTimeField name) }

    /// Eight ASCII digits as a number, all at once (simdjson's parse_eight_digits_unrolled).
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    static member private EightDigits(eight: ReadOnlySpan<byte>) =
        let v = Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian eight - 0x3030303030303030UL
        let v = v * 10UL + (v >>> 8)
        (((v &&& 0x000000FF000000FFUL) * 0x000F424000000064UL) + (((v >>> 16) &&& 0x000000FF000000FFUL) * 0x0000271000000001UL)) >>> 32

    /// `-?digits` as an int64; false when empty or out of range. Up to 19 digits fit a uint64, so only longer
    /// ones (leading zeros) need the general parser.
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    static member private Timestamp(digits: ReadOnlySpan<byte>, value: byref<int64>) =
        let negative = digits.Length > 0 && digits[0] = '-'B
        let first = if negative then 1 else 0
        if digits.Length - first > 19 then
            let mutable used = 0
            Utf8Parser.TryParse(digits, &value, &used) && used = digits.Length
        else
            let mutable magnitude = 0UL
            let mutable i = first
            while digits.Length - i >= 8 do
                magnitude <- magnitude * 100_000_000UL + LineScanner.EightDigits(digits.Slice(i, 8))
                i <- i + 8
            while i < digits.Length do
                magnitude <- magnitude * 10UL + uint64 (digits[i] - '0'B)
                i <- i + 1
            value <- if negative then int64 (0UL - magnitude) else int64 magnitude
            digits.Length > first && magnitude <= (if negative then 9223372036854775808UL else 9223372036854775807UL)

    // ---------------------------------------------------------------- the plain-line fast path

    /// Bit i set when body[at + i] is `,`, `=` or space, for the 64 bytes at `at` (which must exist).
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    static member private DelimiterBits(body: ReadOnlySpan<byte>, at: int) : uint64 =
        uint64 (LineScanner.DelimiterBits32(body.Slice(at, 32))) ||| (uint64 (LineScanner.DelimiterBits32(body.Slice(at + 32, 32))) <<< 32)

    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    static member private DelimiterBits32(block: ReadOnlySpan<byte>) : uint32 =
        let v = Vector256.Create<byte>(block)
        (Vector256.Equals(v, Vector256.Create ','B) ||| Vector256.Equals(v, Vector256.Create '='B)
         ||| Vector256.Equals(v, Vector256.Create ' 'B)).ExtractMostSignificantBits()

    /// The first `,` `=` or space at or after `p`, or -1 when the 64-byte blocks would run past the body.
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    static member private NextDelimiter(body: ReadOnlySpan<byte>, p: int, blockAt: byref<int>, bits: byref<uint64>) =
        let mutable p = p
        let mutable found = -2
        while found = -2 do
            if p >= blockAt + 64 || p < blockAt then
                if p + 64 > body.Length then found <- -1
                else
                    blockAt <- p
                    bits <- LineScanner.DelimiterBits(body, p)
            if found = -2 then
                let ahead = bits >>> (p - blockAt)
                if ahead <> 0UL then found <- p + Numerics.BitOperations.TrailingZeroCount ahead
                else p <- blockAt + 64
        found

    /// Plain line: the measurement's end (first comma or space; an `=` is part of it), then `,key=value` tags up to a
    /// space, keys in increasing order (so none is named twice) and none named `time`; the position of that space,
    /// or -1.
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    static member private PlainKey(body: ReadOnlySpan<byte>, start: int, finish: int, measurementEnd: outref<int>,
                                   blockAt: byref<int>, bits: byref<uint64>) =
        let mutable m = if body[start] = ','B then -1 else LineScanner.NextDelimiter(body, start + 1, &blockAt, &bits)
        while m >= 0 && m < finish && body[m] = '='B do
            m <- LineScanner.NextDelimiter(body, m + 1, &blockAt, &bits)
        measurementEnd <- m
        let mutable ok = m >= 0 && m < finish
        let mutable p = m
        let mutable previousKey = -1
        let mutable previousKeyEnd = -1
        while ok && body[p] = ','B do
            let equals = LineScanner.NextDelimiter(body, p + 1, &blockAt, &bits)
            ok <- equals > p + 1 && equals < finish && body[equals] = '='B && not (isTime body (p + 1) equals)
            if ok then
                let stop = LineScanner.NextDelimiter(body, equals + 1, &blockAt, &bits)
                ok <- stop > equals + 1 && stop < finish && body[stop] <> '='B
                if ok && previousKey >= 0 then
                    ok <- LineScanner.KeyOrder(body, previousKey, previousKeyEnd, p + 1, equals) < 0
                previousKey <- p + 1
                previousKeyEnd <- equals
                p <- stop
        if ok then p else -1

    /// The usual field values — `[-]digits`, `[-]digits.digits`, `[-]digits i`, with at most 17 digits before any
    /// point, so always in range — ending the field; -1 for anything else, which `Number` decides.
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    static member private ShortNumber(line: ReadOnlySpan<byte>, start: int) =
        let digitsStart = if line[start] = '-'B then start + 1 else start
        let mutable i = digitsStart
        while i < line.Length && isDigit line[i] do
            i <- i + 1
        let digits = i - digitsStart
        if digits = 0 || digits > 17 then -1
        elif LineScanner.EndsValue(line, i) then i
        elif line[i] = 'i'B then
            if LineScanner.EndsValue(line, i + 1) then i + 1 else -1
        elif line[i] = '.'B then
            i <- i + 1
            while i < line.Length && isDigit line[i] do
                i <- i + 1
            if LineScanner.EndsValue(line, i) then i else -1
        else -1

    /// A field value ends at the end of the line, a comma or a space.
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    static member private EndsValue(line: ReadOnlySpan<byte>, at: int) = at = line.Length || line[at] = ','B || line[at] = ' 'B

    /// Plain line: `key=value` fields from `p`, numbers and booleans only (a plain line has no quote), separated by
    /// commas, at least one key not named `time`; the position after the last value, or -1. Delimiters are found in
    /// the body, which goes on after the line; values end at the line's end.
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    static member private PlainFields(body: ReadOnlySpan<byte>, finish: int, p: int, blockAt: byref<int>, bits: byref<uint64>) =
        let line = body.Slice(0, finish)
        let mutable p = p
        let mutable fieldsEnd = -2
        let mutable onlyTime = true
        while fieldsEnd = -2 do
            let equals = LineScanner.NextDelimiter(body, p, &blockAt, &bits)
            if equals <= p || equals + 1 >= line.Length || line[equals] <> '='B then fieldsEnd <- -1
            else
                onlyTime <- onlyTime && isTime body p equals
                let value = line[equals + 1]
                let after =
                    if isDigit value || value = '-'B || value = '.'B || value = 'N'B || value = 'n'B then
                        match LineScanner.ShortNumber(line, equals + 1) with
                        | -1 -> LineScanner.Number(line, equals + 1)
                        | after -> after
                    else LineScanner.Boolean(line, equals + 1)
                if after < 0 then fieldsEnd <- -1
                elif after < line.Length && line[after] = ','B then p <- after + 1
                else fieldsEnd <- after
        if onlyTime then -1 else fieldsEnd

    /// A line without quotes or backslashes, the common case, scanned by jumping between delimiters found 64 bytes at
    /// a time. It accepts only well-formed lines with single spaces between sections and nothing after the timestamp,
    /// that InfluxDB's storage takes, giving what `Line` gives for them; anything else (every error and refusal
    /// included) returns false and goes through `Line`.
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    static member private PlainLine(body: ReadOnlySpan<byte>, start: int, finish: int, next: int, precision: Precision,
                                    scanned: outref<ScannedLine>) : bool =
        let mutable blockAt = Int32.MinValue / 2
        let mutable bits = 0UL
        let mutable measurementEnd = -1
        let keyEnd = LineScanner.PlainKey(body, start, finish, &measurementEnd, &blockAt, &bits)
        let fieldsStart = keyEnd + 1
        let fieldsEnd =
            if keyEnd < 0 || fieldsStart >= finish || body[fieldsStart] = ' 'B || body[fieldsStart] = '\t'B || body[fieldsStart] = 0uy then -1
            else LineScanner.PlainFields(body, finish, fieldsStart, &blockAt, &bits)
        if fieldsEnd < 0 then false
        elif fieldsEnd = finish then
            scanned <- { Kind = LineKind.Point; Start = start; End = finish; Next = next; MeasurementEnd = measurementEnd
                         FieldsEnd = fieldsEnd; HasTimestamp = false; Timestamp = 0L; Error = ValueNone }
            true
        else
            // one space, then -?digits up to the end
            let digits = body.Slice(fieldsEnd + 1, finish - fieldsEnd - 1)
            let mutable raw = 0L
            if digits.IsEmpty || digits.Slice(if digits[0] = '-'B then 1 else 0).IndexOfAnyExceptInRange('0'B, '9'B) >= 0
               || not (LineScanner.Timestamp(digits, &raw)) then false
            else
                match Precision.tryToNanoseconds precision raw with
                | ValueNone -> false
                | ValueSome ns ->
                    scanned <- { Kind = LineKind.Point; Start = start; End = finish; Next = next; MeasurementEnd = measurementEnd
                                 FieldsEnd = fieldsEnd; HasTimestamp = true; Timestamp = ns; Error = ValueNone }
                    true

    static member private SkipSpaces(buf: ReadOnlySpan<byte>, i: int) =
        let mutable i = i
        while i < buf.Length && buf[i] = ' 'B do
            i <- i + 1
        i

    /// Scans the line of `body` that starts at `offset`.
    static member Scan(body: ReadOnlySpan<byte>, offset: int, precision: Precision) : ScannedLine =
        let mutable plain = false
        let lineEnd = LineScanner.LineEnd(body, offset, &plain)
        let next = min body.Length (lineEnd + 1)
        let start = LineScanner.SkipWhitespace(body, offset)
        // A trailing carriage return (CRLF bodies) is not part of the point.
        let finish = if lineEnd > start && body[lineEnd - 1] = '\r'B then lineEnd - 1 else lineEnd
        if start >= finish || body[start] = '#'B then
            { Kind = LineKind.Blank; Start = start; End = finish; Next = next; MeasurementEnd = start; FieldsEnd = start
              HasTimestamp = false; Timestamp = 0L; Error = ValueNone }
        else
            let mutable scanned = Unchecked.defaultof<ScannedLine>
            if plain && Vector256.IsHardwareAccelerated && finish - start <= longestPlainLine
               && LineScanner.PlainLine(body, start, finish, next, precision, &scanned) then scanned
            else LineScanner.Line(body, start, finish, next, precision)

    /// Whether the body has lines and none of them parses: InfluxDB answers their parse errors before it looks the
    /// retention policy up.
    static member OnlyMalformed(body: ReadOnlySpan<byte>, precision: Precision) : bool =
        let mutable offset = 0
        let mutable malformed = false
        let mutable parsed = false
        while not parsed && offset < body.Length do
            let line = LineScanner.Scan(body, offset, precision)
            if line.Kind = LineKind.Malformed then malformed <- true
            elif line.Kind <> LineKind.Blank then parsed <- true
            offset <- line.Next
        malformed && not parsed

    /// The measurement as InfluxDB's storage names it in its errors, its `Name()`: escape.Unescape, left to right, of
    /// `\,` `\"` `\ ` and `\=` (`Measurement`, below, unescapes only the first two).
    static member private NameInErrors(escaped: ReadOnlySpan<byte>) : string =
        let name = ResizeArray<byte>(escaped.Length)
        let mutable i = 0
        while i < escaped.Length do
            if escaped[i] = '\\'B && i + 1 < escaped.Length
               && (escaped[i + 1] = ','B || escaped[i + 1] = '"'B || escaped[i + 1] = ' 'B || escaped[i + 1] = '='B) then
                i <- i + 1
            name.Add escaped[i]
            i <- i + 1
        Text.Encoding.UTF8.GetString(name.ToArray())

    /// The measurement name from its escaped bytes, unescaped as InfluxDB does: only `\,` and `\ `.
    static member Measurement(escaped: ReadOnlySpan<byte>) : string =
        let text = Text.Encoding.UTF8.GetString escaped
        if text.IndexOf '\\' < 0 then text else text.Replace("\\,", ",").Replace("\\ ", " ")
