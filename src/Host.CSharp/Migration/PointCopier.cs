using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Query;
using InfluxProxy.Host.Write;
using MessagePack;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// Copies one slice of one measurement (a copy step) bit-exactly: reads the source's points as they stream
/// (<c>GROUP BY *</c>, times in ns, in MessagePack where the source has it, else JSON), writes them back as line protocol typed by the measurement's field keys
/// (<see cref="AnswerLines"/>), and sends batches of <c>batch</c> lines to each destination through its writer, a few
/// at once: sent straight when the destination takes writes and its backlog is empty, backlogged otherwise, as live
/// writes are. The step ends once every batch is stored or backlogged at every destination; a batch neither stored
/// nor backlogged fails it (it is copied again, whole: a point written twice is stored once).
/// </summary>
public sealed class PointCopier(MigrationBackends backends, BackendRegistry registry, DestinationSchema schema, int batch, CompressionLevel? gzip)
{
    /// <summary>Batches of one step on their way; each destination takes at most <see cref="SendsPerDestination"/> at once.</summary>
    private const int BatchesInFlight = 4;

    private const int SendsPerDestination = 4;

    private readonly ConcurrentDictionary<int, SemaphoreSlim> _sends = new();

    /// <summary>The points copied; <paramref name="progress"/> is told the points read so far.</summary>
    public async Task<long> CopyAsync(MigrationMember source, IReadOnlyList<MigrationMember> destinations, MigrationStep step, Window window,
        Action<long> progress, CancellationToken ct)
    {
        var sourceSchema = backends.Schema(source);
        foreach (var destination in destinations)
            await schema.EnsureAsync(sourceSchema, backends.Schema(destination), step.Db, step.Rp, ct);
        var lines = new AnswerLines(step.Db, step.Rp, step.Measurement, await FieldTypesAsync(source, step, ct), batch, destinations.Count);
        var writers = destinations.Select(d => registry[d.Id].Writer).ToList();
        var inFlight = new List<Task<Delivery>>();
        var refusals = new List<string>();
        var relay = backends.Relay(source);
        var statement = MigrationQueries.points(step.Rp, step.Measurement, window);
        async Task SendFull()
        {
            foreach (var full in lines.TakeFull())
                await SendAsync(full, destinations, writers, inFlight, refusals);
            progress(lines.Points);
        }
        using (var response = await ChunkedAnswer.OpenAsync(relay, step.Db, statement, batch, ChunkedAnswer.MessagePack, ct))
        {
            var body = await response.Content.ReadAsStreamAsync(ct);
            if (response.Content.Headers.ContentType?.MediaType == ChunkedAnswer.MessagePack)
                await ReadMessagePackAsync(body, lines, SendFull, relay, statement, ct);
            else
                await ReadJsonAsync(body, lines, SendFull, relay, statement, ct);
        }
        if (lines.TakeRest() is { } rest)
            await SendAsync(rest, destinations, writers, inFlight, refusals);
        foreach (var delivery in await Task.WhenAll(inFlight))
            Check(delivery, refusals);
        progress(lines.Points);
        if (lines.Unfit > 0)
            throw new StepFailure($"{lines.Unfit} values have a type their field's keys do not list (a field of several types): not copied");
        if (refusals.Count > 0)
            throw new StepFailure($"the destination refused some points: {refusals[0]}");
        return lines.Points;
    }

    private static async Task ReadJsonAsync(Stream body, AnswerLines lines, Func<Task> sendFull, QueryRelay relay, string statement, CancellationToken ct)
    {
        using var answer = new JsonLines(body);
        while (await ChunkedAnswer.Fill(answer, relay, statement, ct))
        {
            while (answer.TryNext(out var chunk))
                Read(lines, chunk.Span);
            await sendFull();
        }
    }

    private static void Read(AnswerLines lines, ReadOnlySpan<byte> chunk)
    {
        if (chunk.IsEmpty)
            return;
        try
        {
            lines.Read(chunk);
        }
        catch (JsonException e)
        {
            throw new StepFailure($"the source answered what is not JSON: {e.Message}");
        }
    }

    private static async Task ReadMessagePackAsync(Stream body, AnswerLines lines, Func<Task> sendFull, QueryRelay relay, string statement, CancellationToken ct)
    {
        using var answer = new MessagePackValues(body);
        while (await ChunkedAnswer.Reading(answer.NextAsync(ct), relay, statement) is { } chunk)
        {
            try
            {
                lines.Read(new ReadOnlySequence<byte>(chunk));
            }
            catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException)
            {
                throw new StepFailure($"the source answered what is not MessagePack: {e.Message}");
            }
            await sendFull();
        }
    }

    /// <summary>Each field's type; a field of several types is written as the first of float, integer, unsigned, string, boolean.</summary>
    private async Task<Dictionary<string, FieldType>> FieldTypesAsync(MigrationMember source, MigrationStep step, CancellationToken ct)
    {
        var keys = await backends.Schema(source).FieldKeysAsync(step.Db, step.Rp, step.Measurement, ct);
        if (keys.IsError)
            throw new StepFailure($"{source.Url} cannot list the field keys of {step.Measurement}: {keys.ErrorValue}");
        return keys.ResultValue.GroupBy(k => k.Field)
            .Select(g => (g.Key, Type: FieldTypeModule.preferred(g.Select(k => k.Type))))
            .Where(t => t.Type is not null)
            .ToDictionary(t => t.Key, t => t.Type!.Value);
    }

    private async Task SendAsync(LineChunk chunk, IReadOnlyList<MigrationMember> destinations, List<BackendWriter> writers, List<Task<Delivery>> inFlight,
        List<string> refusals)
    {
        chunk.Tally.Expect(writers.Count);
        if (gzip is { } level)
            chunk.Compress(level);
        // Once handed over, a batch is stored or backlogged whatever happens to the job: not cancelled.
        for (var i = 0; i < writers.Count; i++)
            _ = SendOneAsync(writers[i], _sends.GetOrAdd(destinations[i].Id, _ => new SemaphoreSlim(SendsPerDestination)), chunk);
        inFlight.Add(chunk.Tally.Outcome);
        if (inFlight.Count < BatchesInFlight)
            return;
        var done = await Task.WhenAny(inFlight);
        inFlight.Remove(done);
        Check(await done, refusals);
    }

    private static async Task SendOneAsync(BackendWriter writer, SemaphoreSlim sends, LineChunk chunk)
    {
        await sends.WaitAsync();
        try
        {
            await writer.SendNowAsync(chunk);
        }
        finally
        {
            sends.Release();
        }
    }
    private static void Check(Delivery delivery, List<string> refusals)
    {
        switch (delivery)
        {
            case Delivery.Failed failed:
                throw new StepFailure($"a batch was neither stored nor backlogged: {failed.reason}");
            case Delivery.PartlyRefused refused:
                refusals.Add(refused.reason);
                break;
        }
    }
}
