namespace InfluxProxy.Host.Http;

/// <summary>Proxy-generated errors the way InfluxDB 1.x writes them: <c>{"error":"…"}</c> plus <c>X-Influxdb-Error</c>.</summary>
public static class Errors
{
    private sealed record ErrorBody(string error);

    public static Task Write(HttpContext context, int status, string message)
    {
        // Header values must be single-line ASCII-safe; the body keeps the full text.
        context.Response.Headers["X-Influxdb-Error"] = message.ReplaceLineEndings(" ");
        return JsonBody.Write(context, status, new ErrorBody(message));
    }

    public static Task BadRequest(HttpContext context, string message) => Write(context, StatusCodes.Status400BadRequest, message);

    /// <summary>Turns the framework's empty 404 and 405 answers into JSON errors.</summary>
    public static Task FromStatusCode(HttpContext context) => context.Response.StatusCode switch
    {
        StatusCodes.Status404NotFound => Write(context, 404, $"not found: {context.Request.Path}"),
        StatusCodes.Status405MethodNotAllowed => Write(context, 405, $"method not allowed: {context.Request.Method} {context.Request.Path}"),
        var status => Write(context, status, $"request failed with status {status}"),
    };
}
