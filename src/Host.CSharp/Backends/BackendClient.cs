using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using InfluxProxy.Core;

namespace InfluxProxy.Host.Backends;

/// <summary>HTTP to one InfluxDB: batch writes, pings and the few queries the proxy itself needs.</summary>
public sealed class BackendClient
{
    private readonly HttpClient _http;
    private readonly CompressionLevel? _gzipLevel;
    private readonly AuthenticationHeaderValue? _auth;

    public BackendClient(BackendInfo info, HttpClient http, WriteCompression compression)
    {
        Info = info;
        _http = http;
        _gzipLevel = Gzip.Level(compression);
        _auth = info.Username.Length > 0 || info.Password.Length > 0
            ? new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{info.Username}:{info.Password}")))
            : null;
    }

    public BackendInfo Info { get; }

    /// <summary>Posts one batch of ns-precision lines; transport failures become <see cref="WriteOutcomeKind.Transient"/>.</summary>
    public async Task<WriteOutcome> WriteAsync(string db, string rp, IReadOnlyList<BatchPart> parts, CancellationToken ct)
    {
        var query = $"/write?db={Uri.EscapeDataString(db)}&precision=ns" + (rp.Length > 0 ? $"&rp={Uri.EscapeDataString(rp)}" : "");
        using var request = new HttpRequestMessage(HttpMethod.Post, Url(query)) { Content = new BatchContent(parts, _gzipLevel) };
        request.Headers.Authorization = _auth;
        try
        {
            using var response = await _http.SendAsync(request, ct);
            var body = response.IsSuccessStatusCode ? "" : ErrorText(await response.Content.ReadAsStringAsync(ct));
            return WriteOutcome.FromStatus((int)response.StatusCode, body);
        }
        catch (Exception e) when (IsTransport(e, ct))
        {
            return new(WentAway(e) ? WriteOutcomeKind.Died : WriteOutcomeKind.Unreachable, TransportReason(e));
        }
    }

    /// <summary>GET /ping with our credentials: Up on 204, Unauthorized on 401/403, Down otherwise.</summary>
    public async Task<BackendState> PingAsync(CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url("/ping"));
        request.Headers.Authorization = _auth;
        try
        {
            using var response = await _http.SendAsync(request, ct);
            return response.StatusCode switch
            {
                HttpStatusCode.NoContent or HttpStatusCode.OK => BackendState.Up,
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => BackendState.Unauthorized,
                _ => BackendState.Down,
            };
        }
        catch (Exception e) when (IsTransport(e, ct))
        {
            return BackendState.Down;
        }
    }

    /// <summary>
    /// POSTs one InfluxQL statement with the client's parameters and returns the backend's answer unread, for relaying
    /// or parsing; null when the backend could not be reached (the reason is returned).
    /// </summary>
    public async Task<(HttpResponseMessage? Response, string Failure)> QueryAsync(
        IEnumerable<KeyValuePair<string, string>> form, string? accept, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url("/query")) { Content = new FormUrlEncodedContent(form) };
        request.Headers.Authorization = _auth;
        if (accept is not null)
            request.Headers.Accept.ParseAdd(accept);
        try
        {
            return (await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct), "");
        }
        catch (Exception e) when (IsTransport(e, ct))
        {
            return (null, TransportReason(e));
        }
    }

    /// <summary>The backend's databases, or null when it cannot tell us.</summary>
    public Task<IReadOnlyList<string>?> ShowDatabasesAsync(CancellationToken ct) => FirstColumnAsync("", "SHOW DATABASES", ct);

    /// <summary>The retention policies of one database, or null when the backend cannot tell us (or lacks the database).</summary>
    public Task<IReadOnlyList<RetentionPolicy>?> RetentionPoliciesAsync(string db, CancellationToken ct) =>
        RowsAsync(db, "SHOW RETENTION POLICIES", (columns, row) => new RetentionPolicy(
            row[columns["name"]].GetString() ?? "",
            DurationNs(row[columns["duration"]]),
            DurationNs(row[columns["shardGroupDuration"]]),
            row[columns["default"]].GetBoolean()), ct);

    /// <summary>The times the shard groups of (db, rp) cover, or null when the backend cannot tell us.</summary>
    public async Task<IReadOnlyList<ShardGroupSpan>?> ShardGroupsAsync(string db, string rp, CancellationToken ct) =>
        (await RowsAsync("", "SHOW SHARD GROUPS", (columns, row) => (
            Db: row[columns["database"]].GetString(),
            Rp: row[columns["retention_policy"]].GetString(),
            Span: new ShardGroupSpan(TimeNs(row[columns["start_time"]]), TimeNs(row[columns["end_time"]]))), ct))
        ?.Where(g => g.Db == db && g.Rp == rp).Select(g => g.Span).ToList();

    /// <summary>The measurements of one database, or null when the backend cannot tell us.</summary>
    public Task<IReadOnlyList<string>?> ShowMeasurementsAsync(string db, CancellationToken ct) =>
        FirstColumnAsync(db, "SHOW MEASUREMENTS LIMIT 100000", ct);

    private Task<IReadOnlyList<string>?> FirstColumnAsync(string db, string query, CancellationToken ct) =>
        RowsAsync(db, query, (_, row) => row[0].GetString() ?? "", ct);

    /// <summary>Throws FormatException (the answer is then unknown) for a text that is not a Go duration.</summary>
    private static long DurationNs(JsonElement text) =>
        Retention.parseDuration(text.GetString() ?? "") is { } ns ? ns.Value : throw new FormatException($"not a duration: {text}");

    /// <summary>An RFC 3339 time as InfluxDB writes it, in ns since the epoch.</summary>
    private static long TimeNs(JsonElement text) =>
        (DateTimeOffset.Parse(text.GetString() ?? "", System.Globalization.CultureInfo.InvariantCulture) - DateTimeOffset.UnixEpoch).Ticks * 100;

    /// <summary>Every row of a one-statement query, read with its series' column indices by name; null on any failure.</summary>
    private async Task<IReadOnlyList<T>?> RowsAsync<T>(string db, string query, Func<Dictionary<string, int>, JsonElement, T> read, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url($"/query?db={Uri.EscapeDataString(db)}&q={Uri.EscapeDataString(query)}"));
        request.Headers.Authorization = _auth;
        try
        {
            using var response = await _http.SendAsync(request, ct);
            if (!response.IsSuccessStatusCode)
                return null;
            using var doc = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct), cancellationToken: ct);
            var result = doc.RootElement.GetProperty("results")[0];
            if (result.TryGetProperty("error", out _))
                return null;
            if (!result.TryGetProperty("series", out var series))
                return [];
            var rows = new List<T>();
            foreach (var s in series.EnumerateArray())
            {
                var columns = s.GetProperty("columns").EnumerateArray().Select((c, i) => (Name: c.GetString() ?? "", i)).ToDictionary(c => c.Name, c => c.i);
                if (s.TryGetProperty("values", out var values))
                    rows.AddRange(values.EnumerateArray().Select(row => read(columns, row)));
            }
            return rows;
        }
        catch (Exception e) when (IsTransport(e, ct) || e is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException or FormatException)
        {
            return null;
        }
    }

    private Uri Url(string pathAndQuery) => new(Info.Url, Info.Url.AbsolutePath.TrimEnd('/') + pathAndQuery);

    /// <summary>Failures of the connection or a timeout, as opposed to our own cancellation.</summary>
    private static bool IsTransport(Exception e, CancellationToken ct) =>
        e is HttpRequestException or IOException || (e is TaskCanceledException or OperationCanceledException && !ct.IsCancellationRequested);

    /// <summary>
    /// The backend had the request and closed the connection without answering: the response ended, or the connection
    /// was reset or aborted. Not a connection that could not be made, nor a timeout. (A pooled connection the backend
    /// closed while idle is retried on a new one by the handler, so it does not end here.)
    /// </summary>
    private static bool WentAway(Exception e) =>
        e is HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded }
        || (e is HttpRequestException or IOException && Causes(e).OfType<System.Net.Sockets.SocketException>().Any(s =>
            s.SocketErrorCode is System.Net.Sockets.SocketError.ConnectionReset or System.Net.Sockets.SocketError.ConnectionAborted
                or System.Net.Sockets.SocketError.Shutdown));

    private static IEnumerable<Exception> Causes(Exception e)
    {
        for (var cause = e; cause is not null; cause = cause.InnerException)
            yield return cause;
    }

    private static string TransportReason(Exception e) => e switch
    {
        TaskCanceledException or OperationCanceledException => "timeout",
        HttpRequestException { InnerException: { } inner } => $"{e.Message} ({inner.Message})",
        _ => e.Message,
    };

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
