/// InfluxDB 1.8's write endpoint for 2.x clients, `/api/v2/write?bucket=db/rp&precision=`: its bucket and precision
/// rules and texts.
namespace InfluxProxy.Core

module WriteV2 =
    /// `db/rp`, or `db` for its default retention policy; InfluxDB answers an error here with a 404.
    let bucket (text: string) : Result<string * string, string> =
        match text.IndexOf '/' with
        | -1 when text = "" -> Error $"bucket name %A{text} is missing a slash; not in \"database/retention-policy\" format"
        | -1 -> Ok(text, "")
        | 0 -> Error $"bucket name %A{text} is in db/rp form but has an empty database"
        | slash -> Ok(text.Substring(0, slash), text.Substring(slash + 1))

    /// ns (the default), us, ms or s; InfluxDB answers anything else with a 400.
    let precision (text: string) : Result<Precision, string> =
        match text with
        | ""
        | "ns" -> Ok Nanosecond
        | "us" -> Ok Microsecond
        | "ms" -> Ok Millisecond
        | "s" -> Ok Second
        | other -> Error $"invalid precision %A{other} (use ns, us, ms or s)"
