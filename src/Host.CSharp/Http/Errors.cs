using InfluxProxy.Host.Hosting;

namespace InfluxProxy.Host.Http;

/// <summary>Proxy-generated errors the way InfluxDB 1.x writes them: <c>{"error":"…"}</c> plus <c>X-Influxdb-Error</c>.</summary>
public static partial class Errors
{
    private sealed record ErrorBody(string error);

    public static Task Write(HttpContext context, int status, string message)
    {
        context.Response.Headers[ErrorHeader.Name] = ErrorHeader.Value(message);
        return JsonBody.Write(context, status, new ErrorBody(message));
    }

    public static Task BadRequest(HttpContext context, string message) => Write(context, StatusCodes.Status400BadRequest, message);

    /// <summary>
    /// The last resort: a bug answers 500 in InfluxDB's error shape (logged once, here), or, once the answer has started,
    /// aborts the connection.
    /// </summary>
    public static async Task Unhandled(HttpContext context, Func<Task> next)
    {
        try
        {
            await next();
        }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            // The client's fault, e.g. a body over max_body_size: its own status, not a 500.
            context.Response.Clear();
            await Write(context, e.StatusCode, e.Message);
        }
        catch (InvalidDataException e) when (!context.Response.HasStarted)
        {
            // A form body over the framework's limits (ReadFormAsync).
            context.Response.Clear();
            await Write(context, StatusCodes.Status413PayloadTooLarge, $"request body too large: {e.Message}");
        }
        catch (Exception e) when (!context.RequestAborted.IsCancellationRequested)
        {
            LogUnhandled(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("InfluxProxy.Http"), e, context.Request.Path);
            if (!context.Response.HasStarted)
            {
                context.Response.Clear();
                await Write(context, StatusCodes.Status500InternalServerError, $"internal error: {e.Message}");
            }
            else
                // Part of the answer went out: the client must see it broken, not ended as if whole.
                context.Abort();
        }
    }

    /// <summary>Turns the framework's empty 404 and 405 answers into JSON errors.</summary>
    public static Task FromStatusCode(HttpContext context) => context.Response.StatusCode switch
    {
        StatusCodes.Status404NotFound => Write(context, 404, $"not found: {context.Request.Path}"),
        StatusCodes.Status405MethodNotAllowed => Write(context, 405, $"method not allowed: {context.Request.Method} {context.Request.Path}"),
        var status => Write(context, status, $"request failed with status {status}"),
    };

    [LoggerMessage(EventId = EventIds.Unhandled, Level = LogLevel.Error, Message = "unhandled error on {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception error, string path);
}
