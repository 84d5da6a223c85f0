using InfluxProxy.Host.Backends;

namespace InfluxProxy.Host.Query;

/// <summary>
/// A single statement for one measurement: its owner's answer streamed through to the client as it comes (chunked
/// answers included), trying the next circle's owner on a transport failure, a 5xx, or an answer broken off before
/// any of it went out (<see cref="AnswerCopy"/>).
/// </summary>
public static class OwnerRelay
{
    /// <summary>Streams the first answer into <paramref name="response"/>; false (with the failures) when no owner answered.</summary>
    public static async Task<(bool Relayed, string Failures)> RelayAsync(IReadOnlyList<Backend> candidates, IEnumerable<KeyValuePair<string, string>> form,
        string accept, HttpResponse response, CancellationToken ct)
    {
        var failures = new List<string>();
        foreach (var backend in candidates)
        {
            var (answer, failure) = await backend.Queries.SendAsync(form, accept, ct);
            if (answer is null || (int)answer.StatusCode >= 500)
            {
                failures.Add($"{backend.Info.Name}: {(answer is null ? failure : $"status {(int)answer.StatusCode}")}");
                answer?.Dispose();
                continue;
            }
            using (answer)
            {
                response.StatusCode = (int)answer.StatusCode;
                response.ContentType = answer.Content.Headers.ContentType?.ToString() ?? "application/json";
                if (answer.Headers.TryGetValues(Http.ErrorHeader.Name, out var error))
                    response.Headers[Http.ErrorHeader.Name] = error.Select(Http.ErrorHeader.FromBackend).ToArray();
                if (await AnswerCopy.CopyAsync(answer, response, backend.Info.Name, ct) is { } brokeOff)
                {
                    failures.Add($"{backend.Info.Name}: {brokeOff}");
                    response.Headers.Remove(Http.ErrorHeader.Name);
                    continue;
                }
            }
            return (true, "");
        }
        return (false, string.Join("; ", failures));
    }
}
