using System.Text.Json.Nodes;
using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Migration;

namespace InfluxProxy.Host.Query;

/// <summary>
/// Runs statements against the backends as <see cref="QueryRouting.route"/> says: the owner with failover across
/// circles, every backend of one circle merged, or every backend (or owner) of every circle.
/// </summary>
public sealed class QueryRouter(Cluster cluster, BackendRegistry backends, MigrationState migration)
{
    /// <summary>The owners of <paramref name="measurement"/>, in the order to try them (healthiest first, readable circles).</summary>
    public IReadOnlyList<Backend> Candidates(string db, string measurement)
    {
        var snapshot = migration.Current;
        var owners = cluster.Owners(db, measurement).Select(info => backends[info]).ToList();
        return [.. InTryOrder(owners.Select(b => Candidate(b, Rank(b), MigrationFlagsModule.readable(snapshot, b.Info.Circle))))];
    }

    /// <summary>The circles in the order to ask them for a whole-circle answer (healthiest first, readable ones).</summary>
    public IEnumerable<CircleInfo> CirclesInTryOrder()
    {
        var snapshot = migration.Current;
        return InTryOrder(cluster.Circles.Select(c => Candidate(c, c.Backends.Sum(b => Rank(backends[b])), MigrationFlagsModule.readable(snapshot, c.Id))));
    }

    /// <summary>Runs one statement and returns its <c>results[i]</c> object, errors included.</summary>
    public async Task<JsonObject> RunAsync(int statementId, Statement statement, string db, IReadOnlyDictionary<string, string> parameters, CancellationToken ct)
    {
        var route = QueryRouting.route(statement);
        var form = Form(route.IsFanOut ? statement.UnpagedText : statement.Text, db, parameters);
        return route switch
        {
            QueryRoute.Owner owner => await FirstAnswerAsync(statementId, Candidates(db, owner.measurement), form, ct),
            QueryRoute.OwnerEverywhere owner => await AllAnswerAsync(statementId, cluster.Owners(db, owner.measurement).Select(o => backends[o]).ToList(), form, ct),
            QueryRoute.FanOut fanOut => await FanOutAsync(statementId, fanOut.Item, form, ct),
            _ => await AllAnswerAsync(statementId, backends, form, ct),
        };
    }

    public static List<KeyValuePair<string, string>> Form(string q, string db, IReadOnlyDictionary<string, string> parameters)
    {
        var form = new List<KeyValuePair<string, string>> { new("q", q) };
        if (db.Length > 0)
            form.Add(new("db", db));
        form.AddRange(parameters.Where(p => p.Value.Length > 0));
        return form;
    }

    private static int Rank(Backend b) => QueryRouting.rank(b.Info.WriteOnly, b.Health.AcceptsWrites, b.Backlog.Reader.IsEmpty);

    private static Candidate<T> Candidate<T>(T item, int rank, bool readable) => new(item, rank, readable);

    /// <summary>Random tie-breaks spread the reads over equally healthy candidates.</summary>
    private static IEnumerable<T> InTryOrder<T>(IEnumerable<Candidate<T>> candidates) =>
        QueryRouting.inTryOrder(Microsoft.FSharp.Core.FuncConvert.FromFunc<int, int>(_ => Random.Shared.Next()),
            Microsoft.FSharp.Collections.ListModule.OfSeq(candidates));

    private static async Task<JsonObject> FirstAnswerAsync(int statementId, IReadOnlyList<Backend> candidates, List<KeyValuePair<string, string>> form, CancellationToken ct)
    {
        var failures = new List<string>();
        foreach (var backend in candidates)
        {
            var (result, failure) = await backend.Queries.AskAsync(form, ct);
            if (result is not null)
                return WithId(result, statementId);
            failures.Add($"{backend.Info.Name}: {failure}");
        }
        return QueryAnswer.ErrorResult(statementId, "no backend could answer: " + string.Join("; ", failures));
    }

    private static async Task<JsonObject> AllAnswerAsync(int statementId, IReadOnlyList<Backend> targets, List<KeyValuePair<string, string>> form, CancellationToken ct)
    {
        var answers = await Task.WhenAll(targets.Select(async b => (Backend: b, Answer: await b.Queries.AskAsync(form, ct))));
        var failures = answers
            .Where(a => a.Answer.Result is null || a.Answer.Result["error"] is not null)
            .Select(a => $"{a.Backend.Info.Name}: {a.Answer.Result?["error"]?.GetValue<string>() ?? a.Answer.Failure}")
            .ToList();
        return failures.Count == 0
            ? WithId(answers[0].Answer.Result!, statementId)
            : QueryAnswer.ErrorResult(statementId, $"failed on {failures.Count} of {targets.Count} backends: " + string.Join("; ", failures));
    }

    /// <summary>Every backend of the first circle whose backends all answer; merged as the statement needs.</summary>
    private async Task<JsonObject> FanOutAsync(int statementId, Merge merge, List<KeyValuePair<string, string>> form, CancellationToken ct)
    {
        var failures = new List<string>();
        foreach (var circle in CirclesInTryOrder())
        {
            var answers = await Task.WhenAll(circle.Backends.Select(b => backends[b].Queries.AskAsync(form, ct)));
            if (answers.All(a => a.Result is not null))
                return Merged(statementId, merge, answers.Select(a => a.Result!).ToList());
            failures.AddRange(answers.Where(a => a.Result is null).Select(a => a.Failure));
        }
        return QueryAnswer.ErrorResult(statementId, "no circle could answer: " + string.Join("; ", failures.Distinct()));
    }

    private static JsonObject Merged(int statementId, Merge merge, List<JsonObject> results)
    {
        var list = Microsoft.FSharp.Collections.ListModule.OfSeq(results);
        return merge switch
        {
            Merge.MergeShow show => ResultMerge.mergeShow(statementId, show.limit, show.offset, list),
            _ when merge.IsSumCounts => ResultMerge.sumCounts(statementId, list),
            _ => ResultMerge.concatSeries(statementId, list),
        };
    }

    private static JsonObject WithId(JsonObject result, int statementId)
    {
        var copy = (JsonObject)result.DeepClone();
        copy["statement_id"] = statementId;
        return copy;
    }
}
