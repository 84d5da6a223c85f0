using System.Runtime.CompilerServices;
using System.Text.Json;
using InfluxProxy.Host.Query;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// A backend's answer to one statement read as it streams (<c>chunked=true</c>, times in ns): InfluxDB sends one JSON
/// object per chunk of rows, so memory holds one chunk whatever the measurement's size.
/// </summary>
public static class ChunkedAnswer
{
    public const string Json = "application/json";

    /// <summary>What InfluxDB 1.4 and later answers when asked; older versions answer JSON whatever is asked.</summary>
    public const string MessagePack = "application/x-msgpack";

    /// <summary>The answer's body, once the backend answered 2xx, in <paramref name="accept"/> when the backend has it. Throws <see cref="StepFailure"/> otherwise.</summary>
    public static async Task<HttpResponseMessage> OpenAsync(QueryRelay relay, string db, string statement, int chunkSize, string accept, CancellationToken ct)
    {
        KeyValuePair<string, string>[] form =
            [new("q", statement), new("db", db), new("chunked", "true"), new("chunk_size", chunkSize.ToString()), new("epoch", "ns")];
        var (response, failure) = await relay.SendAsync(form, accept, ct);
        if (response is null)
            throw new StepFailure($"{relay.Info.Url} cannot be asked {statement}: {failure}");
        if (response.IsSuccessStatusCode)
            return response;
        using (response)
            throw new StepFailure($"{relay.Info.Url} answered {(int)response.StatusCode} to {statement}: {await response.Content.ReadAsStringAsync(ct)}");
    }

    /// <summary>Every series of every chunk. Throws <see cref="StepFailure"/> when the backend cannot be asked or answers an error.</summary>
    public static async IAsyncEnumerable<JsonElement> SeriesAsync(QueryRelay relay, string db, string statement, int chunkSize,
        [EnumeratorCancellation] CancellationToken ct)
    {
        using var response = await OpenAsync(relay, db, statement, chunkSize, Json, ct);
        using var lines = new JsonLines(await response.Content.ReadAsStreamAsync(ct));
        while (await Fill(lines, relay, statement, ct))
            while (lines.TryNext(out var line))
            {
                if (line.IsEmpty)
                    continue;
                using var chunk = Parse(line.Span, relay, statement);
                foreach (var series in SeriesOf(chunk.RootElement, relay, statement))
                    yield return series.Clone();
            }
    }

    /// <summary>Reads more of an answer; what goes wrong in the reading is the step's failure.</summary>
    public static ValueTask<bool> Fill(JsonLines lines, QueryRelay relay, string statement, CancellationToken ct) =>
        Reading(lines.FillAsync(ct), relay, statement);

    /// <summary>One read of a backend's answer, whose failures (its connection broken off, a chunk cut or too large, bytes that are not MessagePack) fail the step.</summary>
    public static async ValueTask<T> Reading<T>(ValueTask<T> read, QueryRelay relay, string statement)
    {
        try
        {
            return await read;
        }
        catch (EndOfStreamException)
        {
            throw new StepFailure($"{relay.Info.Url} ended its answer to {statement} in the middle of a chunk");
        }
        catch (InvalidDataException e)
        {
            throw new StepFailure($"{relay.Info.Url} answered {statement} with {e.Message}");
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            throw new StepFailure($"{relay.Info.Url} broke off its answer to {statement}: {e.Message}");
        }
        catch (MessagePack.MessagePackSerializationException e)
        {
            throw new StepFailure($"{relay.Info.Url} answered {statement} with what is not MessagePack: {e.Message}");
        }
    }

    private static JsonDocument Parse(ReadOnlySpan<byte> chunk, QueryRelay relay, string statement)
    {
        try
        {
            return JsonDocument.Parse(chunk.ToArray());
        }
        catch (JsonException e)
        {
            throw new StepFailure($"{relay.Info.Url} answered {statement} with what is not JSON: {e.Message}");
        }
    }

    private static IEnumerable<JsonElement> SeriesOf(JsonElement chunk, QueryRelay relay, string statement)
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

    /// <summary>The series' tags; none when it has no <c>tags</c>.</summary>
    public static IEnumerable<(string Key, string Value)> Tags(JsonElement series) =>
        series.TryGetProperty("tags", out var tags) && tags.ValueKind == JsonValueKind.Object
            ? tags.EnumerateObject().Select(t => (t.Name, t.Value.ValueKind == JsonValueKind.String ? t.Value.GetString()! : t.Value.GetRawText()))
            : [];

    public static string[] Columns(JsonElement series) => [.. series.GetProperty("columns").EnumerateArray().Select(c => c.GetString() ?? "")];

    public static JsonElement.ArrayEnumerator Rows(JsonElement series) =>
        series.TryGetProperty("values", out var values) ? values.EnumerateArray() : default;
}
