module InfluxProxy.Core.Tests.LineScannerTests

open System
open System.Text
open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

/// The scanned lines of a body but blank ones, with its bytes.
let private scanLines (precision: Precision) (body: string) =
    let bytes = Encoding.UTF8.GetBytes body
    let rec loop offset acc =
        if offset >= bytes.Length then List.rev acc
        else
            let line = LineScanner.Scan(ReadOnlySpan bytes, offset, precision)
            loop line.Next (if line.Kind = LineKind.Blank then acc else line :: acc)
    bytes, loop 0 []

/// Points as (measurement, point without timestamp, timestamp); other lines as (line, InfluxDB's reason).
let private scanAll (precision: Precision) (body: string) =
    let bytes, lines = scanLines precision body
    let text (a: int) (b: int) = Encoding.UTF8.GetString(bytes, a, b - a)
    [ for line in lines ->
        if line.Kind = LineKind.Point then
            Ok(LineScanner.Measurement(ReadOnlySpan(bytes, line.Start, line.MeasurementEnd - line.Start)),
               text line.Start line.FieldsEnd,
               (if line.HasTimestamp then Some line.Timestamp else None))
        else Error(text line.Start line.End, LineError.text line.Error.Value) ]

let private kinds (body: string) = snd (scanLines Nanosecond body) |> List.map (fun line -> line.Kind)

let private one precision body =
    match scanAll precision body with
    | [ item ] -> item
    | other -> failwithf "expected one line, got %A" other

let private accepts body = Expect.isOk (one Nanosecond body) body
let private refuses body (reason: string) =
    match one Nanosecond body with
    | Error(_, actual) -> Expect.equal actual reason body
    | Ok point -> failtestf "%s was accepted as %A" body point

let private examples =
    testList "examples" [
        test "a point with tags, every field type and a timestamp" {
            Expect.equal (one Nanosecond "cpu,host=a,region=eu f=1.5,i=-2i,s=\"x y\",b=true 1600000000000000000")
                (Ok("cpu", "cpu,host=a,region=eu f=1.5,i=-2i,s=\"x y\",b=true", Some 1600000000000000000L)) "point"
        }

        test "measurement escapes are removed as InfluxDB does, only \\, and \\space" {
            Expect.equal (one Nanosecond "cpu\\ load\\,x value=1") (Ok("cpu load,x", "cpu\\ load\\,x value=1", None)) "escaped"
            Expect.equal (one Nanosecond "a\\ \\ \\ \\ b value=1 1") (Ok("a    b", "a\\ \\ \\ \\ b value=1", Some 1L)) "the original dropped this"
            Expect.equal (one Nanosecond "a\\b value=1") (Ok("a\\b", "a\\b value=1", None)) "other backslashes stay"
            Expect.equal (one Nanosecond "温度,城市=北京 value=1") (Ok("温度", "温度,城市=北京 value=1", None)) "UTF-8"
        }

        test "string fields may hold escaped quotes, backslashes and raw newlines" {
            accepts "cpu value=\"C:\\\\path\" 1"
            accepts "cpu value=\"say \\\"hi\\\"\" 1"
            Expect.equal (scanAll Nanosecond "cpu value=\"multi\nline\" 1\nmem value=2 2").Length 2 "a newline inside a string does not end the line"
        }

        test "a quote in a tag value is just a character" { accepts "cpu,host=a\"b value=1 1" }

        test "comments, blank lines, leading blanks and CRLF" {
            Expect.equal (scanAll Nanosecond "# comment\n\n   \ncpu value=1 1\r\n  mem value=2 2\r\n").Length 2 "two points"
            Expect.equal (one Nanosecond "cpu value=1 5\r") (Ok("cpu", "cpu value=1", Some 5L)) "carriage return trimmed"
        }

        test "several spaces between sections, trailing spaces after the timestamp" {
            accepts "cpu  value=1  1"
            accepts "cpu value=1 1   "
        }

        test "bad lines get InfluxDB's reasons" {
            refuses "cpu" "missing fields"
            refuses "cpu 1600000000" "invalid field format"
            refuses ",host=a value=1" "missing measurement"
            refuses "cpu,host=a 1600000000" "invalid field format"
            refuses "cpu,host= value=1" "missing tag value"
            refuses "cpu,=a value=1" "missing tag key"
            refuses "cpu,host=a=b value=1" "invalid tag format"
            refuses "cpu value=" "missing field value"
            refuses "cpu =1" "missing field key"
            refuses "cpu value=1.2.3" "invalid number"
            refuses "cpu value=1x" "invalid number"
            refuses "cpu value=3u" "invalid number" // InfluxDB 1.x's answer: its unsigned integers are switched off
            refuses "cpu value=3u,other=1 5" "invalid number"
            refuses "cpu value=tru" "invalid boolean"
            refuses "cpu value=\"open" "unbalanced quotes"
            refuses "cpu value=1,other" "invalid field format"
            refuses "cpu value=1 16x" "bad timestamp"
            refuses "cpu value=1 1 2" "point is invalid"
            refuses "cpu value=1\t1600000000" "invalid number"
            refuses "cpu value=99999999999999999999i" "unable to parse integer: value out of range"
        }

        test "what InfluxDB's storage refuses is told apart from what it stores, in its words" {
            // Its answers, from influxd 1.6.7.
            refuses "m,time=1 v=1" "invalid tag key: input tag \"time\" on measurement \"m\" is invalid"
            refuses "m time=1" "invalid field name: input field \"time\" on measurement \"m\" is invalid"
            refuses "m,a=1 time=1,time=\"x\"" "invalid field name: input field \"time\" on measurement \"m\" is invalid"
            refuses "m,time=1 time=1" "invalid tag key: input tag \"time\" on measurement \"m\" is invalid"
            refuses "m\\ x\\,y\\\"q,time=1 v=1 1" "invalid tag key: input tag \"time\" on measurement \"m x,y\"q\" is invalid"
            refuses "m\\=z time=\"s\"" "invalid field name: input field \"time\" on measurement \"m=z\" is invalid"
            accepts "m time=1,v=2"
            accepts "m,Time=1,times=1 v=1"
            accepts "m tim=1,timex=2"
            Expect.equal (kinds "m,time=1 v=1\nm time=1\nm,a=\"b time=\"x\"\nm,time=\\ x v=\"\"") [ LineKind.TimeTag; LineKind.OnlyTimeField; LineKind.OnlyTimeField; LineKind.TimeTag ] "kinds"
            refuses "m,time=1 v=1x" "invalid number" // a line must parse before it is judged
        }

        test "a field set InfluxDB reads otherwise the second time is refused before it can jam or kill a backend" {
            // influxd 1.6.7 exits on the first (a string value of one quote), answers the second 500 at every retry
            // (its storage reads the bool `b"`), and refuses the third itself at parse time.
            refuses "m a\\\\=\"=\"" "ambiguous field set: InfluxDB reads key a\\\\=\" with value \", which is not a valid field value"
            refuses "cpu value\\\\=\"a=b\" 1700000000000000000" "ambiguous field set: InfluxDB reads key value\\\\=\"a with value b\", which is not a valid field value"
            refuses "m a\\\\=1" "invalid value: field-key=a\\\\=1"
            // InfluxDB's parser walks every field before its storage reads a value: its refusal comes first.
            refuses "m a=-2i,a\\==\"x,y=1\",a\\\\=\"=\\\",\"" "invalid value: field-key=\""
            // Read another way, but every field it finds is one InfluxDB stores (here a field named `a\=1,b`).
            accepts "m a\\\\=1,b=2 1"
            accepts "m path=\"C:\\\\dir\\\\\",s=\"x,y=1\",q=\"say \\\"hi\\\"\""
            // InfluxDB's first reading lets text follow a closing quote, its second reads `"x"y`, and it stores `x"`.
            refuses "m a=\"x\"y,b=1" "ambiguous field set: InfluxDB reads key a with value \"x\"y, which is not a valid field value"
        }

        test "a body is only malformed when it has lines and none parses" {
            let onlyMalformed (body: string) = LineScanner.OnlyMalformed(ReadOnlySpan(Encoding.UTF8.GetBytes body), Nanosecond)
            Expect.isTrue (onlyMalformed "bad\n# comment\nworse value=") "bad lines only"
            Expect.isFalse (onlyMalformed "bad\nm v=1") "one line parses"
            Expect.isFalse (onlyMalformed "m,time=1 v=1\nbad") "one line parses, though storage refuses it"
            Expect.isFalse (onlyMalformed "") "no line"
            Expect.isFalse (onlyMalformed "\n# comment\n") "blank lines only"
        }

        test "a series key, or a series key with one of its field keys, over 64 KiB is refused with InfluxDB's sizes" {
            let padding = "\n#" + System.String(' ', 160)
            for line, reason in
                [ "m," + System.String('t', 65535) + "=1 v=1", Some "max key length exceeded: 65539 > 65535"
                  "m " + System.String('k', 65531) + "=1", Some "max key length exceeded: 65536 > 65535"
                  "m v=1," + System.String('k', 65531) + "=\"s\"", Some "max key length exceeded: 65536 > 65535"
                  "m " + System.String('k', 65530) + "=1", None
                  "m,t=1 " + System.String('k', 65526) + "=1 5", None ] do
                for body in [ line; line + padding ] do
                    match one Nanosecond body, reason with
                    | Error(_, actual), Some expected -> Expect.equal actual expected (string line.Length)
                    | Ok _, None -> ()
                    | other, _ -> failtestf "%d bytes: %A" line.Length other
        }

        test "a tag key named twice is refused as InfluxDB 1.6 does, whatever the order, after the tags' own syntax" {
            refuses "cpu,a=1,a=2 value=1" "duplicate tags"
            refuses "cpu,b=1,a=2,b=3 value=1" "duplicate tags"
            refuses "cpu,a\\=b=1,a\\=b=2 value=1" "duplicate tags"
            refuses "cpu,a=1,a=2 value=" "duplicate tags"
            refuses "cpu,a=1,a=2,c= value=1" "missing tag value"
            accepts "cpu,a=1,b=1 value=1"
            accepts "cpu,b=1,a=1,ab=1 value=1"
            accepts "cpu,a\\=b=1,a=b\\=1 value=1"
        }

        test "precisions convert to nanoseconds" {
            for precision, stamp in [ Second, "1600000000"; Millisecond, "1600000000000"; Microsecond, "1600000000000000"; Nanosecond, "1600000000000000000" ] do
                Expect.equal (one precision ("cpu value=1 " + stamp)) (Ok("cpu", "cpu value=1", Some 1600000000000000000L)) (string precision)
            Expect.equal (one Minute "cpu value=1 26666666") (Ok("cpu", "cpu value=1", Some 1599999960000000000L)) "minutes"
            Expect.equal (one Hour "cpu value=1 1") (Ok("cpu", "cpu value=1", Some 3_600_000_000_000L)) "hours"
        }

        test "negative timestamps are kept; overflowing ones are refused, never wrapped" {
            Expect.equal (one Second "cpu value=1 -100") (Ok("cpu", "cpu value=1", Some -100_000_000_000L)) "negative"
            match one Second "cpu value=1 9999999999" with
            | Error(_, reason) -> Expect.stringStarts reason "time outside range" "seconds overflow"
            | ok -> failtestf "accepted %A" ok
            match one Hour "cpu value=1 99999999999" with
            | Error(_, reason) -> Expect.stringStarts reason "time outside range" "hours overflow"
            | ok -> failtestf "accepted %A" ok
            // InfluxDB keeps the two lowest and the highest int64 for itself.
            for reserved in [ "9223372036854775807"; "-9223372036854775807" ] do
                match one Nanosecond ("cpu value=1 " + reserved) with
                | Error(_, reason) -> Expect.stringStarts reason "time outside range" reserved
                | ok -> failtestf "accepted %A" ok
            for edge in [ 9223372036854775806L; -9223372036854775806L ] do
                Expect.equal (one Nanosecond $"cpu value=1 {edge}") (Ok("cpu", "cpu value=1", Some edge)) (string edge)
        }
    ]

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

let private laws =
    testList "laws" [
        testPropertyWithConfig config "a formatted point scans back to its measurement and timestamp"
            (Prop.forAll (Arb.fromGen Arb.linePoint) (fun point ->
                let line = Arb.formatLine point
                one Nanosecond line = Ok(point.Measurement, line.Substring(0, line.Length - (point.Timestamp |> Option.map (fun t -> (sprintf " %d" t).Length) |> Option.defaultValue 0)), point.Timestamp)))

        testPropertyWithConfig config "a body scans to the same points as its lines one by one"
            (Prop.forAll (Arb.fromGen (Gen.nonEmptyListOf Arb.linePoint)) (fun points ->
                let lines = points |> List.map Arb.formatLine
                scanAll Nanosecond (String.concat "\n" lines) = List.collect (scanAll Nanosecond) lines))

        testPropertyWithConfig config "scanning never throws and always advances, whatever the bytes"
            (fun (bytes: byte array) ->
                let bytes = if isNull bytes then [||] else bytes
                let mutable offset = 0
                let mutable steps = 0
                while offset < bytes.Length do
                    let line = LineScanner.Scan(ReadOnlySpan bytes, offset, Second)
                    if line.Next <= offset then failwithf "stuck at %d" offset
                    offset <- line.Next
                    steps <- steps + 1
                steps <= bytes.Length)

        testPropertyWithConfig config "mutating a valid line never makes the scanner throw"
            (Prop.forAll (Arb.fromGen (Gen.zip Arb.linePoint (Gen.zip (Gen.choose (0, 200)) (Gen.elements [ ' '; ','; '='; '"'; '\\'; '\n'; 'x'; '1'; '-' ])))) (fun (point, (at, c)) ->
                let line = Arb.formatLine point
                let at = at % (line.Length + 1)
                scanAll Second (line.Insert(at, string c)) |> ignore
                scanAll Second (line.Remove(min at (line.Length - 1), 1)) |> ignore
                true))
    ]

/// A valid line and some edits of it: inserted, removed and replaced characters that matter to the grammar.
/// Lines without quotes or backslashes, the vectorised path's domain: well-formed ones, then up to three edits with the
/// bytes that matter to its structure.
let private plainLines =
    let token = Gen.elements [ "a"; "b"; "ab"; "cpu"; "host"; "x9"; "eu-west"; "温"; "N"; "t"; "time"; "time"; "tim" ]
    let value = Gen.elements [ "1"; "-1"; "1.5"; ".5"; "-.5"; "1e3"; "1.5E-3"; "12i"; "-12i"; "7u"; "t"; "F"; "true"; "FALSE"; "99999999999999999999i"; "1.2.3"; "-7u"; "1."; "-0"; "12345678901234567i"; "123456789012345678i"; "12345678901234567.5" ]
    gen {
        let! measurement = token
        let! tags = Gen.listOf (Gen.zip token token) |> Gen.map (List.truncate 4)
        let! fields = Gen.choose (1, 4) |> Gen.bind (fun n -> Gen.listOfLength n (Gen.zip token value))
        let! timestamp = Gen.elements [ ""; " 1"; " -5"; " 1600000000000000000"; " 9223372036854775807"; " 99999999999999999999"; " 12x" ]
        let line =
            measurement + (tags |> List.map (fun (k, v) -> sprintf ",%s=%s" k v) |> String.concat "")
            + " " + (fields |> List.map (fun (k, v) -> sprintf "%s=%s" k v) |> String.concat ",") + timestamp
        let edit (line: string) =
            gen {
                let! at = Gen.choose (0, line.Length)
                let! c = Gen.elements [ ' '; ','; '='; '-'; '.'; 'i'; 'u'; 'e'; 't'; '\t'; '0'; '9'; 'a' ]
                return!
                    Gen.elements [
                        line.Insert(at, string c)
                        (if line.Length > 0 then line.Remove(min at (line.Length - 1), 1) else line)
                        (if at < line.Length then line.Remove(at, 1).Insert(at, string c) else line) ]
            }
        let! edits = Gen.choose (0, 3)
        let mutable result = Gen.constant line
        for _ in 1..edits do result <- Gen.bind edit result
        return! result
    }

let private mutatedLines =
    gen {
        let! generated = Arb.linePoint
        // Keys named `time`, which InfluxDB's storage refuses as a tag and skips as a field.
        let! point =
            Gen.elements [ generated
                           { generated with Tags = ("time", "v") :: generated.Tags |> List.distinctBy fst }
                           { generated with Fields = [ "time", "\"x\"" ] }
                           { generated with Fields = ("time", "1") :: generated.Fields } ]
        let line = Arb.formatLine point
        let! at = Gen.choose (0, line.Length)
        let! c = Gen.elements [ ' '; ','; '='; '"'; '\\'; 'x'; '1'; '-'; '.'; 'i'; 'u'; 'e'; '\t' ]
        return!
            Gen.elements [
                line
                line.Insert(at, string c)
                (if line.Length > 0 then line.Remove(min at (line.Length - 1), 1) else line)
                (if at < line.Length then line.Remove(at, 1).Insert(at, string c) else line) ]
    }
    |> Gen.filter (fun l -> not (l.Contains "\n"))

/// Lines whose field sets InfluxDB may read two ways: keys ending in backslashes, `=` and commas inside strings,
/// escaped quotes; then up to two edits with the bytes the two readings treat differently.
let private escapedLines =
    let key = Gen.elements [ "a"; "b"; "a\\"; "a\\\\"; "a\\="; "k\\ x"; "\\\""; "v" ]
    let value =
        Gen.elements [ "1"; "-2i"; "t"; "\"x\""; "\"=\""; "\"a=b\""; "\"=1\""; "\"=1i\""; "\"=t\""; "\"x,y=1\""; "\"\\\\\""
                       "\"\\\"\""; "\"=\\\"\""; "\"=t,b=1\""; "\"=1,\""; "\"\"" ]
    gen {
        let! fields = Gen.nonEmptyListOf (Gen.zip key value) |> Gen.map (List.truncate 3)
        let! timestamp = Gen.elements [ ""; " 1" ]
        let line = "m " + (fields |> List.map (fun (k, v) -> k + "=" + v) |> String.concat ",") + timestamp
        let edit (line: string) =
            gen {
                let! at = Gen.choose (2, line.Length)
                let! c = Gen.elements [ '\\'; '"'; '='; ','; '1' ]
                return line.Insert(at, string c)
            }
        let! edits = Gen.choose (0, 2)
        let mutable result = Gen.constant line
        for _ in 1..edits do result <- Gen.bind edit result
        return! result
    }

let private reference =
    testList "reference grammar" [
        test "the FParsec grammar reads the examples as InfluxDB does" {
            let ok (line: string) = Expect.isOk (LineGrammar.parseLine line) line
            let bad (line: string) = Expect.isError (LineGrammar.parseLine line) line
            ok "cpu,host=a,region=eu f=1.5,i=-2i,s=\"x y\",b=true 1600000000000000000"
            ok "a\\ \\ b value=1 1"
            ok "cpu value=\"C:\\\\path\" 1"
            ok "cpu,host=a\"b value=1 1"
            ok "cpu  value=1  1"
            for line in [ "cpu"; "cpu 1"; ",h=a v=1"; "cpu,h= v=1"; "cpu v="; "cpu v=1.2.3"; "cpu v=tru"; "cpu v=\"open"; "cpu v=1 1 2"
                          "cpu v=99999999999999999999i"; "cpu v=1\t16x"; "cpu,a=1,b=2,a=3 v=1"; "cpu v=3u" ] do
                bad line
            Expect.equal (LineGrammar.parseLine "\t m v=1") (Ok { Measurement = "m"; Tags = []; Fields = [ "v", Float 1.0 ]; Timestamp = None }) "leading blanks (replayed shrunk failure)"
            Expect.equal (LineGrammar.parseLine "c\\,pu,t\\=k=v\\ x f\\ k=\"a\\\"b\" -5")
                (Ok { Measurement = "c,pu"; Tags = [ "t=k", "v x" ]; Fields = [ "f k", String "a\"b" ]; Timestamp = Some -5L }) "unescaped"
        }

        testPropertyWithConfig config "the FParsec grammar reads a formatted point back"
            (Prop.forAll (Arb.fromGen Arb.linePoint) (fun point ->
                match LineGrammar.parseLine (Arb.formatLine point) with
                | Ok parsed -> parsed.Measurement = point.Measurement && parsed.Timestamp = point.Timestamp && parsed.Tags = point.Tags
                | Error _ -> false))

        test "the vectorised path gives what the general scanner gives on lines at its edges" {
            let padding = "\n#" + System.String(' ', 160)
            for line in [ "cpu,host=a=value=1"; "cpu,host=a=b value=1"; "m,a=1,a=2 f=1"; "m,b=1,a=1 f=1"; "m,b=1,a=1,b=2 f=1"
                          "m f="; "m f=1,"; "m f=1 "; "m  f=1"; "m f=1  1"; "m f=1 1 "; "m,a= f=1"; "m,=a f=1"; "m, f=1"
                          "m f=1,=2"; "m f=t,g=x"; "m f=1i,g=1u 5"; "m f=-"; "m f=1e"; "m f=1,g=2 -"; "m f=1 -"; "m=x f=1"
                          "m,a=1\tb f=1"; "m f=1\t1"; "m\tf=1"; ",m f=1"; "m f=1 99999999999999999999"; "m f=1,g=2,h=3 1"
                          "m,a=1 =1"; "m,a=1 f=1=2"; "m f=1,f=2"; "m f=1.5.5 1"; "m f=NaN"; "m f=T 1"; "m f=tru 1"
                          "m,time=1 f=1"; "m,a=1,time=1 f=1 5"; "m time=1"; "m time=1,time=t 5"; "m time=1,f=1"; "m f=1,time=1" ] do
                Expect.equal (scanAll Nanosecond (line + padding)) (scanAll Nanosecond line) line
        }

        testPropertyWithConfig { config with maxTest = 5000 } "a plain line scans the same whether the body ends with it or goes on (vectorised path or not)"
            (Prop.forAll (Arb.fromGen plainLines) (fun line ->
                // The path for lines without quotes or backslashes looks 64 bytes ahead, so it only runs when enough of
                // the body follows; a quote or a backslash could carry a line over the newline.
                let alone = scanAll Nanosecond line
                let followed = scanAll Nanosecond (line + "\n#" + System.String(' ', 160))
                alone = followed))

        test "the reference's second reading refuses what InfluxDB's refuses, in the proxy's words" {
            Expect.equal (LineGrammar.secondReading "a\\\\=\"=\"") (Error(AmbiguousFieldSet("a\\\\=\"", "\""))) "one quote"
            Expect.equal (LineGrammar.secondReading "a\\\\=1") (Error(FieldWithoutValue "a\\\\=1")) "no value"
            Expect.equal (LineGrammar.secondReading "a\\\\=1,b=2") (Ok()) "a field named a\\=1,b"
            Expect.isError (LineGrammar.parseLine "m a\\\\=\"=\"") "parseLine reads twice"
        }

        testPropertyWithConfig { config with maxTest = 3000 } "fast scanner refuses exactly what the second reading of a field set refuses, in the same words"
            (Prop.forAll (Arb.fromGen escapedLines) (fun line ->
                match LineGrammar.parseLine line, scanAll Nanosecond line with
                | Ok point, [ Ok(measurement, _, timestamp) ] -> measurement = point.Measurement && timestamp = point.Timestamp
                | Ok _, _ -> false
                | Error(ReadOtherwise error), [ Error(_, scanned) ] -> scanned = LineError.text error
                | Error(ReadOtherwise _), _ -> false
                | Error(NotInGrammar _), _ -> true))

        testPropertyWithConfig { config with maxTest = 1000 } "fast scanner agrees with FParsec on every line FParsec accepts, and with what storage makes of it"
            (Prop.forAll (Arb.fromGen (Gen.oneof [ mutatedLines; plainLines ])) (fun line ->
                match LineGrammar.parseLine line with
                | Ok point when point.Timestamp |> Option.forall (Precision.tryToNanoseconds Nanosecond >> ValueOption.isSome) ->
                    kinds line = [ LineGrammar.storageKind point ]
                    && match scanAll Nanosecond line with
                       | [ Ok(measurement, _, timestamp) ] -> measurement = point.Measurement && timestamp = point.Timestamp
                       | [ Error _ ] -> LineGrammar.storageKind point <> LineKind.Point
                       | _ -> false
                | _ -> true))
    ]

let tests = testList "LineProtocol" [ examples; reference; laws ]
