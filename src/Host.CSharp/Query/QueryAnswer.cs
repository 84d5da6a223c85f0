using System.Text.Json;
using System.Text.Json.Nodes;

namespace InfluxProxy.Host.Query;

/// <summary>Reads a backend's answer to one statement: the one place a backend's <c>/query</c> body is parsed.</summary>
public static class QueryAnswer
{
    /// <summary>
    /// The answer's <c>results[0]</c> (an error result too: a statement a backend answers with an error), or why
    /// there is none: a 5xx, an unreadable or broken-off body, no results.
    /// </summary>
    public static async Task<(JsonObject? Result, string Failure)> FirstResultAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if ((int)response.StatusCode >= 500)
            return (null, $"status {(int)response.StatusCode}");
        try
        {
            var body = await JsonNode.ParseAsync(await response.Content.ReadAsStreamAsync(ct), cancellationToken: ct) as JsonObject;
            if (body?["results"] is JsonArray { Count: > 0 } results && results[0] is JsonObject first)
                return (first, "");
            return body?["error"] is JsonValue error && error.TryGetValue<string>(out var text)
                ? (ErrorResult(0, text), "")
                : (null, "no results in the answer");
        }
        catch (JsonException e)
        {
            return (null, $"unreadable answer: {e.Message}");
        }
        catch (Exception e) when (Backends.BackendConnection.BrokeOff(e, ct))
        {
            return (null, $"broke off its answer: {e.Message}");
        }
    }

    /// <summary>
    /// Every row of a result, with its series' column indices by name. Throws <see cref="FormatException"/> or
    /// <see cref="InvalidOperationException"/> on an answer of another shape.
    /// </summary>
    public static IEnumerable<(Dictionary<string, int> Columns, JsonArray Row)> Rows(JsonObject result)
    {
        foreach (var series in result["series"]?.AsArray() ?? [])
        {
            var columns = (series?["columns"]?.AsArray() ?? throw new FormatException("a series without columns"))
                .Select((c, i) => (Name: c?.GetValue<string>() ?? "", i)).ToDictionary(c => c.Name, c => c.i);
            foreach (var row in series["values"]?.AsArray() ?? [])
                yield return (columns, row?.AsArray() ?? throw new FormatException("an empty row"));
        }
    }

    public static JsonObject ErrorResult(int statementId, string error) => new() { ["statement_id"] = statementId, ["error"] = error };
}
