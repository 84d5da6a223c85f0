using System.Text.Encodings.Web;
using System.Text.Json;

namespace InfluxProxy.Host.Http;

/// <summary>
/// JSON bodies as InfluxDB and the original write them: compact or 4-space pretty, a trailing newline, text outside
/// ASCII written as it is (as Go's encoder writes it) rather than as <c>\uXXXX</c> escapes.
/// </summary>
public static class JsonBody
{
    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonSerializerOptions Pretty = new(Compact) { WriteIndented = true, IndentSize = 4 };

    public static JsonSerializerOptions Options(bool pretty) => pretty ? Pretty : Compact;

    /// <summary>The same, for a writer.</summary>
    public static JsonWriterOptions WriterOptions(bool pretty) => new() { Indented = pretty, IndentSize = 4, Encoder = Compact.Encoder };

    public static bool WantsPretty(HttpRequest request) => request.Query["pretty"] == "true";

    public static async Task Write<T>(HttpContext context, int status, T value)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var options = Options(WantsPretty(context.Request));
        await JsonSerializer.SerializeAsync(context.Response.Body, value, options, context.RequestAborted);
        await context.Response.Body.WriteAsync("\n"u8.ToArray(), context.RequestAborted);
    }
}
