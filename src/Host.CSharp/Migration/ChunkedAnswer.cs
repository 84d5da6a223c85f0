using System.Runtime.CompilerServices;
using System.Text.Json;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Query;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// A backend's answer to one statement read as it streams (<c>chunked=true</c>, times in ns): InfluxDB sends one JSON
/// object per chunk of rows, so memory holds one chunk whatever the measurement's size.
/// </summary>
public static class ChunkedAnswer
{
    /// <summary>Every series of every chunk. Throws <see cref="StepFailure"/> when the backend cannot be asked or answers an error.</summary>
    public static async IAsyncEnumerable<JsonElement> SeriesAsync(QueryRelay relay, string db, string statement, int chunkSize,
        [EnumeratorCancellation] CancellationToken ct)
    {
        KeyValuePair<string, string>[] form =
            [new("q", statement), new("db", db), new("chunked", "true"), new("chunk_size", chunkSize.ToString()), new("epoch", "ns")];
        var (response, failure) = await relay.SendAsync(form, "application/json", ct);
        if (response is null)
            throw new StepFailure($"{relay.Info.Url} cannot be asked {statement}: {failure}");
        using (response)
        {
            if (!response.IsSuccessStatusCode)
                throw new StepFailure($"{relay.Info.Url} answered {(int)response.StatusCode} to {statement}: {await response.Content.ReadAsStringAsync(ct)}");
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            await foreach (var chunk in ReadChunksAsync(relay, statement, body, ct))
            {
                if (chunk.TryGetProperty("error", out var error))
                    throw new StepFailure($"{relay.Info.Url} answered {statement} with an error: {error}");
                foreach (var result in chunk.TryGetProperty("results", out var results) ? results.EnumerateArray() : default)
                {
                    if (result.TryGetProperty("error", out var resultError))
                        throw new StepFailure($"{relay.Info.Url} answered {statement} with an error: {resultError.GetString()}");
                    if (result.TryGetProperty("series", out var series))
                        foreach (var one in series.EnumerateArray())
                            yield return one;
                }
            }
        }
    }

    private static async IAsyncEnumerable<JsonElement> ReadChunksAsync(QueryRelay relay, string statement, Stream body, [EnumeratorCancellation] CancellationToken ct)
    {
        var chunks = JsonSerializer.DeserializeAsyncEnumerable<JsonElement>(body, topLevelValues: true, cancellationToken: ct).GetAsyncEnumerator(ct);
        try
        {
            while (true)
            {
                try
                {
                    if (!await chunks.MoveNextAsync())
                        yield break;
                }
                catch (Exception e) when (e is JsonException or IOException or HttpRequestException)
                {
                    throw new StepFailure($"{relay.Info.Url} broke off its answer to {statement}: {e.Message}");
                }
                yield return chunks.Current;
            }
        }
        finally
        {
            await chunks.DisposeAsync();
        }
    }

    /// <summary>The series' tags; none when it has no <c>tags</c>.</summary>
    public static IEnumerable<(string Key, string Value)> Tags(JsonElement series) =>
        series.TryGetProperty("tags", out var tags) && tags.ValueKind == JsonValueKind.Object
            ? tags.EnumerateObject().Select(t => (t.Name, t.Value.ValueKind == JsonValueKind.String ? t.Value.GetString()! : t.Value.GetRawText()))
            : [];

    public static string[] Columns(JsonElement series) => [.. series.GetProperty("columns").EnumerateArray().Select(c => c.GetString() ?? "")];

    public static JsonElement.ArrayEnumerator Rows(JsonElement series) =>
        series.TryGetProperty("values", out var values) ? values.EnumerateArray() : default;
}
