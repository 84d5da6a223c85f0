using System.Text.Encodings.Web;
using System.Text.Json;

namespace InfluxProxy.Host.Http;

/// <summary>JSON bodies as InfluxDB and the original write them: compact or 4-space pretty, a trailing newline.</summary>
public static class JsonBody
{
    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonSerializerOptions Pretty = new(Compact) { WriteIndented = true, IndentSize = 4 };

    public static bool WantsPretty(HttpRequest request) => request.Query["pretty"] == "true";

    public static async Task Write<T>(HttpContext context, int status, T value)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var options = WantsPretty(context.Request) ? Pretty : Compact;
        await JsonSerializer.SerializeAsync(context.Response.Body, value, options, context.RequestAborted);
        await context.Response.Body.WriteAsync("\n"u8.ToArray(), context.RequestAborted);
    }
}
