using System.Net.Http.Headers;
using System.Text;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// Tells the other proxies (<c>ha_addrs</c>) of a job's flag, as the original did (<c>POST /migrate/state</c>), but
/// with this proxy's credentials and over https when it serves https, and with a lease: the peer clears a flag whose
/// lease runs out (<see cref="LeaseHeader"/>), so a dead initiator never leaves it set. While a job runs the flag is
/// renewed every third of the lease.
/// </summary>
public sealed partial class PeerFlags(HttpClient http, string username, string password, bool https, ILogger<PeerFlags> logger)
{
    /// <summary>Seconds the flag a request sets holds unless renewed.</summary>
    public const string LeaseHeader = "X-Influx-Proxy-Lease";

    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(60);

    /// <summary>Sets (with the lease) or clears the flag on every peer; a peer that does not answer is logged, not waited for again.</summary>
    public Task TellAsync(IReadOnlyList<string> peers, MigrationFlag flag, bool value, CancellationToken ct) =>
        Task.WhenAll(peers.Select(peer => TellOneAsync(peer, flag, value, ct)));

    private async Task TellOneAsync(string peer, MigrationFlag flag, bool value, CancellationToken ct)
    {
        var form = flag.Circle is { } circle
            ? new Dictionary<string, string> { ["circle_id"] = circle.ToString(), ["migrating"] = value ? "true" : "false" }
            : new Dictionary<string, string> { ["resyncing"] = value ? "true" : "false" };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{(https ? "https" : "http")}://{peer}/migrate/state") { Content = new FormUrlEncodedContent(form) };
        if (username.Length > 0 || password.Length > 0)
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{username}:{password}")));
        if (value)
            request.Headers.Add(LeaseHeader, ((int)Lease.TotalSeconds).ToString());
        try
        {
            using var response = await http.SendAsync(request, ct);
            if (!response.IsSuccessStatusCode)
                LogPeerRefused(peer, (int)response.StatusCode, await response.Content.ReadAsStringAsync(ct));
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            LogPeerUnreachable(peer, e.Message);
        }
    }

    [LoggerMessage(EventId = Hosting.EventIds.PeerRefused, Level = LogLevel.Warning, Message = "peer {Peer} refused the migration flag: {Status} {Body}")]
    private partial void LogPeerRefused(string peer, int status, string body);

    [LoggerMessage(EventId = Hosting.EventIds.PeerUnreachable, Level = LogLevel.Warning, Message = "peer {Peer} cannot be told the migration flag: {Reason}")]
    private partial void LogPeerUnreachable(string peer, string reason);
}

/// <summary>The flag a job holds while it runs: its circle's <c>migrating</c>, or <c>resyncing</c>.</summary>
public sealed record MigrationFlag(int? Circle);
