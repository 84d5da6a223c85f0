using System.Text;
using System.Text.Json.Nodes;

namespace InfluxProxy.Host.Query;

/// <summary>InfluxDB's CSV lines: a header <c>name,tags,columns…</c>, and a series' rows, one per value.</summary>
public static class CsvRows
{
    public static void AppendHeader(StringBuilder csv, JsonObject series) =>
        csv.Append("name,tags,").AppendJoin(',', Columns(series)).Append('\n');

    public static void AppendRows(StringBuilder csv, JsonObject series)
    {
        var name = series["name"]?.GetValue<string>() ?? "";
        var tags = string.Join(',', series["tags"]?.AsObject().Select(t => $"{t.Key}={t.Value}") ?? []);
        foreach (var row in series["values"]?.AsArray() ?? [])
            csv.Append(Quote(name)).Append(',').Append(Quote(tags)).Append(',')
                .AppendJoin(',', row!.AsArray().Select(v => Quote(v is JsonValue value && value.TryGetValue<string>(out var s) ? s : v?.ToJsonString() ?? "")))
                .Append('\n');
    }

    public static IEnumerable<string> Columns(JsonObject series) => series["columns"]!.AsArray().Select(c => c!.GetValue<string>());

    private static string Quote(string text) =>
        text.IndexOfAny([',', '"', '\n']) < 0 ? text : "\"" + text.Replace("\"", "\"\"") + "\"";
}
