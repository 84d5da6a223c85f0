using System.Buffers;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Hosting;

namespace InfluxProxy.Host.Query;

/// <summary>
/// A backend's answer copied into the client's response as it streams. A backend that breaks off its answer once
/// part of it went out breaks the client's connection too: ended cleanly, a cut answer could pass for a whole one (a
/// chunked one ends at any chunk). One that breaks off before any byte went out can be asked of another backend.
/// </summary>
public static partial class AnswerCopy
{
    /// <summary>Copies the body; the reason when the backend broke off before any of it went out (nothing written then).</summary>
    public static async Task<string?> CopyAsync(HttpResponseMessage answer, HttpResponse response, string backend, CancellationToken ct)
    {
        await using var body = await answer.Content.ReadAsStreamAsync(ct);
        var copied = false;
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            for (var read = await body.ReadAsync(buffer, ct); read > 0; read = await body.ReadAsync(buffer, ct))
            {
                copied = true;
                await response.Body.WriteAsync(buffer.AsMemory(0, read), ct);
            }
            return null;
        }
        catch (Exception e) when (BackendConnection.BrokeOff(e, ct))
        {
            if (!copied)
                return $"broke off its answer: {e.Message}";
            LogBrokenOff(Logger(response), backend, e.Message);
            response.HttpContext.Abort();
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static ILogger Logger(HttpResponse response) =>
        response.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("InfluxProxy.Query");

    [LoggerMessage(EventId = EventIds.AnswerBrokenOff, Level = LogLevel.Warning,
        Message = "backend {Backend} broke off its answer after part of it was relayed: the client's connection is aborted ({Reason})")]
    private static partial void LogBrokenOff(ILogger logger, string backend, string reason);
}
