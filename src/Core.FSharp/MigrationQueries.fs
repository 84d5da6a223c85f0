/// The InfluxQL a migration asks its backends, names quoted whatever they hold.
namespace InfluxProxy.Core

module MigrationQueries =
    let private name = InfluxQLPrinter.identifier

    let private source (rp: string) (measurement: string) = name rp + "." + name measurement

    /// Every point of the window with its tags in the series' tags (`GROUP BY *`), so a tag key equal to a field key
    /// keeps both, each as what it is.
    let points (rp: string) (measurement: string) (window: Window) : string =
        let bounds =
            [ window.From |> Option.map (sprintf "time >= %d")
              window.Until |> Option.map (sprintf "time < %d") ]
            |> List.choose id
        let where = if bounds.IsEmpty then "" else " WHERE " + String.concat " AND " bounds
        $"SELECT * FROM {source rp measurement}{where} GROUP BY *"

    /// Each series' count per field: what a verification compares.
    let seriesCounts (rp: string) (measurement: string) : string = $"SELECT count(*) FROM {source rp measurement} GROUP BY *"

    /// The measurement's count per field: the most of them is its point count.
    let pointCount (rp: string) (measurement: string) : string = $"SELECT count(*) FROM {source rp measurement}"

    /// Each measurement of the retention policy with its count per field: what the inventory reads.
    let measurementCounts (rp: string) : string = $"SELECT count(*) FROM {name rp}./.*/"

    let fieldKeys (rp: string) (measurement: string) : string = $"SHOW FIELD KEYS FROM {source rp measurement}"

    let dropMeasurement (measurement: string) : string = "DROP MEASUREMENT " + name measurement

    let createDatabase (db: string) : string = "CREATE DATABASE " + name db

    /// A duration literal for `ns` (0: INF).
    let private duration (ns: int64) =
        match ns with
        | 0L -> "INF"
        | _ when ns % 1_000_000_000L = 0L -> $"{ns / 1_000_000_000L}s"
        | _ when ns % 1_000_000L = 0L -> $"{ns / 1_000_000L}ms"
        | _ -> $"{max 1L (ns / 1_000L)}u"

    /// The source's policy on a destination: the same duration and shard group duration; its default flag only
    /// where the caller says (a destination's default decides where its live writes without `rp` go).
    let createRetentionPolicy (db: string) (policy: RetentionPolicy) (asDefault: bool) : string =
        $"CREATE RETENTION POLICY {name policy.Name} ON {name db} DURATION {duration policy.Duration} REPLICATION 1 SHARD DURATION {duration policy.ShardGroupDuration}"
        + (if asDefault then " DEFAULT" else "")
