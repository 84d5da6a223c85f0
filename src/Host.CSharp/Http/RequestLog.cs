using InfluxProxy.Host.Hosting;
using System.Diagnostics;

namespace InfluxProxy.Host.Http;

/// <summary>
/// With <c>log_enabled</c>, one line per request: method, path, query without credentials, status and time taken.
/// The <c>u</c> and <c>p</c> parameters and the Authorization header are never logged.
/// </summary>
public static partial class RequestLog
{
    public static Func<HttpContext, Func<Task>, Task> Middleware(ILogger logger) => async (context, next) =>
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next();
        }
        finally
        {
            var query = string.Join('&', context.Request.Query
                .Where(p => p.Key is not ("u" or "p"))
                .Select(p => $"{p.Key}={p.Value}"));
            LogRequest(logger, context.Request.Method, context.Request.Path, query, context.Response.StatusCode,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    };

    [LoggerMessage(EventId = EventIds.Request, Level = LogLevel.Information, Message = "{Method} {Path}?{Query} -> {Status} in {Milliseconds:F1} ms")]
    private static partial void LogRequest(ILogger logger, string method, string path, string query, int status, double milliseconds);
}
