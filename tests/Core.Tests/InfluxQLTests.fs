module InfluxProxy.Core.Tests.InfluxQLTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open InfluxProxy.Core

let private parsed (q: string) =
    match InfluxQL.parse q with
    | Ok [ s ] -> s
    | other -> failtestf "%s: %A" q other

let private dbOf (s: Statement) =
    s.On |> Option.orElse (s.Sources |> List.collect Source.databases |> List.tryHead)

let private measurementOf (s: Statement) = Source.single s.Sources |> Option.map snd

let private forbidden (q: string) =
    match InfluxQL.parse q with
    | Error(Forbidden _) -> ()
    | other -> failtestf "%s was not refused: %A" q other

let private examples =
    testList "examples" [
        test "the databases of the upstream extraction table" {
            for q, db in
                [ "CREATE DATABASE \"foo\"", "foo"
                  "CREATE DATABASE \"bar\" WITH DURATION 1d REPLICATION 1 SHARD DURATION 30m NAME \"myrp\"", "bar"
                  "CREATE DATABASE \"mydb\" WITH NAME \"myrp\"", "mydb"
                  "CREATE RETENTION POLICY \"10m.events\" ON \"somedb\" DURATION 60m REPLICATION 2 SHARD DURATION 30m", "somedb"
                  "DROP DATABASE \"mydb\"", "mydb"
                  "DROP RETENTION POLICY \"1h.cpu\" ON \"mydb\"", "mydb"
                  "SHOW FIELD KEY EXACT CARDINALITY ON mydb", "mydb"
                  "SHOW MEASUREMENT EXACT CARDINALITY ON mydb", "mydb"
                  "SHOW RETENTION POLICIES ON \"mydb\"", "mydb"
                  "SHOW SERIES CARDINALITY ON mydb", "mydb"
                  "SHOW SERIES EXACT CARDINALITY ON mydb", "mydb"
                  "CREATE DATABASE foo;", "foo"
                  "CREATE DATABASE \"f.oo\"", "f.oo"
                  "CREATE DATABASE \"f,oo\"", "f,oo"
                  "CREATE DATABASE \"f oo\"", "f oo"
                  "CREATE DATABASE \"f\\\"oo\"", "f\"oo"
                  "DROP SERIES FROM \"telegraf\"..\"cp u\" WHERE cpu = 'cpu8'", "telegraf"
                  "select * from \"d.b\".\"autogen\".\"cpu.load\"", "d.b" ] do
                Expect.equal (dbOf (parsed q)) (Some db) q
        }

        test "the measurements of the upstream extraction table" {
            for q, m in
                [ "DELETE FROM \"cpu\"", "cpu"
                  "DELETE FROM \"cpu\" WHERE time < '2000-01-01T00:00:00Z'", "cpu"
                  "DROP MEASUREMENT cpu;", "cpu"
                  "DROP MEASUREMENT \"cpu\"", "cpu"
                  "DROP SERIES FROM \"cpu\" WHERE cpu = 'cpu8'", "cpu"
                  "DROP SERIES FROM \"telegraf\"..\"cp u\" WHERE cpu = 'cpu8'", "cp u"
                  "DROP SERIES FROM \"telegraf\".\"autogen\".\"cp u\" WHERE cpu = 'cpu8'", "cp u"
                  "select * from cpu", "cpu"
                  "select * from \"cpu\"", "cpu"
                  "select * from \"c\\\"pu\"", "c\"pu"
                  "select * from \"db\".\"autogen\".\"cpu.load\"", "cpu.load"
                  "SELECT mean(\"value\") FROM \"cpu\" WHERE \"region\" = 'uswest' GROUP BY time(10m) fill(0)", "cpu"
                  "SHOW FIELD KEYS FROM \"cpu\"", "cpu"
                  "SHOW FIELD KEYS FROM \"1h\".\"cpu\"", "cpu"
                  "SHOW FIELD KEYS FROM \"cpu.load\"", "cpu.load"
                  "SHOW SERIES FROM \"telegraf\".\"autogen\".\"cp.u\" WHERE cpu = 'cpu8'", "cp.u"
                  "SHOW TAG KEYS FROM cpu", "cpu"
                  "SHOW TAG KEYS FROM \"cpu\" WHERE \"region\" = 'uswest'", "cpu"
                  "SHOW TAG VALUES FROM \"cpu\" WITH KEY = \"region\"", "cpu"
                  "SHOW TAG VALUES FROM \"cpu\" WITH KEY IN (\"region\", \"host\") WHERE \"service\" = 'redis'", "cpu" ] do
                Expect.equal (measurementOf (parsed q)) (Some m) q
        }

        test "regex and several sources are not one measurement" {
            Expect.equal (parsed "SELECT * FROM /cpu.*/").Sources [ MeasurementRegex(None, None, "cpu.*") ] "regex"
            Expect.isNone (measurementOf (parsed "SELECT * FROM cpu, mem")) "two"
            Expect.equal (parsed "SELECT * FROM db.rp./a\\/b/").Sources [ MeasurementRegex(Some "db", Some "rp", "a/b") ] "escaped slash"
        }

        test "forbidden statements, whatever their case, spacing, comments or quoting" {
            for q in
                [ "ALTER RETENTION POLICY \"1h.cpu\" ON \"mydb\" DEFAULT"; "alter retention policy x on y duration 1h"
                  "GRANT READ ON \"mydb\" TO \"jdoe\""; "REVOKE ALL PRIVILEGES FROM \"jdoe\""; "/* x */ GrAnT ALL TO bob"
                  "-- c\nKILL QUERY 3"; "CREATE USER bob WITH PASSWORD 'x'"; "DROP USER bob"; "SET PASSWORD FOR bob = 'x'"
                  "CREATE SUBSCRIPTION \"sub0\" ON \"mydb\".\"autogen\" DESTINATIONS ALL 'udp://example.com:9090'"
                  "DROP CONTINUOUS QUERY \"myquery\" ON \"mydb\""; "SELECT mean(\"value\") INTO \"cpu_1h\".:MEASUREMENT FROM /cpu.*/"
                  "SeLeCt\t*\nINTO x FROM y"; "select * from (select * /* c */ into z from y)"; "SHOW USERS"; "SHOW QUERIES"
                  "SELECT * FROM cpu; DROP SHARD 1" ] do
                forbidden q
        }

        test "quoted names take InfluxQL's escapes and refuse others" {
            Expect.equal (measurementOf (parsed "SELECT * FROM \"c\\'pu\"")) (Some "c'pu") "escaped single quote"
            Expect.equal (measurementOf (parsed "SELECT * FROM \"a\\nb\"")) (Some "a\nb") "\\n is a newline"
            Expect.isError (InfluxQL.parse "SELECT * FROM \"a\\qb\"") "unknown escape"
            Expect.isError (InfluxQL.parse "SELECT * FROM \"a\nb\"") "raw newline in a quoted name"
        }

        test "INTO as a quoted name is not the INTO keyword" {
            Expect.equal (measurementOf (parsed "SELECT * FROM \"into\"")) (Some "into") "quoted"
        }

        test "a semicolon inside a string, identifier, regex or comment does not split statements" {
            for q in
                [ "SELECT * FROM cpu WHERE host = 'a;b'"; "SELECT * FROM \"c;pu\""; "SELECT * FROM cpu WHERE host =~ /a;b/"
                  "SELECT * FROM cpu -- x; GRANT ALL TO bob"; "SELECT * FROM cpu /* ; */"; "SELECT * FROM cpu GROUP BY /ho;st/" ] do
                Expect.equal (InfluxQL.parse q |> Result.map List.length) (Ok 1) q
        }

        test "several statements keep their order and their own text" {
            match InfluxQL.parse "CREATE DATABASE a; SELECT * FROM a..cpu ;; SHOW MEASUREMENTS ON a;" with
            | Ok [ a; b; c ] ->
                Expect.equal [ a.Text; b.Text; c.Text ] [ "CREATE DATABASE a"; "SELECT * FROM a..cpu"; "SHOW MEASUREMENTS ON a" ] "texts"
            | other -> failtestf "%A" other
        }

        test "empty queries and syntax errors are parse errors" {
            for q in [ ""; ";"; " ; ; "; "-- only a comment" ] do
                Expect.equal (InfluxQL.parse q) (Error(ParseError "empty query")) q
            for q in [ "SELECT * FROM cpu WHERE host = 'open"; "SELECT * FROM"; "SHOW TAG VALUES FROM \"open" ] do
                match InfluxQL.parse q with
                | Error(ParseError _) -> ()
                | other -> failtestf "%s: %A" q other
        }

        test "LIMIT and OFFSET at the top level; fan-out text asks for both" {
            let s = parsed "SHOW MEASUREMENTS WITH MEASUREMENT =~ /c.*/ LIMIT 10 OFFSET 5"
            Expect.equal (s.Limit, s.Offset) (Some 10, Some 5) "paging"
            Expect.equal s.UnpagedText "SHOW MEASUREMENTS WITH MEASUREMENT =~ /c.*/ LIMIT 15" "unpaged"
            Expect.equal (parsed "SHOW MEASUREMENTS LIMIT 2147483647 OFFSET 1").UnpagedText "SHOW MEASUREMENTS LIMIT 2147483648" "no overflow"
            let sub = parsed "SELECT * FROM (SELECT * FROM cpu LIMIT 3) SLIMIT 2"
            Expect.equal (sub.Limit, sub.Offset) (None, None) "inner LIMIT and SLIMIT are not the statement's paging"
        }

        test "a bound parameter as the LIMIT or OFFSET is refused: the proxy could not page a merged answer" {
            forbidden "SHOW MEASUREMENTS LIMIT $n"
            forbidden "SHOW MEASUREMENTS LIMIT 10 OFFSET $o"
            forbidden "select * from /c.*/ where host = $h limit   $n"
            Expect.equal (parsed "SELECT * FROM cpu WHERE host = $h LIMIT 3").Limit (Some 3) "bound elsewhere"
            Expect.equal (parsed "SELECT * FROM (SELECT * FROM cpu LIMIT $n) LIMIT 2").Limit (Some 2) "inside a subquery, the backend's"
        }
    ]

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

let private withoutText (s: Statement) = { s with Text = ""; UnpagedText = "" }

/// Upper-cases, lower-cases or keeps each keyword-looking word and widens every space into other blanks or a comment.
let private mutate (random: Random) (text: string) =
    let sb = Text.StringBuilder()
    let mutable quote = None
    let mutable i = 0
    while i < text.Length do
        let c = text[i]
        match quote with
        | Some _ when c = '\\' && i + 1 < text.Length ->
            sb.Append(c).Append(text[i + 1]) |> ignore
            i <- i + 1
        | Some q when c = q -> quote <- None; sb.Append c |> ignore
        | Some _ -> sb.Append c |> ignore
        | None when c = '"' || c = '\'' || c = '/' -> quote <- Some c; sb.Append c |> ignore
        | None when c = ' ' ->
            sb.Append(match random.Next 4 with 0 -> "  " | 1 -> "\t" | 2 -> " /* c */ " | _ -> "\n ") |> ignore
        | None -> sb.Append(if random.Next 2 = 0 then Char.ToLowerInvariant c else Char.ToUpperInvariant c) |> ignore
        i <- i + 1
    sb.ToString()

let private laws =
    testList "laws" [
        testPropertyWithConfig config "print then parse is identity" (Prop.forAll (Arb.fromGen Arb.statement) (fun s ->
            InfluxQL.parse (InfluxQLPrinter.print s) |> Result.map (List.map withoutText) = Ok [ withoutText s ]))

        testPropertyWithConfig config "case, blanks and comments do not change the classification"
            (Prop.forAll (Arb.fromGen (Gen.zip Arb.statement (Gen.choose (0, 1000)))) (fun (s, seed) ->
                let text = InfluxQLPrinter.print s
                let mutated = mutate (Random seed) text
                (InfluxQL.parse mutated |> Result.map (List.map (fun p -> p.Kind, p.Sources, p.Limit)))
                = (InfluxQL.parse text |> Result.map (List.map (fun p -> p.Kind, p.Sources, p.Limit)))))

        testPropertyWithConfig config "the parser never throws" (fun (text: string) ->
            InfluxQL.parse (if isNull text then "" else text) |> ignore
            true)

        test "long garbage is refused quickly" {
            let watch = Diagnostics.Stopwatch.StartNew()
            Expect.isError (InfluxQL.parse (String.replicate 5000 "(( 'x ")) "garbage"
            Expect.isError (InfluxQL.parse (String.replicate 5000 "SELECT ")) "repeated keywords"
            Expect.isLessThan watch.Elapsed.TotalSeconds 5.0 "no pathological backtracking"
        }

        test "huge queries parse without exhausting the stack; deep subquery nesting is refused" {
            Expect.equal (InfluxQL.parse ("SELECT " + String.replicate 200_000 "a+" + "a FROM x") |> Result.map List.length) (Ok 1) "200k tokens"
            Expect.equal (InfluxQL.parse ("SELECT " + String.replicate 100_000 "(" + "a" + String.replicate 100_000 ")" + " FROM x") |> Result.map List.length) (Ok 1) "deep parentheses"
            Expect.isError (InfluxQL.parse (String.replicate 1000 "SELECT * FROM (" + "SELECT * FROM x" + String.replicate 1000 ")")) "1000 nested subqueries"
        }
    ]

let tests = testList "InfluxQL" [ examples; laws ]
