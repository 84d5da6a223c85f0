using System.Text.Json;
using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using Microsoft.FSharp.Collections;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// Checks that a destination holds at least a source's points of one (db, rp, measurement), series by series and
/// field by field (<see cref="Verification"/>), once everything the proxy queued for the destination has
/// reached it: the check before anything is dropped.
/// </summary>
public sealed class SeriesVerifier(MigrationBackends backends, BackendRegistry registry, TimeProvider time)
{
    /// <summary>How long the destination's queue and backlog may take to reach it before the step fails.</summary>
    private static readonly TimeSpan DeliveryWait = TimeSpan.FromMinutes(5);

    private const int Attempts = 3;

    public async Task VerifyAsync(MigrationMember source, MigrationMember destination, MigrationStep step, CancellationToken ct)
    {
        Shortfall? shortfall = null;
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            if (attempt > 0)
                await Task.Delay(TimeSpan.FromSeconds(1), time, ct);
            await DeliveredAsync(destination, ct);
            var wanted = await CountsAsync(source, step, ct);
            var held = await CountsAsync(destination, step, ct);
            if (Verification.shortfall(wanted, held)?.Value is not { } missing)
                return;
            shortfall = missing;
        }
        throw new StepFailure(Verification.describe(shortfall!));
    }

    private async Task DeliveredAsync(MigrationMember destination, CancellationToken ct)
    {
        var backend = registry[destination.Id];
        if (!await DestinationDrain.WaitAsync(backend, DeliveryWait, time, ct))
            throw new StepFailure($"what was copied to {destination.Url} has not reached it after {DeliveryWait.TotalMinutes} minutes (backlog of {backend.Backlog.Reader.PendingRecords} records)");
    }

    /// <summary>The member's count of each (series key, field) of the measurement.</summary>
    private async Task<FSharpMap<Tuple<string, string>, long>> CountsAsync(MigrationMember member, MigrationStep step, CancellationToken ct)
    {
        var counts = new List<Tuple<Tuple<string, string>, long>>();
        await foreach (var series in ChunkedAnswer.SeriesAsync(backends.Relay(member), step.Db, MigrationQueries.seriesCounts(step.Rp, step.Measurement), 10_000, ct))
        {
            var key = LineFormat.seriesKey(step.Measurement, ChunkedAnswer.Tags(series).Select(t => Tuple.Create(t.Key, t.Value)));
            var columns = ChunkedAnswer.Columns(series);
            foreach (var row in ChunkedAnswer.Rows(series))
            {
                var i = 0;
                foreach (var cell in row.EnumerateArray())
                {
                    if (i > 0 && cell.ValueKind == JsonValueKind.Number && cell.GetInt64() > 0)
                        counts.Add(Tuple.Create(Tuple.Create(key, columns[i]["count_".Length..]), cell.GetInt64()));
                    i++;
                }
            }
        }
        return MapModule.OfSeq(counts);
    }
}
