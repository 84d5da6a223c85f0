using System.Text.Json.Nodes;
using InfluxProxy.Host.Backends;

namespace InfluxProxy.Host.Query;

/// <summary>Asks one backend an InfluxQL statement with the client's parameters.</summary>
public sealed class QueryRelay(BackendConnection connection)
{
    public BackendInfo Info => connection.Info;

    /// <summary>The backend's answer unread, for relaying as it streams; or why it could not be reached.</summary>
    public async Task<(HttpResponseMessage? Response, string Failure)> SendAsync(
        IEnumerable<KeyValuePair<string, string>> form, string? accept, CancellationToken ct)
    {
        using var request = connection.Request(HttpMethod.Post, "/query");
        request.Content = new FormUrlEncodedContent(form);
        if (accept is not null)
            request.Headers.Accept.ParseAdd(accept);
        return await SendAsync(request, ct);
    }

    /// <summary>A Prometheus remote read (<c>/api/v1/prom/read</c>), its body as the client sent it; the answer, or why there is none.</summary>
    public async Task<(HttpResponseMessage? Response, string Failure)> PromReadAsync(string query, byte[] body, CancellationToken ct)
    {
        using var request = connection.Request(HttpMethod.Post, "/api/v1/prom/read" + query);
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentEncoding.Add("snappy");
        request.Content.Headers.ContentType = new("application/x-protobuf");
        return await SendAsync(request, ct);
    }

    private async Task<(HttpResponseMessage? Response, string Failure)> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        try
        {
            return (await connection.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct), "");
        }
        catch (Exception e) when (BackendConnection.IsTransport(e, ct))
        {
            return (null, BackendConnection.TransportReason(e));
        }
    }

    /// <summary>The backend's <c>results[0]</c> for one statement, or why there is none (transport failure or 5xx).</summary>
    public async Task<(JsonObject? Result, string Failure)> AskAsync(IEnumerable<KeyValuePair<string, string>> form, CancellationToken ct)
    {
        var (response, failure) = await SendAsync(form, "application/json", ct);
        if (response is null)
            return (null, failure);
        using (response)
            return await QueryAnswer.FirstResultAsync(response, ct);
    }
}
