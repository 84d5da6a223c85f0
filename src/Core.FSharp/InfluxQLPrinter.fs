/// A canonical text of a statement's routing parts, for tests and tools: parsing it gives the same statement (but its
/// Text).
namespace InfluxProxy.Core

module InfluxQLPrinter =
    /// A name double-quoted as InfluxQL reads it back whatever it holds.
    let identifier (name: string) =
        "\"" + name.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n") + "\""

    let rec private printSource =
        function
        | Measurement(db, rp, name) -> printQualified db rp (identifier name)
        | MeasurementRegex(db, rp, pattern) -> printQualified db rp ("/" + pattern.Replace("/", "\\/") + "/")
        | Subquery inner -> "(SELECT * FROM " + (inner |> List.map printSource |> String.concat ", ") + ")"

    and private printQualified db rp name =
        match db, rp with
        | None, None -> name
        | None, Some rp -> identifier rp + "." + name
        | Some db, rp -> identifier db + "." + (rp |> Option.map identifier |> Option.defaultValue "") + "." + name

    /// A canonical text of the statement's routing parts; parsing it gives the same statement (but its Text).
    let print (s: Statement) : string =
        let on = s.On |> Option.map (fun db -> " ON " + identifier db) |> Option.defaultValue ""
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
        | CreateDatabase db -> "CREATE DATABASE " + identifier db
        | DropDatabase db -> "DROP DATABASE " + identifier db
        | CreateRetentionPolicy rp -> "CREATE RETENTION POLICY " + identifier rp + on + " DURATION 1d REPLICATION 1"
        | DropRetentionPolicy rp -> "DROP RETENTION POLICY " + identifier rp + on
        | Delete -> "DELETE" + from
        | DropSeries -> "DROP SERIES" + from
        | DropMeasurement m -> "DROP MEASUREMENT " + identifier m
