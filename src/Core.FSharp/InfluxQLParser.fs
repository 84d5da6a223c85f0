/// The InfluxQL parser: parsed far enough to route a query safely.
/// Lexical rules follow the InfluxQL spec (https://docs.influxdata.com/influxdb/v1/query_language/spec/):
/// identifiers bare or double-quoted, string literals single-quoted, regex literals between slashes, keywords in
/// any case, `--` and `/* */` comments, statements separated by `;` outside literals and comments.
/// Expressions are not evaluated: the tokens after the parts routing needs are only scanned, to find LIMIT/OFFSET
/// and any INTO, and to keep a `;` inside a literal from splitting a statement.
namespace InfluxProxy.Core

open System
open FParsec

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

    /// Any token of an expression or clause.
    let private token: P<QueryToken> =
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

    let private selectRef, private selectImpl = createParserForwardedToRef<Source list * QueryToken list, bool> ()

    /// source = measurement | "(" select_stmt ")" ; a subquery's tokens count as the statement's own (for INTO).
    let private source: P<Source * QueryToken list> =
        (pchar '(' >>. ws >>. keyword "SELECT" >>. selectRef .>> pchar ')' .>> valueEnded true .>> ws
         |>> fun (inner, tokens) ->
             // The subquery's own tokens stay inside parentheses: its LIMIT is not the statement's.
             let wrap word = { Word = word; Start = 0L; End = 0L }
             Subquery inner, wrap "(" :: tokens @ [ wrap ")" ])
        <|> (measurementSource |>> fun m -> m, [])

    let private sourcesWithTokens: P<Source list * QueryToken list> =
        sepBy1 source (pchar ',' >>. valueEnded false >>. ws) |>> fun list -> List.map fst list, List.collect snd list

    let private sources: P<Source list> = sourcesWithTokens |>> fst

    /// Tokens up to `;`, the end, an unbalanced `)`, or (with `stopAtFrom`) FROM outside parentheses.
    /// A loop rather than recursion, so a query of a million tokens cannot exhaust the stack.
    let private tokensUntil (stopAtFrom: bool) : P<QueryToken list> =
        let fromAhead = followedBy (keyword "FROM")
        fun stream ->
            let tokens = ResizeArray<QueryToken>()
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
                        if stream.StateTag <> before then failure <- Some(Reply<QueryToken list>(reply.Status, reply.Error))
            match failure with
            | Some reply -> reply
            | None -> Reply(List.ofSeq tokens)

    /// The tokens of the rest of a clause, up to `;`, the end, or an unbalanced `)`.
    let private rest: P<QueryToken list> = tokensUntil false

    /// The tokens of a field list, up to FROM outside parentheses.
    let private fields: P<QueryToken list> = tokensUntil true

    /// select_stmt = "SELECT" fields [ into_clause ] from_clause … ; fields and clauses are only scanned.
    let private selectBody: P<Source list * QueryToken list> =
        fields .>>. (keyword "FROM" >>. sourcesWithTokens) .>>. rest
        |>> fun ((fieldTokens, (from, inner)), tail) -> from, fieldTokens @ inner @ tail

    do selectImpl.Value <- selectBody

    /// What a statement parser found: the parts routing needs, or why the statement is refused.
    type private Parsed = Result<StatementKind * string option * Source list * QueryToken list, ForbiddenStatement>

    let private allowed kind on (sources: Source list) (tokens: QueryToken list) : Parsed = Result.Ok(kind, on, sources, tokens)

    /// ON <db>
    let private onClause: P<string option> = opt (keyword "ON" >>. identifier)

    let private fromClause: P<Source list> = (keyword "FROM" >>. sources) <|> preturn []

    let private show (words: string) (kind: StatementKind) : P<Parsed> =
        keywords words >>. onClause .>>. fromClause .>>. rest |>> fun ((on, from), tail) -> allowed kind on from tail

    let private cardinality (words: string) (what: string) : P<Parsed> =
        attempt (keywords words >>. opt (keyword "EXACT") >>. keyword "CARDINALITY") >>. onClause .>>. fromClause .>>. rest
        |>> fun ((on, from), tail) -> allowed (ShowCardinality what) on from tail

    /// A statement we refuse: parsed past, so the statements after it still get their own answer.
    let private refused (words: string) (why: ForbiddenStatement) : P<Parsed> = keywords words >>. rest >>% Result.Error why

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
            rest >>% Result.Error ShowOfOneServer ]

    let private statementBody: P<Parsed> =
        choice [
            select
            showStatement
            refused "CREATE USER" UserManagement
            refused "DROP USER" UserManagement
            refused "CREATE CONTINUOUS QUERY" ContinuousQueryWrite
            refused "DROP CONTINUOUS QUERY" ContinuousQueryDrop
            refused "CREATE SUBSCRIPTION" Subscriptions
            refused "DROP SUBSCRIPTION" Subscriptions
            refused "DROP SHARD" Shards
            refused "ALTER" Alter
            refused "GRANT" Grant
            refused "REVOKE" Revoke
            refused "KILL" Kill
            refused "SET PASSWORD" UserManagement
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
            |>> fun word -> Result.Error(Unsupported(word.ToUpperInvariant())) ]

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
            let limit, offset, boundPaging, into = InfluxQLPaging.clauses own start tokens
            if into && kind = Select then Result.Error(Forbidden SelectInto)
            elif boundPaging then
                Result.Error(Forbidden BoundPaging)
            else
                Result.Ok
                    { Kind = kind
                      On = on
                      Sources = from
                      Limit = limit |> Option.map _.Value
                      Offset = offset |> Option.map _.Value
                      Text = own.Trim()
                      UnpagedText = (InfluxQLPaging.unpaged own start limit offset).Trim() }

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
