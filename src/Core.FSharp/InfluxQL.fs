/// InfluxQL, parsed far enough to route a query safely: which statement, which database, which measurements.
/// Lexical rules follow the InfluxQL spec (https://docs.influxdata.com/influxdb/v1/query_language/spec/):
/// identifiers bare or double-quoted, string literals single-quoted, regex literals between slashes, keywords in
/// any case, `--` and `/* */` comments, statements separated by `;` outside literals and comments.
/// Expressions are not evaluated: the tokens after the parts routing needs are only scanned, to find LIMIT/OFFSET
/// and any INTO, and to keep a `;` inside a literal from splitting a statement.
namespace InfluxProxy.Core

open System
open FParsec

/// A FROM source. Subqueries contribute their own sources.
type Source =
    | Measurement of db: string option * rp: string option * name: string
    | MeasurementRegex of db: string option * rp: string option * pattern: string
    | Subquery of Source list

type StatementKind =
    | Select
    | ShowDatabases
    | ShowMeasurements
    | ShowSeries
    | ShowTagKeys
    | ShowTagValues
    | ShowFieldKeys
    | ShowRetentionPolicies
    | ShowStats
    | ShowDiagnostics
    /// `SHOW SERIES|MEASUREMENT|TAG KEY|TAG VALUES|FIELD KEY [EXACT] CARDINALITY`
    | ShowCardinality of what: string
    | CreateDatabase of name: string
    | DropDatabase of name: string
    | CreateRetentionPolicy of name: string
    | DropRetentionPolicy of name: string
    | Delete
    | DropSeries
    | DropMeasurement of name: string

/// One statement: what routing needs, and its own text to forward.
type Statement =
    { Kind: StatementKind
      /// The database of an `ON <db>` clause.
      On: string option
      Sources: Source list
      Limit: int option
      Offset: int option
      Text: string
      /// The text with `LIMIT n OFFSET m` turned into `LIMIT n+m`, for backends whose answers are merged.
      UnpagedText: string }

type QueryError =
    | ParseError of string
    | Forbidden of string

module Source =
    /// Every database a source names, subqueries included.
    let rec databases =
        function
        | Measurement(Some db, _, _)
        | MeasurementRegex(Some db, _, _) -> [ db ]
        | Subquery sources -> List.collect databases sources
        | _ -> []

    /// The single measurement (and its db, if named) the sources reduce to, or None when they are several or a regex.
    let rec single (sources: Source list) =
        match sources with
        | [ Measurement(db, _, name) ] -> Some(db, name)
        | [ Subquery inner ] -> single inner
        | _ -> None

module InfluxQL =

    type private P<'a> = Parser<'a, bool>

    // ---------------------------------------------------------------- lexical syntax
    // The user state says whether the last token ended a value; a `/` then divides, otherwise it opens a regex.

    let private comment: P<unit> =
        (skipString "--" >>. skipRestOfLine true) <|> (skipString "/*" >>. skipCharsTillString "*/" true Int32.MaxValue)

    let private ws: P<unit> = skipMany ((skipMany1Satisfy Char.IsWhiteSpace) <|> attempt comment)

    let private isIdentStart c = Char.IsAsciiLetter c || c = '_'
    let private isIdentChar c = Char.IsAsciiLetterOrDigit c || c = '_'

    let private valueEnded ended: P<unit> = updateUserState (fun _ -> ended)

    /// A keyword, in any case, not the prefix of a longer identifier.
    let private keyword (word: string) : P<unit> =
        attempt (skipStringCI word >>. notFollowedBy (satisfy isIdentChar)) >>. valueEnded false >>. ws

    let private keywords (words: string) : P<unit> =
        words.Split ' ' |> Array.map keyword |> Array.reduce (>>.) |> attempt

    /// The inside of a quoted identifier or string, with InfluxQL's escapes (influxql ScanString): `\n`, `\\`,
    /// `\"` and `\'`; any other escape, and a raw newline, are errors.
    let private escapedUntil (quote: char) : P<string> =
        let plain = manySatisfy (fun c -> c <> quote && c <> '\\' && c <> '\n')
        let escape =
            pchar '\\' >>. anyChar >>= fun c ->
                match c with
                | 'n' -> preturn "\n"
                | '\\' | '"' | '\'' -> preturn (string c)
                | _ -> fail (sprintf "bad escape \\%c" c)
        stringsSepBy plain escape

    /// identifier = unquoted_identifier | quoted_identifier
    let private identifierNoWs: P<string> =
        (between (pchar '"') (pchar '"') (escapedUntil '"')) <|> many1Satisfy2 isIdentStart isIdentChar

    let private identifier: P<string> = identifierNoWs .>> valueEnded true .>> ws

    /// regex_lit = "/" { unicode_char } "/"  (only `\/` is an escape; other backslashes belong to the regex)
    let private regexNoWs: P<string> =
        let plain = manySatisfy (fun c -> c <> '/' && c <> '\\' && c <> '\n')
        let escape = pchar '\\' >>. anyChar |>> fun c -> if c = '/' then "/" else "\\" + string c
        between (pchar '/') (pchar '/') (stringsSepBy plain escape)

    /// A scanned token: bare words upper-cased, numbers as written, parentheses, "" for anything else; with its span.
    type internal Token = { Word: string; Start: int64; End: int64 }

    /// Any token of an expression or clause.
    let private token: P<Token> =
        let word = many1Satisfy2 isIdentStart isIdentChar |>> fun w -> w.ToUpperInvariant()
        // After these words an expression or a regex starts, so a `/` opens a regex.
        let beforeExpression = set [ "SELECT"; "FROM"; "WHERE"; "AND"; "OR"; "NOT"; "BY"; "WITH"; "KEY"; "MEASUREMENT"; "IN" ]
        let number = many1Satisfy (fun c -> Char.IsAsciiDigit c || c = '.') .>> manySatisfy isIdentChar
        let regexOrSlash =
            userStateSatisfies not >>. attempt regexNoWs >>% "" .>> valueEnded true
            <|> (pchar '/' >>% "" .>> valueEnded false)
        let core =
            choice [
                word >>= fun w -> valueEnded (not (beforeExpression.Contains w)) >>% w
                between (pchar '\'') (pchar '\'') (escapedUntil '\'') >>% "" .>> valueEnded true
                between (pchar '"') (pchar '"') (escapedUntil '"') >>% "" .>> valueEnded true
                number .>> valueEnded true
                pchar ')' >>% ")" .>> valueEnded true
                pchar '(' >>% "(" .>> valueEnded false
                regexOrSlash
                satisfy (fun c -> c <> ';') >>% "" .>> valueEnded false ]
        pipe3 getPosition core getPosition (fun start word finish -> { Word = word; Start = start.Index; End = finish.Index })
        .>> ws

    // ---------------------------------------------------------------- hierarchical syntax

    /// measurement = [ db "." [ rp ] "." | rp "." ] ( identifier | regex_lit )
    let private measurementSource: P<Source> =
        let part = (regexNoWs |>> Choice2Of2) <|> (identifierNoWs |>> Choice1Of2)
        sepBy1 (opt part) (pchar '.') .>> valueEnded true .>> ws
        >>= fun parts ->
            let last, qualifiers =
                match List.rev parts with
                | Some last :: rest -> Some last, List.rev rest
                | _ -> None, []
            let name = function Some(Choice1Of2 n) -> Some n | _ -> None
            match last, qualifiers with
            | None, _ -> fail "a measurement name or regex is required"
            | _, qs when qs |> List.exists (function Some(Choice2Of2 _) -> true | _ -> false) -> fail "a regex may only be the last part of a source"
            | Some m, qs ->
                let db, rp =
                    match qs with
                    | [] -> None, None
                    | [ rp ] -> None, name rp
                    | [ db; rp ] -> name db, name rp
                    | _ -> None, None
                if qs.Length > 2 then fail "a source has at most db.rp.measurement"
                else
                    match m with
                    | Choice1Of2 n -> preturn (Measurement(db, rp, n))
                    | Choice2Of2 r -> preturn (MeasurementRegex(db, rp, r))

    let private selectRef, private selectImpl = createParserForwardedToRef<Source list * Token list, bool> ()

    /// source = measurement | "(" select_stmt ")" ; a subquery's tokens count as the statement's own (for INTO).
    let private source: P<Source * Token list> =
        (pchar '(' >>. ws >>. keyword "SELECT" >>. selectRef .>> pchar ')' .>> valueEnded true .>> ws
         |>> fun (inner, tokens) ->
             // The subquery's own tokens stay inside parentheses: its LIMIT is not the statement's.
             let wrap word = { Word = word; Start = 0L; End = 0L }
             Subquery inner, wrap "(" :: tokens @ [ wrap ")" ])
        <|> (measurementSource |>> fun m -> m, [])

    let private sourcesWithTokens: P<Source list * Token list> =
        sepBy1 source (pchar ',' >>. valueEnded false >>. ws) |>> fun list -> List.map fst list, List.collect snd list

    let private sources: P<Source list> = sourcesWithTokens |>> fst

    /// Tokens up to `;`, the end, an unbalanced `)`, or (with `stopAtFrom`) FROM outside parentheses.
    /// A loop rather than recursion, so a query of a million tokens cannot exhaust the stack.
    let private tokensUntil (stopAtFrom: bool) : P<Token list> =
        let fromAhead = followedBy (keyword "FROM")
        fun stream ->
            let tokens = ResizeArray<Token>()
            let mutable depth = 0
            let mutable failure = None
            let mutable go = true
            while go do
                if depth = 0 && (stream.Peek() = ')' || (stopAtFrom && (fromAhead stream).Status = ReplyStatus.Ok)) then
                    go <- false
                else
                    let before = stream.StateTag
                    let reply = token stream
                    if reply.Status = ReplyStatus.Ok then
                        tokens.Add reply.Result
                        depth <- depth + (if reply.Result.Word = "(" then 1 elif reply.Result.Word = ")" then -1 else 0)
                    else
                        go <- false
                        // A token that failed after consuming input (an unterminated literal) fails the statement.
                        if stream.StateTag <> before then failure <- Some(Reply<Token list>(reply.Status, reply.Error))
            match failure with
            | Some reply -> reply
            | None -> Reply(List.ofSeq tokens)

    /// The tokens of the rest of a clause, up to `;`, the end, or an unbalanced `)`.
    let private rest: P<Token list> = tokensUntil false

    /// The tokens of a field list, up to FROM outside parentheses.
    let private fields: P<Token list> = tokensUntil true

    /// select_stmt = "SELECT" fields [ into_clause ] from_clause … ; fields and clauses are only scanned.
    let private selectBody: P<Source list * Token list> =
        fields .>>. (keyword "FROM" >>. sourcesWithTokens) .>>. rest
        |>> fun ((fieldTokens, (from, inner)), tail) -> from, fieldTokens @ inner @ tail

    do selectImpl.Value <- selectBody

    /// What a statement parser found: the parts routing needs, or why the statement is refused.
    type private Parsed = Result<StatementKind * string option * Source list * Token list, string>

    let private allowed kind on (sources: Source list) (tokens: Token list) : Parsed = Result.Ok(kind, on, sources, tokens)

    /// ON <db>
    let private onClause: P<string option> = opt (keyword "ON" >>. identifier)

    let private fromClause: P<Source list> = (keyword "FROM" >>. sources) <|> preturn []

    let private show (words: string) (kind: StatementKind) : P<Parsed> =
        keywords words >>. onClause .>>. fromClause .>>. rest |>> fun ((on, from), tail) -> allowed kind on from tail

    let private cardinality (words: string) (what: string) : P<Parsed> =
        attempt (keywords words >>. opt (keyword "EXACT") >>. keyword "CARDINALITY") >>. onClause .>>. fromClause .>>. rest
        |>> fun ((on, from), tail) -> allowed (ShowCardinality what) on from tail

    /// A statement we refuse: parsed past, so the statements after it still get their own answer.
    let private refused (words: string) (why: string) : P<Parsed> = keywords words >>. rest >>% Result.Error why

    let private select: P<Parsed> =
        (keyword "SELECT" <|> (keyword "EXPLAIN" >>. opt (keyword "ANALYZE") >>. keyword "SELECT")) >>. selectBody
        |>> fun (from, tokens) -> allowed Select None from tokens

    let private showStatement: P<Parsed> =
        keyword "SHOW"
        >>. choice [
            cardinality "SERIES" "series"
            cardinality "MEASUREMENT" "measurement"
            cardinality "TAG KEY" "tag key"
            cardinality "TAG VALUES" "tag values"
            cardinality "FIELD KEY" "field key"
            show "DATABASES" ShowDatabases
            show "MEASUREMENTS" ShowMeasurements
            show "SERIES" ShowSeries
            show "TAG KEYS" ShowTagKeys
            show "TAG VALUES" ShowTagValues
            show "FIELD KEYS" ShowFieldKeys
            show "RETENTION POLICIES" ShowRetentionPolicies
            show "STATS" ShowStats
            show "DIAGNOSTICS" ShowDiagnostics
            rest >>% Result.Error "this SHOW statement describes one server; ask a backend directly" ]

    let private statementBody: P<Parsed> =
        choice [
            select
            showStatement
            refused "CREATE USER" "user management is per server"
            refused "DROP USER" "user management is per server"
            refused "CREATE CONTINUOUS QUERY" "continuous queries would write into one backend only"
            refused "DROP CONTINUOUS QUERY" "continuous queries are per server"
            refused "CREATE SUBSCRIPTION" "subscriptions are per server"
            refused "DROP SUBSCRIPTION" "subscriptions are per server"
            refused "DROP SHARD" "shards are per server"
            refused "ALTER" "ALTER changes one server's schema behind the proxy"
            refused "GRANT" "GRANT is per server"
            refused "REVOKE" "REVOKE is per server"
            refused "KILL" "KILL QUERY is per server"
            refused "SET PASSWORD" "user management is per server"
            keywords "CREATE DATABASE" >>. identifier .>>. rest |>> fun (db, tail) -> allowed (CreateDatabase db) (Some db) [] tail
            keywords "DROP DATABASE" >>. identifier .>>. rest |>> fun (db, tail) -> allowed (DropDatabase db) (Some db) [] tail
            keywords "CREATE RETENTION POLICY" >>. identifier .>>. (keyword "ON" >>. identifier) .>>. rest
            |>> fun ((rp, db), tail) -> allowed (CreateRetentionPolicy rp) (Some db) [] tail
            keywords "DROP RETENTION POLICY" >>. identifier .>>. (keyword "ON" >>. identifier) .>>. rest
            |>> fun ((rp, db), tail) -> allowed (DropRetentionPolicy rp) (Some db) [] tail
            keyword "DELETE" >>. fromClause .>>. rest |>> fun (from, tail) -> allowed Delete None from tail
            keywords "DROP SERIES" >>. fromClause .>>. rest |>> fun (from, tail) -> allowed DropSeries None from tail
            keywords "DROP MEASUREMENT" >>. identifier .>>. rest
            |>> fun (m, tail) -> allowed (DropMeasurement m) None [ Measurement(None, None, m) ] tail
            many1Satisfy2 isIdentStart isIdentChar .>> ws .>> rest
            |>> fun word -> Result.Error(sprintf "%s statements are not supported by the proxy" (word.ToUpperInvariant())) ]

    /// A top-level `LIMIT n` or `OFFSET n` clause: its value and where it stands.
    type private Paging = { Value: int; Start: int64; End: int64 }

    /// The first top-level LIMIT and OFFSET (not SLIMIT / SOFFSET), whether either is a bound parameter (`$n`), and
    /// whether INTO appears anywhere.
    let private clauses (text: string) (start: int64) (tokens: Token list) =
        let paging (word: Token) (number: Token) =
            match Int32.TryParse number.Word with
            | true, n -> Some { Value = n; Start = word.Start; End = number.End }
            | _ -> None
        let bound (number: Token) = text[int (number.Start - start)] = '$'
        let rec scan depth limit offset boundPaging into (tokens: Token list) =
            match tokens with
            | [] -> limit, offset, boundPaging, into
            | t :: rest when t.Word = "(" -> scan (depth + 1) limit offset boundPaging into rest
            | t :: rest when t.Word = ")" -> scan (depth - 1) limit offset boundPaging into rest
            | t :: rest when t.Word = "INTO" -> scan depth limit offset boundPaging true rest
            | t :: n :: rest when t.Word = "LIMIT" && depth = 0 && Option.isNone limit ->
                scan depth (paging t n) offset (boundPaging || bound n) into (n :: rest)
            | t :: n :: rest when t.Word = "OFFSET" && depth = 0 && Option.isNone offset ->
                scan depth limit (paging t n) (boundPaging || bound n) into (n :: rest)
            | _ :: rest -> scan depth limit offset boundPaging into rest
        scan 0 None None false false tokens

    /// The statement as each backend of a fan-out must run it so that paging can be applied once after the merge:
    /// `LIMIT n OFFSET m` becomes `LIMIT n+m`.
    let private unpaged (text: string) (start: int64) (limit: Paging option) (offset: Paging option) =
        let cut (from: int64) (until: int64) replacement (text: string) =
            text.Substring(0, int (from - start)) + replacement + text.Substring(int (until - start))
        let spans =
            [ match limit with
              | Some l -> l.Start, l.End, sprintf "LIMIT %d" (l.Value + (offset |> Option.map _.Value |> Option.defaultValue 0))
              | None -> ()
              match offset with
              | Some o -> o.Start, o.End, ""
              | None -> () ]
        // From the last span back, so the earlier offsets stay valid.
        spans |> List.sortByDescending (fun (from, _, _) -> from) |> List.fold (fun t (from, until, r) -> cut from until r t) text

    let private located: P<int64 * Parsed * int64> =
        pipe3 getPosition statementBody getPosition (fun start parsed finish -> start.Index, parsed, finish.Index)

    /// query = statement { ";" statement } ; empty statements between semicolons are skipped.
    let private query: P<(int64 * Parsed * int64) list> =
        ws >>. skipMany (pchar ';' >>. ws) >>. sepEndBy located (skipMany1 (pchar ';' >>. valueEnded false >>. ws)) .>> eof

    let private toStatement (text: string) (start: int64, parsed: Parsed, finish: int64) : Result<Statement, QueryError> =
        match parsed with
        | Result.Error why -> Result.Error(Forbidden why)
        | Result.Ok(kind, on, from, tokens) ->
            let own = text.Substring(int start, int (finish - start))
            let limit, offset, boundPaging, into = clauses own start tokens
            if into && kind = Select then Result.Error(Forbidden "SELECT … INTO writes data and is not allowed")
            elif boundPaging then
                Result.Error(Forbidden "LIMIT or OFFSET with a bound parameter: the proxy pages answers merged from several backends itself, so it needs the number in the query")
            else
                Result.Ok
                    { Kind = kind
                      On = on
                      Sources = from
                      Limit = limit |> Option.map _.Value
                      Offset = offset |> Option.map _.Value
                      Text = own.Trim()
                      UnpagedText = (unpaged own start limit offset).Trim() }

    /// `at line 1, column 14: expected FROM` — FParsec's message without the echo of the input and without the
    /// comment syntax, which is allowed everywhere and so is always "expected".
    let private describe (text: string) (error: ParserError) =
        let lines =
            (sprintf "%O" error).Split('\n')
            |> Array.map _.Trim()
            |> Array.filter (fun l -> l.StartsWith "Expecting:" || (l <> "" && not (l.StartsWith "Error in") && not (l.StartsWith "Note:")
                                                                   && not (l.StartsWith "Other error") && not (l.EndsWith "^") && not (text.Contains l)))
        let expecting =
            lines
            |> Array.map (fun l -> l.Replace("'--', '/*' or ", "").Replace("'--' or '/*'", "").Replace(", '--' or '/*'", "").Replace("'--', ", "").Replace("'/*', ", ""))
            |> Array.filter (fun l -> l <> "Expecting:" && l <> "Expecting: ")
        sprintf "at line %d, column %d: %s" error.Position.Line error.Position.Column (String.Join("; ", expecting))
        |> fun m -> m.TrimEnd(' ', ':', ';')

    /// Subqueries are parsed recursively; deeper nesting than this is refused before parsing, so no query can
    /// exhaust the stack.
    let private maxSubqueryDepth = 64

    let private nestedSelects = Text.RegularExpressions.Regex(@"\(\s*select\b", Text.RegularExpressions.RegexOptions.IgnoreCase)

    /// Parses every statement; the first refused or malformed one decides the error.
    let parse (text: string) : Result<Statement list, QueryError> =
        if nestedSelects.Count text > maxSubqueryDepth then
            Result.Error(ParseError(sprintf "more than %d subqueries" maxSubqueryDepth))
        else
        match runParserOnString query false "query" text with
        | Failure(_, error, _) -> Result.Error(ParseError(describe text error))
        | Success([], _, _) -> Result.Error(ParseError "empty query")
        | Success(located, _, _) ->
            located
            |> List.map (toStatement text)
            |> List.fold
                (fun acc next ->
                    match acc, next with
                    | Result.Error e, _ -> Result.Error e
                    | Result.Ok _, Result.Error e -> Result.Error e
                    | Result.Ok list, Result.Ok s -> Result.Ok(s :: list))
                (Result.Ok [])
            |> Result.map List.rev

    let private quote (name: string) =
        "\"" + name.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n") + "\""

    let rec private printSource =
        function
        | Measurement(db, rp, name) -> printQualified db rp (quote name)
        | MeasurementRegex(db, rp, pattern) -> printQualified db rp ("/" + pattern.Replace("/", "\\/") + "/")
        | Subquery inner -> "(SELECT * FROM " + (inner |> List.map printSource |> String.concat ", ") + ")"

    and private printQualified db rp name =
        match db, rp with
        | None, None -> name
        | None, Some rp -> quote rp + "." + name
        | Some db, rp -> quote db + "." + (rp |> Option.map quote |> Option.defaultValue "") + "." + name

    /// A canonical text of the statement's routing parts; parsing it gives the same statement (but its Text).
    let print (s: Statement) : string =
        let on = s.On |> Option.map (fun db -> " ON " + quote db) |> Option.defaultValue ""
        let from = if s.Sources.IsEmpty then "" else " FROM " + (s.Sources |> List.map printSource |> String.concat ", ")
        let page =
            (s.Limit |> Option.map (sprintf " LIMIT %d") |> Option.defaultValue "")
            + (s.Offset |> Option.map (sprintf " OFFSET %d") |> Option.defaultValue "")
        match s.Kind with
        | Select -> "SELECT *" + from + page
        | ShowDatabases -> "SHOW DATABASES" + page
        | ShowMeasurements -> "SHOW MEASUREMENTS" + on + page
        | ShowSeries -> "SHOW SERIES" + on + from + page
        | ShowTagKeys -> "SHOW TAG KEYS" + on + from + page
        | ShowTagValues -> "SHOW TAG VALUES" + on + from + " WITH KEY = \"host\"" + page
        | ShowFieldKeys -> "SHOW FIELD KEYS" + on + from + page
        | ShowRetentionPolicies -> "SHOW RETENTION POLICIES" + on
        | ShowStats -> "SHOW STATS"
        | ShowDiagnostics -> "SHOW DIAGNOSTICS"
        | ShowCardinality what -> "SHOW " + what.ToUpperInvariant() + " CARDINALITY" + on + from
        | CreateDatabase db -> "CREATE DATABASE " + quote db
        | DropDatabase db -> "DROP DATABASE " + quote db
        | CreateRetentionPolicy rp -> "CREATE RETENTION POLICY " + quote rp + on + " DURATION 1d REPLICATION 1"
        | DropRetentionPolicy rp -> "DROP RETENTION POLICY " + quote rp + on
        | Delete -> "DELETE" + from
        | DropSeries -> "DROP SERIES" + from
        | DropMeasurement m -> "DROP MEASUREMENT " + quote m
