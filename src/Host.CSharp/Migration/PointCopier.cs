using System.IO.Compression;
using System.Text;
using System.Text.Json;
using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Write;
using Microsoft.FSharp.Core;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// Copies one slice of one measurement (a copy step) bit-exactly: reads the source's points as they stream
/// (<c>GROUP BY *</c>, times in ns), writes each back as line protocol typed by the measurement's field keys
/// (<see cref="LineFormat"/>), and hands batches of <c>batch</c> lines to each destination's writer, behind its
/// backlog as live writes are, a few batches in flight. The step ends once every batch is stored or backlogged at
/// every destination; a batch neither stored nor backlogged fails it (it is copied again, whole: a point written
/// twice is stored once).
/// </summary>
public sealed class PointCopier(MigrationBackends backends, BackendRegistry registry, DestinationSchema schema, int batch, CompressionLevel? gzip)
{
    private const int BatchesInFlight = 4;

    /// <summary>The points copied; <paramref name="progress"/> is told the points read so far.</summary>
    public async Task<long> CopyAsync(MigrationMember source, IReadOnlyList<MigrationMember> destinations, MigrationStep step, Window window,
        Action<long> progress, CancellationToken ct)
    {
        var sourceSchema = backends.Schema(source);
        foreach (var destination in destinations)
            await schema.EnsureAsync(sourceSchema, backends.Schema(destination), step.Db, step.Rp, ct);
        var types = await FieldTypesAsync(source, step, ct);
        var writers = destinations.Select(d => registry[d.Id].Writer).ToList();
        var inFlight = new List<Task<Delivery>>();
        var refusals = new List<string>();
        var unfit = 0L;
        var points = 0L;
        LineChunk? chunk = null;
        var fields = new List<Tuple<string, string>>();

        await foreach (var series in ChunkedAnswer.SeriesAsync(backends.Relay(source), step.Db, MigrationQueries.points(step.Rp, step.Measurement, window), batch, ct))
        {
            var key = LineFormat.seriesKey(step.Measurement, ChunkedAnswer.Tags(series).Select(t => Tuple.Create(t.Key, t.Value)));
            var columns = ChunkedAnswer.Columns(series);
            var columnTypes = columns.Select(c => types.GetValueOrDefault(c)).ToArray();
            foreach (var row in ChunkedAnswer.Rows(series))
            {
                fields.Clear();
                var i = 0;
                string time = "";
                foreach (var cell in row.EnumerateArray())
                {
                    if (i == 0)
                        time = cell.GetRawText();
                    else if (Answered(cell) is { } answered)
                    {
                        if (columnTypes[i] is { } type && LineFormat.value(type, answered) is { } text)
                            fields.Add(Tuple.Create(columns[i], text.Value));
                        else
                            unfit++;
                    }
                    i++;
                }
                if (LineFormat.line(key, fields, time) is not { } line)
                    continue;
                chunk ??= new LineChunk(step.Db, step.Rp, writers.Count, new DeliveryTally(), batch * 64);
                chunk.AppendVerbatim(Encoding.UTF8.GetBytes(line.Value));
                points++;
                if (chunk.Lines >= batch)
                {
                    await SendAsync(chunk, writers, inFlight, refusals);
                    chunk = null;
                    progress(points);
                }
            }
        }
        if (chunk is not null)
            await SendAsync(chunk, writers, inFlight, refusals);
        foreach (var delivery in await Task.WhenAll(inFlight))
            Check(delivery, refusals);
        progress(points);
        if (unfit > 0)
            throw new StepFailure($"{unfit} values have a type their field's keys do not list (a field of several types, or unsigned): not copied");
        if (refusals.Count > 0)
            throw new StepFailure($"the destination refused some points: {refusals[0]}");
        return points;
    }

    /// <summary>Each field's type; a field of several types is written as the first of float, integer, string, boolean.</summary>
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

    private static AnsweredValue? Answered(JsonElement cell) => cell.ValueKind switch
    {
        JsonValueKind.Number => AnsweredValue.NewNumber(cell.GetRawText()),
        JsonValueKind.String => AnsweredValue.NewText(cell.GetString()!),
        JsonValueKind.True => AnsweredValue.NewFlag(true),
        JsonValueKind.False => AnsweredValue.NewFlag(false),
        _ => null,
    };

    private async Task SendAsync(LineChunk chunk, List<BackendWriter> writers, List<Task<Delivery>> inFlight, List<string> refusals)
    {
        var tally = chunk.Tally;
        tally.Expect(writers.Count);
        if (gzip is { } level)
            chunk.Compress(level);
        // Once queued, a batch is stored or backlogged whatever happens to the job: not cancelled.
        foreach (var writer in writers)
            await writer.SubmitAsync(chunk, CancellationToken.None);
        inFlight.Add(tally.Outcome);
        if (inFlight.Count < BatchesInFlight)
            return;
        var done = await Task.WhenAny(inFlight);
        inFlight.Remove(done);
        Check(await done, refusals);
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
