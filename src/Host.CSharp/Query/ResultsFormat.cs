using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InfluxProxy.Host.Query;

/// <summary>A <c>results</c> answer written as the client asked: InfluxDB's CSV, or JSON (compact or pretty).</summary>
public static class ResultsFormat
{
    /// <summary>
    /// As InfluxDB chooses: CSV only when the (first) <c>Accept</c> is exactly <c>application/csv</c> or <c>text/csv</c>;
    /// a list of types, or parameters, get JSON.
    /// </summary>
    public static bool WantsCsv(HttpRequest request) => request.Headers.Accept.FirstOrDefault() is "application/csv" or "text/csv";

    public static async Task WriteAsync(HttpContext context, JsonObject answer, bool pretty)
    {
        if (WantsCsv(context.Request))
        {
            context.Response.ContentType = "text/csv";
            await context.Response.WriteAsync(Csv(answer), context.RequestAborted);
            return;
        }
        // Whatever the client accepts (msgpack included), the answer is JSON and says so.
        context.Response.ContentType = "application/json";
        var body = context.Response.BodyWriter;
        using (var json = new Utf8JsonWriter(body, Http.JsonBody.WriterOptions(pretty)))
            answer.WriteTo(json);
        body.Write("\n"u8);
        await body.FlushAsync(context.RequestAborted);
    }

    /// <summary>
    /// InfluxDB writes an answer not chunked in CSV as it writes chunks, each statement's result being one chunk; so
    /// does the proxy (<see cref="CsvChunks"/>).
    /// </summary>
    private static string Csv(JsonObject answer)
    {
        var chunks = new CsvChunks();
        var csv = new StringBuilder();
        foreach (var result in answer["results"]!.AsArray())
            csv.Append(chunks.Text(result!.AsObject()));
        return csv.ToString();
    }
}
