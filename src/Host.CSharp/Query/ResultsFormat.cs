using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InfluxProxy.Host.Query;

/// <summary>A <c>results</c> answer written as the client asked: InfluxDB's CSV, or JSON (compact or pretty).</summary>
public static class ResultsFormat
{
    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true, IndentSize = 4 };

    public static bool WantsCsv(HttpRequest request) => request.Headers.Accept.ToString().Contains("application/csv");

    public static async Task WriteAsync(HttpContext context, JsonObject answer, bool pretty)
    {
        if (WantsCsv(context.Request))
        {
            context.Response.ContentType = "application/csv";
            await context.Response.WriteAsync(Csv(answer), context.RequestAborted);
            return;
        }
        // Whatever the client accepts (msgpack included), the answer is JSON and says so.
        context.Response.ContentType = "application/json";
        var text = pretty ? answer.ToJsonString(Pretty) : answer.ToJsonString();
        await context.Response.WriteAsync(text + "\n", context.RequestAborted);
    }

    /// <summary>InfluxDB's CSV: a header before every series, then one row per value.</summary>
    private static string Csv(JsonObject answer)
    {
        var csv = new StringBuilder();
        foreach (var result in answer["results"]!.AsArray())
            foreach (var series in result?["series"]?.AsArray() ?? [])
            {
                CsvRows.AppendHeader(csv, series!.AsObject());
                CsvRows.AppendRows(csv, series.AsObject());
            }
        return csv.ToString();
    }
}
