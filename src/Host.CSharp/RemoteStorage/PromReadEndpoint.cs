using Google.Protobuf;
using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Http;
using InfluxProxy.Host.Query;
using InfluxProxy.Host.RemoteStorage.Wire;
using Snappier;

namespace InfluxProxy.Host.RemoteStorage;

/// <summary>
/// <c>POST /api/v1/prom/read?db=&amp;rp=</c>: Prometheus remote read, answered by the backends themselves (InfluxDB 1.x
/// serves it). A query naming its metric (<c>__name__="…"</c>) goes to that measurement's owner, with failover across
/// circles, and its answer is relayed as it is; any other (a regex on the name, or none) is asked of every backend
/// of one circle and their series merged.
/// </summary>
public static class PromReadEndpoint
{
    private const string Protobuf = "application/x-protobuf";

    public static async Task Handle(HttpContext context, QueryRouter router, BackendRegistry backends, EndpointOptions options)
    {
        if (await PromRequest.OpenAsync(context, options) is not var (db, body))
            return;
        byte[] compressed;
        ReadRequest request;
        using (body)
        {
            compressed = body.Written.ToArray();
            try
            {
                request = ReadRequest.Parser.ParseFrom(Snappy.DecompressToArray(compressed));
            }
            catch (Exception e) when (e is InvalidDataException or InvalidProtocolBufferException)
            {
                await Errors.BadRequest(context, e.Message);
                return;
            }
        }
        // The database and policy only: the client's u and p are the proxy's credentials, not the backends'.
        var rp = context.Request.Query["rp"].ToString();
        var query = $"?db={Uri.EscapeDataString(db)}" + (rp.Length > 0 ? $"&rp={Uri.EscapeDataString(rp)}" : "");
        var named = request.Queries.Count == 1 ? PromRead.measurement(Matchers(request.Queries[0])) : null;
        var failures = named is { } measurement
            ? await RelayFirstAsync(context, router.Candidates(db, measurement.Value), query, compressed)
            : await MergeCircleAsync(context, router.CirclesInTryOrder().Select(c => c.Backends.Select(b => backends[b]).ToList()), query, compressed);
        if (failures is not null)
            await Errors.Write(context, StatusCodes.Status503ServiceUnavailable, "no backend could answer: " + failures);
    }

    private static Microsoft.FSharp.Collections.FSharpList<PromMatcher> Matchers(Wire.Query query) =>
        Microsoft.FSharp.Collections.ListModule.OfSeq(query.Matchers.Select(m => m.Type switch
        {
            LabelMatcher.Types.Type.Eq => PromMatcher.NewEqual(m.Name, m.Value),
            LabelMatcher.Types.Type.Neq => PromMatcher.NewNotEqual(m.Name, m.Value),
            LabelMatcher.Types.Type.Re => PromMatcher.NewMatches(m.Name, m.Value),
            _ => PromMatcher.NewNotMatches(m.Name, m.Value),
        }));

    /// <summary>The first owner's answer that is not a 5xx, relayed as it is; the failures when none answered.</summary>
    private static async Task<string?> RelayFirstAsync(HttpContext context, IReadOnlyList<Backend> candidates, string query, byte[] compressed)
    {
        var failures = new List<string>();
        foreach (var backend in candidates)
        {
            var (answer, failure) = await backend.Queries.PromReadAsync(query, compressed, context.RequestAborted);
            if (answer is null || (int)answer.StatusCode >= 500)
            {
                failures.Add($"{backend.Info.Name}: {(answer is null ? failure : $"status {(int)answer.StatusCode}")}");
                answer?.Dispose();
                continue;
            }
            using (answer)
                if (await RelayAsync(context, answer, backend.Info.Name) is { } brokeOff)
                {
                    failures.Add($"{backend.Info.Name}: {brokeOff}");
                    continue;
                }
            return null;
        }
        return string.Join("; ", failures);
    }

    /// <summary>Every backend of the first circle whose backends all answer 200, their series merged query by query; a refusal (4xx) relayed as it is.</summary>
    private static async Task<string?> MergeCircleAsync(HttpContext context, IEnumerable<List<Backend>> circles, string query, byte[] compressed)
    {
        var failures = new List<string>();
        foreach (var circle in circles)
        {
            var answers = await Task.WhenAll(circle.Select(b => b.Queries.PromReadAsync(query, compressed, context.RequestAborted)));
            try
            {
                var refused = Array.FindIndex(answers, a => a.Response is { IsSuccessStatusCode: false } r && (int)r.StatusCode < 500);
                if (refused >= 0)
                {
                    var brokeOff = await RelayAsync(context, answers[refused].Response!, circle[refused].Info.Name);
                    if (brokeOff is null)
                        return null;
                    failures.Add($"{circle[refused].Info.Name}: {brokeOff}");
                    continue;
                }
                if (answers.All(a => a.Response is { IsSuccessStatusCode: true })
                    && await BodiesAsync(answers.Select(a => a.Response!), failures, context.RequestAborted) is { } bodies)
                {
                    var merged = new ReadResponse();
                    foreach (var body in bodies)
                    {
                        var one = ReadResponse.Parser.ParseFrom(Snappy.DecompressToArray(body));
                        for (var i = 0; i < one.Results.Count; i++)
                        {
                            while (merged.Results.Count <= i)
                                merged.Results.Add(new QueryResult());
                            merged.Results[i].Timeseries.AddRange(one.Results[i].Timeseries);
                        }
                    }
                    context.Response.StatusCode = StatusCodes.Status200OK;
                    context.Response.ContentType = Protobuf;
                    context.Response.Headers.ContentEncoding = "snappy";
                    await context.Response.Body.WriteAsync(Snappy.CompressToArray(merged.ToByteArray()), context.RequestAborted);
                    return null;
                }
                failures.AddRange(answers.Where(a => a.Response is not { IsSuccessStatusCode: true }).Select(a => a.Response is null ? a.Failure : $"status {(int)a.Response.StatusCode}"));
            }
            finally
            {
                foreach (var (response, _) in answers)
                    response?.Dispose();
            }
        }
        return string.Join("; ", failures.Distinct());
    }

    /// <summary>Every backend's answer read whole; null (with why) when one broke off its answer.</summary>
    private static async Task<byte[][]?> BodiesAsync(IEnumerable<HttpResponseMessage> answers, List<string> failures, CancellationToken ct)
    {
        try
        {
            return await Task.WhenAll(answers.Select(a => a.Content.ReadAsByteArrayAsync(ct)));
        }
        catch (Exception e) when (BackendConnection.BrokeOff(e, ct))
        {
            failures.Add($"broke off its answer: {e.Message}");
            return null;
        }
    }

    /// <summary>The answer relayed as it is; why, when the backend broke it off before any of it went out (nothing written then).</summary>
    private static async Task<string?> RelayAsync(HttpContext context, HttpResponseMessage answer, string backend)
    {
        context.Response.StatusCode = (int)answer.StatusCode;
        context.Response.ContentType = answer.Content.Headers.ContentType?.ToString() ?? Protobuf;
        if (answer.Content.Headers.ContentEncoding.Count > 0)
            context.Response.Headers.ContentEncoding = answer.Content.Headers.ContentEncoding.ToArray();
        var brokeOff = await AnswerCopy.CopyAsync(answer, context.Response, backend, context.RequestAborted);
        // Nothing went out: another backend's answer, or the 503, is written instead, without this one's encoding.
        if (brokeOff is not null)
            context.Response.Headers.Remove("Content-Encoding");
        return brokeOff;
    }
}
