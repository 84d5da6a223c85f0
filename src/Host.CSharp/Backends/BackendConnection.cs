using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace InfluxProxy.Host.Backends;

/// <summary>How to reach one backend: its URL, our credentials for it, and the HTTP client for it (shared with the backends checked alike).</summary>
public sealed class BackendConnection
{
    private readonly AuthenticationHeaderValue? _auth;

    public BackendConnection(BackendInfo info, HttpClient http)
    {
        Info = info;
        Http = http;
        _auth = info.Username.Length > 0 || info.Password.Length > 0
            ? new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{info.Username}:{info.Password}")))
            : null;
    }

    public BackendInfo Info { get; }
    public HttpClient Http { get; }

    /// <summary>A request to <paramref name="pathAndQuery"/> under the backend's URL, with our credentials.</summary>
    public HttpRequestMessage Request(HttpMethod method, string pathAndQuery)
    {
        var request = new HttpRequestMessage(method, new Uri(Info.Url, Info.Url.AbsolutePath.TrimEnd('/') + pathAndQuery));
        request.Headers.Authorization = _auth;
        return request;
    }

    /// <summary>Failures of the connection or a timeout, as opposed to our own cancellation.</summary>
    public static bool IsTransport(Exception e, CancellationToken ct) =>
        e is HttpRequestException or IOException || (e is OperationCanceledException && !ct.IsCancellationRequested);

    /// <summary>
    /// The backend had the request and closed the connection without answering: the response ended, or the connection
    /// was reset or aborted. Not a connection that could not be made, nor a timeout. (A pooled connection the backend
    /// closed while idle is retried on a new one by the handler, so it does not end here.)
    /// </summary>
    public static bool WentAway(Exception e) =>
        e is HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded }
        || (e is HttpRequestException or IOException && Causes(e).OfType<SocketException>().Any(s =>
            s.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown));

    /// <summary>The connection failed while a backend's answer was read: it broke off its answer (not our cancellation).</summary>
    public static bool BrokeOff(Exception e, CancellationToken ct) => e is IOException or HttpRequestException && !ct.IsCancellationRequested;

    public static string TransportReason(Exception e) => e switch
    {
        OperationCanceledException => "timeout",
        HttpRequestException { InnerException: { } inner } => $"{e.Message} ({inner.Message})",
        _ => e.Message,
    };

    private static IEnumerable<Exception> Causes(Exception e)
    {
        for (var cause = e; cause is not null; cause = cause.InnerException)
            yield return cause;
    }
}
