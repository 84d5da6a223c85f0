using System.Text.Json.Nodes;
using InfluxProxy.Core;
using InfluxProxy.Host.Query;
using InfluxProxy.Host.Schema;

namespace InfluxProxy.Host.Http;

/// <summary>
/// <c>GET|POST /query</c>: InfluxQL parsed (<see cref="InfluxQL.parse"/>), every statement checked (forbidden forms, the
/// whitelist on every database it touches), then run by the <see cref="QueryRouter"/>. A single statement for one
/// measurement is relayed from its owner as it streams; anything else is answered as one <c>results</c> array with
/// <c>statement_id</c>s.
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
        // Passed on to the backends as the client gave them: `params` holds the values of bound parameters ($name).
        var parameters = new Dictionary<string, string> { ["rp"] = form("rp"), ["epoch"] = form("epoch"), ["params"] = form("params") };
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
        var results = new JsonArray();
        foreach (var (statement, i) in statements.Select((s, i) => (s, i)))
        {
            var db = QueryRouting.database(dbParam, statement);
            var result = await router.RunAsync(i, statement, db, parameters, context.RequestAborted);
            if (statement.Kind.IsShowDatabases)
                result = ResultMerge.filterFirstColumn(Microsoft.FSharp.Core.FuncConvert.FromFunc<string, bool>(name => Whitelist.allows(options.DbList, name)), result);
            if (QueryRouting.schemaChange(db, result["error"] is null, statement) is { } change)
                catalog.Apply(change.Value);
            results.Add(result);
        }
        await ResultsFormat.WriteAsync(context, new JsonObject { ["results"] = results }, JsonBody.WantsPretty(context.Request));
    }
}
