using System.IO.Compression;
using System.Net;
using System.Text.Json;
using InfluxProxy.Core;
using InfluxProxy.Host.Write;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// Writes batches to one backend and pings it. A batch the backend finds too large (413) is halved until it takes
/// the pieces; a single line it still refuses as too large is a partial write. Used by live flushes and backlog
/// replay alike.
/// </summary>
public sealed class WriteClient(BackendConnection connection, CompressionLevel? gzipLevel)
{
    public BackendInfo Info => connection.Info;

    /// <summary>Posts one batch of ns-precision lines, halving it on 413.</summary>
    public async Task<WriteOutcome> WriteAsync(string db, string rp, IReadOnlyList<BatchPart> parts, CancellationToken ct)
    {
        var outcome = await PostAsync(db, rp, parts, ct);
        if (!outcome.IsTooLarge)
            return outcome;
        if (BatchPart.Halve(parts) is not var (first, second))
            return WriteOutcomeModule.lineTooLarge(WriteOutcomeModule.reason(outcome));
        var firstOutcome = await WriteAsync(db, rp, first, ct);
        if (!WriteOutcomeModule.isTaken(firstOutcome))
            return firstOutcome;
        return WriteOutcomeModule.ofHalves(firstOutcome, await WriteAsync(db, rp, second, ct));
    }

    /// <summary>
    /// GET /ping with our credentials: Up on 204, Unauthorized on 401/403, Down otherwise; with why it failed ("" when
    /// it answered 204).
    /// </summary>
    public async Task<(BackendState State, string Problem)> PingAsync(CancellationToken ct)
    {
        using var request = connection.Request(HttpMethod.Get, "/ping");
        try
        {
            using var response = await connection.Http.SendAsync(request, ct);
            var problem = $"/ping answered {(int)response.StatusCode} {response.ReasonPhrase}";
            return response.StatusCode switch
            {
                HttpStatusCode.NoContent or HttpStatusCode.OK => (BackendState.Up, ""),
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => (BackendState.Unauthorized, problem),
                _ => (BackendState.Down, problem),
            };
        }
        catch (Exception e) when (BackendConnection.IsTransport(e, ct))
        {
            return (BackendState.Down, BackendConnection.TransportReason(e));
        }
    }

    private async Task<WriteOutcome> PostAsync(string db, string rp, IReadOnlyList<BatchPart> parts, CancellationToken ct)
    {
        var query = $"/write?db={Uri.EscapeDataString(db)}&precision=ns" + (rp.Length > 0 ? $"&rp={Uri.EscapeDataString(rp)}" : "");
        using var request = connection.Request(HttpMethod.Post, query);
        request.Content = new BatchContent(parts, gzipLevel);
        try
        {
            using var response = await connection.Http.SendAsync(request, ct);
            var body = response.IsSuccessStatusCode ? "" : ErrorText(await response.Content.ReadAsStringAsync(ct));
            return WriteOutcomeModule.ofStatus((int)response.StatusCode, body);
        }
        catch (Exception e) when (BackendConnection.IsTransport(e, ct))
        {
            var reason = BackendConnection.TransportReason(e);
            return BackendConnection.WentAway(e) ? WriteOutcome.NewDied(reason) : WriteOutcome.NewUnreachable(reason);
        }
    }

    /// <summary>InfluxDB's <c>{"error":"…"}</c> text, or the raw body.</summary>
    private static string ErrorText(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("error", out var error) ? error.GetString() ?? body : body;
        }
        catch (JsonException)
        {
            return body.Trim();
        }
    }
}
