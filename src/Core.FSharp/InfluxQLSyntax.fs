/// InfluxQL statements as the proxy sees them: which statement, which database, which measurements, and what it
/// refuses. The parser is InfluxQLParser.fs.
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

/// A statement the proxy refuses, and why.
type ForbiddenStatement =
    | UserManagement
    | ContinuousQueryWrite
    | ContinuousQueryDrop
    | Subscriptions
    | Shards
    | Alter
    | Grant
    | Revoke
    | Kill
    /// A SHOW statement about one server (users, queries, shards…).
    | ShowOfOneServer
    | SelectInto
    /// LIMIT or OFFSET given as a bound parameter: the proxy pages merged answers itself.
    | BoundPaging
    /// A statement the proxy does not know, named by its first word.
    | Unsupported of word: string

type QueryError =
    /// Where the parser stopped: `at line 1, column 14: <what it expected>`.
    | ParseError of string
    | Forbidden of ForbiddenStatement

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

module ForbiddenStatement =
    let text =
        function
        | UserManagement -> "user management is per server"
        | ContinuousQueryWrite -> "continuous queries would write into one backend only"
        | ContinuousQueryDrop -> "continuous queries are per server"
        | Subscriptions -> "subscriptions are per server"
        | Shards -> "shards are per server"
        | Alter -> "ALTER changes one server's schema behind the proxy"
        | Grant -> "GRANT is per server"
        | Revoke -> "REVOKE is per server"
        | Kill -> "KILL QUERY is per server"
        | ShowOfOneServer -> "this SHOW statement describes one server; ask a backend directly"
        | SelectInto -> "SELECT … INTO writes data and is not allowed"
        | BoundPaging ->
            "LIMIT or OFFSET with a bound parameter: the proxy pages answers merged from several backends itself, so it needs the number in the query"
        | Unsupported word -> sprintf "%s statements are not supported by the proxy" word

module QueryError =
    /// InfluxDB's texts (`error parsing query: …`), and the proxy's own for what it refuses (`query forbidden: …`).
    let text =
        function
        | ParseError message -> "error parsing query: " + message
        | Forbidden why -> "query forbidden: " + ForbiddenStatement.text why
