using System.Text.Json;
using System.Text.Json.Nodes;
using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Migration;

namespace InfluxProxy.Host.Query;

/// <summary>How one statement reaches the backends, decided from its parsed form.</summary>
public enum Route
{
    /// <summary>One measurement: its owner, in the first circle that can answer.</summary>
    Owner,
    /// <summary>Several measurements or none named: every backend of one circle, answers merged.</summary>
    FanOut,
    /// <summary>Schema changes: every backend of every circle.</summary>
    Everywhere,
    /// <summary>Data deletion of one measurement: its owner in every circle.</summary>
    OwnerEverywhere,
}

/// <summary>Runs statements against the backends: routing, failover across circles, fan-out and merge, broadcast.</summary>
public sealed class QueryRouter
{
    private readonly Cluster _cluster;
    private readonly BackendRegistry _backends;
    private readonly MigrationState _migration;

    public QueryRouter(Cluster cluster, BackendRegistry backends, MigrationState migration)
    {
        _cluster = cluster;
        _backends = backends;
        _migration = migration;
    }

    public static Route RouteOf(Statement statement) => statement.Kind switch
    {
        var k when k.IsCreateDatabase || k.IsDropDatabase || k.IsCreateRetentionPolicy || k.IsDropRetentionPolicy => Route.Everywhere,
        var k when k.IsDelete || k.IsDropSeries || k.IsDropMeasurement =>
            SourceModule.single(statement.Sources) is null ? Route.Everywhere : Route.OwnerEverywhere,
        var k when (k.IsSelect || k.IsShowSeries || k.IsShowTagKeys || k.IsShowTagValues || k.IsShowFieldKeys)
                   && SourceModule.single(statement.Sources) is not null => Route.Owner,
        _ => Route.FanOut,
    };

    /// <summary>The owners of the statement's single measurement, in the order to try them (healthiest first).</summary>
    public IReadOnlyList<Backend> Candidates(string db, Statement statement)
    {
        var measurement = SourceModule.single(statement.Sources)!.Value.Item2;
        var snapshot = _migration.Current;
        return _cluster.Owners(db, measurement)
            .Select(info => _backends[info])
            .Where(b => snapshot.Readable(b.Info.Circle) || AllMigrating(snapshot))
            .OrderBy(b => Rank(b))
            .ThenBy(_ => Random.Shared.Next())
            .ToList();
    }

    /// <summary>Runs one statement and returns its <c>results[i]</c> object, errors included.</summary>
    public async Task<JsonObject> RunAsync(int statementId, Statement statement, string db, IReadOnlyDictionary<string, string> parameters, CancellationToken ct)
    {
        var form = Form(RouteOf(statement) == Route.FanOut ? statement.UnpagedText : statement.Text, db, parameters);
        switch (RouteOf(statement))
        {
            case Route.Owner:
                return await FirstAnswerAsync(statementId, Candidates(db, statement), form, ct);
            case Route.Everywhere:
                return await AllAnswerAsync(statementId, _backends, form, ct);
            case Route.OwnerEverywhere:
                var measurement = SourceModule.single(statement.Sources)!.Value.Item2;
                return await AllAnswerAsync(statementId, _cluster.Owners(db, measurement).Select(o => _backends[o]).ToList(), form, ct);
            default:
                return await FanOutAsync(statementId, statement, form, ct);
        }
    }

    public static List<KeyValuePair<string, string>> Form(string q, string db, IReadOnlyDictionary<string, string> parameters)
    {
        var form = new List<KeyValuePair<string, string>> { new("q", q) };
        if (db.Length > 0)
            form.Add(new("db", db));
        form.AddRange(parameters.Where(p => p.Value.Length > 0));
        return form;
    }

    /// <summary>Up and with nothing left to replay first; then up but still replaying; then the rest.</summary>
    private static int Rank(Backend b) => b.Health.AcceptsWrites ? (b.Backlog.Reader.IsEmpty ? 0 : 1) : 2;

    /// <summary>When every circle is migrating, reads still go somewhere rather than nowhere.</summary>
    private bool AllMigrating(MigrationSnapshot snapshot) => _cluster.Circles.All(c => !snapshot.Readable(c.Id));

    private async Task<JsonObject> FirstAnswerAsync(int statementId, IReadOnlyList<Backend> candidates, List<KeyValuePair<string, string>> form, CancellationToken ct)
    {
        var failures = new List<string>();
        foreach (var backend in candidates)
        {
            var (result, failure) = await AskAsync(backend, form, ct);
            if (result is not null)
                return WithId(result, statementId);
            failures.Add($"{backend.Info.Name}: {failure}");
        }
        return ErrorResult(statementId, "no backend could answer: " + string.Join("; ", failures));
    }

    private async Task<JsonObject> AllAnswerAsync(int statementId, IReadOnlyList<Backend> targets, List<KeyValuePair<string, string>> form, CancellationToken ct)
    {
        var answers = await Task.WhenAll(targets.Select(async b => (Backend: b, Answer: await AskAsync(b, form, ct))));
        var failures = answers
            .Where(a => a.Answer.Result is null || a.Answer.Result["error"] is not null)
            .Select(a => $"{a.Backend.Info.Name}: {a.Answer.Result?["error"]?.GetValue<string>() ?? a.Answer.Failure}")
            .ToList();
        return failures.Count == 0
            ? WithId(answers[0].Answer.Result!, statementId)
            : ErrorResult(statementId, $"failed on {failures.Count} of {targets.Count} backends: " + string.Join("; ", failures));
    }

    /// <summary>Every backend of the first circle whose backends all answer; merged as the statement needs.</summary>
    private async Task<JsonObject> FanOutAsync(int statementId, Statement statement, List<KeyValuePair<string, string>> form, CancellationToken ct)
    {
        var snapshot = _migration.Current;
        var circles = _cluster.Circles
            .Where(c => snapshot.Readable(c.Id) || AllMigrating(snapshot))
            .OrderBy(c => c.Backends.Sum(b => Rank(_backends[b])))
            .ThenBy(_ => Random.Shared.Next());
        var failures = new List<string>();
        foreach (var circle in circles)
        {
            var answers = await Task.WhenAll(circle.Backends.Select(b => AskAsync(_backends[b], form, ct)));
            if (answers.All(a => a.Result is not null))
                return Merge(statementId, statement, answers.Select(a => a.Result!).ToList());
            failures.AddRange(answers.Where(a => a.Result is null).Select(a => a.Failure));
        }
        return ErrorResult(statementId, "no circle could answer: " + string.Join("; ", failures.Distinct()));
    }

    private static JsonObject Merge(int statementId, Statement statement, List<JsonObject> results)
    {
        var kind = statement.Kind;
        if (kind.IsShowCardinality)
            return ResultMerge.sumCounts(statementId, ToList(results));
        if (kind.IsSelect || kind.IsShowStats || kind.IsShowDiagnostics)
            return ResultMerge.concatSeries(statementId, ToList(results));
        return ResultMerge.mergeShow(statementId, statement.Limit, statement.Offset, ToList(results));
    }

    private static Microsoft.FSharp.Collections.FSharpList<JsonObject> ToList(IEnumerable<JsonObject> items) =>
        Microsoft.FSharp.Collections.ListModule.OfSeq(items);

    private static Task<(JsonObject? Result, string Failure)> AskAsync(Backend backend, List<KeyValuePair<string, string>> form, CancellationToken ct) =>
        backend.Queries.AskAsync(form, ct);

    private static JsonObject WithId(JsonObject result, int statementId)
    {
        var copy = (JsonObject)result.DeepClone();
        copy["statement_id"] = statementId;
        return copy;
    }

    public static JsonObject ErrorResult(int statementId, string error) => QueryAnswer.ErrorResult(statementId, error);
}
