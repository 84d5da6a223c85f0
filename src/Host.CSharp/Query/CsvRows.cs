using System.Text;
using System.Text.Json.Nodes;
using InfluxProxy.Core;

namespace InfluxProxy.Host.Query;

/// <summary>
/// InfluxDB's CSV lines: a header <c>name,tags,columns…</c>, and a series' rows, one per value, each field written as
/// <see cref="CsvField"/> says.
/// </summary>
public static class CsvRows
{
    public static void AppendHeader(StringBuilder csv, JsonObject series) =>
        AppendLine(csv, ["name", "tags", .. Columns(series)]);

    public static void AppendRows(StringBuilder csv, JsonObject series)
    {
        var name = series["name"]?.GetValue<string>() ?? "";
        var tags = CsvField.tags(series);
        foreach (var row in series["values"]?.AsArray() ?? [])
            AppendLine(csv, [name, tags, .. row!.AsArray().Select(CsvField.value)]);
    }

    public static IEnumerable<string> Columns(JsonObject series) => series["columns"]!.AsArray().Select(c => c!.GetValue<string>());

    private static void AppendLine(StringBuilder csv, IEnumerable<string> fields) =>
        csv.AppendJoin(',', fields.Select(CsvField.quote)).Append('\n');
}
