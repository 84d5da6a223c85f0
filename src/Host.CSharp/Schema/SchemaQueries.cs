using System.Text.Json.Nodes;
using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Query;
using Microsoft.FSharp.Core;

namespace InfluxProxy.Host.Schema;

/// <summary>
/// What the proxy asks one backend about its schema: databases, retention policies, shard groups, measurements. Each
/// answer is the backend's, or why there is none.
/// </summary>
public sealed class SchemaQueries(QueryRelay relay)
{
    public BackendInfo Info => relay.Info;

    public QueryRelay Relay => relay;

    public Task<FSharpResult<IReadOnlyList<string>, string>> DatabasesAsync(CancellationToken ct) =>
        RowsAsync("", "SHOW DATABASES", (_, row) => Text(row[0]), ct);

    /// <summary>The retention policies of one database (a database the backend lacks is a failure).</summary>
    public Task<FSharpResult<IReadOnlyList<RetentionPolicy>, string>> RetentionPoliciesAsync(string db, CancellationToken ct) =>
        RowsAsync(db, "SHOW RETENTION POLICIES", (columns, row) => new RetentionPolicy(
            Text(row[columns["name"]]),
            DurationNs(row[columns["duration"]]),
            DurationNs(row[columns["shardGroupDuration"]]),
            row[columns["default"]]?.GetValue<bool>() ?? throw new FormatException("no default flag")), ct);

    /// <summary>The times the shard groups of (db, rp) cover.</summary>
    public async Task<FSharpResult<IReadOnlyList<ShardGroupSpan>, string>> ShardGroupsAsync(string db, string rp, CancellationToken ct)
    {
        var groups = await ShardGroupsAsync(ct);
        return groups.IsOk
            ? FSharpResult<IReadOnlyList<ShardGroupSpan>, string>.NewOk(groups.ResultValue.Where(g => g.Db == db && g.Rp == rp).Select(g => g.Span).ToList())
            : FSharpResult<IReadOnlyList<ShardGroupSpan>, string>.NewError(groups.ErrorValue);
    }

    /// <summary>Every shard group of every (db, rp), with the times it covers.</summary>
    public Task<FSharpResult<IReadOnlyList<(string Db, string Rp, ShardGroupSpan Span)>, string>> ShardGroupsAsync(CancellationToken ct) =>
        RowsAsync("", "SHOW SHARD GROUPS", (columns, row) => (
            Db: Text(row[columns["database"]]),
            Rp: Text(row[columns["retention_policy"]]),
            Span: new ShardGroupSpan(TimeNs(row[columns["start_time"]]), TimeNs(row[columns["end_time"]]))), ct);

    /// <summary>Each field of a measurement with every type it has (one per shard that holds it).</summary>
    public Task<FSharpResult<IReadOnlyList<(string Field, string Type)>, string>> FieldKeysAsync(string db, string rp, string measurement, CancellationToken ct) =>
        RowsAsync(db, MigrationQueries.fieldKeys(rp, measurement), (columns, row) => (Text(row[columns["fieldKey"]]), Text(row[columns["fieldType"]])), ct);

    /// <summary>A statement that answers no rows (CREATE, DROP): done, or why not.</summary>
    public async Task<FSharpResult<int, string>> ExecuteAsync(string db, string statement, CancellationToken ct)
    {
        var done = await RowsAsync(db, statement, (_, _) => 0, ct);
        return done.IsOk ? FSharpResult<int, string>.NewOk(0) : FSharpResult<int, string>.NewError(done.ErrorValue);
    }

    public Task<FSharpResult<IReadOnlyList<string>, string>> MeasurementsAsync(string db, CancellationToken ct) =>
        RowsAsync(db, "SHOW MEASUREMENTS LIMIT 100000", (_, row) => Text(row[0]), ct);

    /// <summary>A Go duration as InfluxDB prints it, in ns; a text that is not one makes the answer unreadable.</summary>
    private static long DurationNs(JsonNode? text) =>
        Retention.parseDuration(Text(text)) is { } ns ? ns.Value : throw new FormatException($"not a duration: {text}");

    /// <summary>An RFC 3339 time as InfluxDB writes it, in ns since the epoch.</summary>
    private static long TimeNs(JsonNode? text) =>
        (DateTimeOffset.Parse(Text(text), System.Globalization.CultureInfo.InvariantCulture) - DateTimeOffset.UnixEpoch).Ticks * 100;

    private static string Text(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<string>(out var text) ? text : throw new FormatException($"not a text: {node?.ToJsonString() ?? "null"}");

    /// <summary>Every row of a one-statement query, read with its series' column indices by name.</summary>
    private async Task<FSharpResult<IReadOnlyList<T>, string>> RowsAsync<T>(string db, string query, Func<Dictionary<string, int>, JsonArray, T> read, CancellationToken ct)
    {
        var form = new List<KeyValuePair<string, string>> { new("q", query) };
        if (db.Length > 0)
            form.Add(new("db", db));
        var (result, failure) = await relay.AskAsync(form, ct);
        if (result is null)
            return FSharpResult<IReadOnlyList<T>, string>.NewError(failure);
        if (result["error"] is { } error)
            return FSharpResult<IReadOnlyList<T>, string>.NewError(error.ToString());
        try
        {
            return FSharpResult<IReadOnlyList<T>, string>.NewOk(QueryAnswer.Rows(result).Select(r => read(r.Columns, r.Row)).ToList());
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException or ArgumentException)
        {
            return FSharpResult<IReadOnlyList<T>, string>.NewError($"unreadable answer to {query}: {e.Message}");
        }
    }
}
