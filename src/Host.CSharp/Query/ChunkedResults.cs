using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InfluxProxy.Host.Query;

/// <summary>
/// A <c>chunked=true</c> answer as InfluxDB streams it: every chunk (<see cref="Core.ResultChunks.chunks"/>) written
/// to the response as soon as it is made, then flushed: a <c>{"results":[chunk]}</c> JSON line (compact, or pretty
/// when asked), or its rows in CSV (<see cref="CsvChunks"/>).
/// </summary>
public sealed class ChunkedResults : IDisposable
{
    private readonly HttpResponse response;
    /// <summary>Exactly one of the two is set: the answer is CSV or JSON.</summary>
    private readonly CsvChunks? csv;
    private readonly Utf8JsonWriter? json;

    public ChunkedResults(HttpContext context)
    {
        response = context.Response;
        // InfluxDB's content types; whatever else the client accepts (msgpack included), the answer is JSON.
        if (ResultsFormat.WantsCsv(context.Request))
        {
            csv = new CsvChunks();
            response.ContentType = "text/csv";
        }
        else
        {
            json = new Utf8JsonWriter(response.BodyWriter, Http.JsonBody.WriterOptions(Http.JsonBody.WantsPretty(context.Request)));
            response.ContentType = "application/json";
        }
    }

    public async Task WriteAsync(IEnumerable<JsonObject> chunks, CancellationToken ct)
    {
        foreach (var chunk in chunks)
        {
            if (json is not null)
                WriteJson(json, chunk);
            else
                await response.WriteAsync(csv!.Text(chunk), ct);
            await response.BodyWriter.FlushAsync(ct);
        }
    }

    private void WriteJson(Utf8JsonWriter json, JsonObject chunk)
    {
        json.WriteStartObject();
        json.WriteStartArray("results");
        chunk.WriteTo(json);
        json.WriteEndArray();
        json.WriteEndObject();
        json.Flush();
        // One writer for every line: it takes a new top-level value only once reset.
        json.Reset();
        response.BodyWriter.Write("\n"u8);
    }

    public void Dispose() => json?.Dispose();
}
