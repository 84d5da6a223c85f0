using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using InfluxProxy.Core;
using InfluxProxy.Host.Query;
using InfluxProxy.Host.Schema;

namespace InfluxProxy.Host.Http;

/// <summary>
/// <c>GET|POST /query</c>: InfluxQL parsed (<see cref="InfluxQL.parse"/>), every statement checked (forbidden forms, the
/// whitelist on every database it touches), then run by the <see cref="QueryRouter"/>. A single statement for one
/// measurement is relayed from its owner as it streams; anything else is answered as one <c>results</c> array with
/// <c>statement_id</c>s or, asked <c>chunked=true</c>, as InfluxDB's stream of chunks, each statement's written as soon as
/// it has run. As InfluxDB, the statements stop at the first one answered with an error; those after it are not run and
/// answered as <see cref="FailedStatement"/> says.
/// </summary>
public static class QueryEndpoint
{
    public static async Task Handle(HttpContext context, QueryRouter router, DatabaseCatalog catalog, EndpointOptions options)
    {
        var form = await RequestValues.Read(context);
        var q = form("q");
        if (q.Trim().Length == 0)
        {
            await Errors.BadRequest(context, "missing required parameter \"q\"");
            return;
        }
        var parsed = InfluxQL.parse(q);
        if (parsed.IsError)
        {
            await Errors.BadRequest(context, QueryErrorModule.text(parsed.ErrorValue));
            return;
        }
        var statements = parsed.ResultValue;
        var dbParam = form("db");
        if (Whitelist.firstRefused(options.DbList, dbParam, statements) is { } forbidden)
        {
            await Errors.Write(context, StatusCodes.Status403Forbidden, $"database forbidden: {forbidden.Value}");
            return;
        }
        var chunkSize = ResultChunks.requested(form("chunked"), form("chunk_size"));
        // InfluxDB writes the times of a CSV answer as integers, in ns unless `epoch` says otherwise, and backends asked
        // for JSON write them as text unless given an epoch.
        var epoch = form("epoch") is "" && ResultsFormat.WantsCsv(context.Request) ? "ns" : form("epoch");
        // Passed on to the backends as the client gave them (but that epoch): `params` holds the values of bound parameters ($name).
        var parameters = new Dictionary<string, string> { ["rp"] = form("rp"), ["epoch"] = epoch, ["params"] = form("params") };
        if (statements is [var only] && QueryRouting.route(only) is QueryRoute.Owner owner)
        {
            var db = QueryRouting.database(dbParam, only);
            var request = QueryRouter.Form(only.Text, db, parameters);
            request.AddRange(new[] { "chunked", "chunk_size", "pretty" }.Where(name => form(name).Length > 0).Select(name => KeyValuePair.Create(name, form(name))));
            var accept = ResultsFormat.WantsCsv(context.Request) ? "application/csv" : "application/json";
            var (relayed, failures) = await OwnerRelay.RelayAsync(router.Candidates(db, owner.measurement), request, accept, context.Response, context.RequestAborted);
            if (!relayed)
                await Errors.Write(context, StatusCodes.Status503ServiceUnavailable, "no backend could answer: " + failures);
            return;
        }
        var answers = RunAsync(statements, dbParam, parameters, router, catalog, options, context.RequestAborted);
        if (chunkSize is not null)
        {
            using var chunked = new ChunkedResults(context);
            await foreach (var (statement, result) in answers)
                await chunked.WriteAsync(ResultJson.isError(result)
                    ? FailedStatement.chunks(statements.Length, result)
                    : ResultChunks.chunks(ResultChunks.chunking(statement.Kind), chunkSize.Value, result), context.RequestAborted);
            return;
        }
        var results = new JsonArray();
        await foreach (var (_, result) in answers)
            results.Add(ResultJson.isError(result) ? FailedStatement.result(statements.Length, result) : result);
        await ResultsFormat.WriteAsync(context, new JsonObject { ["results"] = results }, JsonBody.WantsPretty(context.Request));
    }

    /// <summary>Each statement's result, in order, as soon as it has run; none after the first error.</summary>
    private static async IAsyncEnumerable<(Statement Statement, JsonObject Result)> RunAsync(IEnumerable<Statement> statements, string dbParam,
        Dictionary<string, string> parameters, QueryRouter router, DatabaseCatalog catalog, EndpointOptions options, [EnumeratorCancellation] CancellationToken ct)
    {
        foreach (var (statement, i) in statements.Select((s, i) => (s, i)))
        {
            var db = QueryRouting.database(dbParam, statement);
            var result = await router.RunAsync(i, statement, db, parameters, ct);
            if (statement.Kind.IsShowDatabases)
                result = ResultMerge.filterFirstColumn(Microsoft.FSharp.Core.FuncConvert.FromFunc<string, bool>(name => Whitelist.allows(options.DbList, name)), result);
            if (QueryRouting.schemaChange(db, result["error"] is null, statement) is { } change)
                catalog.Apply(change.Value);
            yield return (statement, result);
            if (ResultJson.isError(result))
                yield break;
        }
    }
}
