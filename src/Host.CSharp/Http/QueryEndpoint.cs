using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Query;
using InfluxProxy.Host.Schema;

namespace InfluxProxy.Host.Http;

/// <summary>
/// <c>GET|POST /query</c>: InfluxQL parsed, every statement checked (forbidden forms, the whitelist on every database
/// it touches), then routed. A single statement for one measurement is relayed from its owner as it streams
/// (chunked answers included); anything else is answered as one <c>results</c> array with <c>statement_id</c>s.
/// </summary>
public static class QueryEndpoint
{
    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true, IndentSize = 4 };

    public static async Task Handle(HttpContext context, QueryRouter router, DatabaseCatalog catalog, ProxyConfig config)
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
            await Errors.BadRequest(context, parsed.ErrorValue switch
            {
                QueryError.Forbidden f => $"query forbidden: {f.Item}",
                QueryError.ParseError p => $"error parsing query: {p.Item}",
                _ => "error parsing query",
            });
            return;
        }
        var statements = parsed.ResultValue.ToList();
        var dbParam = form("db");
        if (FirstForbiddenDatabase(statements, dbParam, config) is { } forbidden)
        {
            await Errors.Write(context, StatusCodes.Status403Forbidden, $"database forbidden: {forbidden}");
            return;
        }
        // Passed on to the backends as the client gave them: `params` holds the values of bound parameters ($name).
        var parameters = new Dictionary<string, string> { ["rp"] = form("rp"), ["epoch"] = form("epoch"), ["params"] = form("params") };
        if (statements.Count == 1 && QueryRouter.RouteOf(statements[0]) == Query.Route.Owner)
        {
            await RelayAsync(context, router, statements[0], DatabaseOf(statements[0], dbParam), parameters, form);
            return;
        }
        var results = new JsonArray();
        for (var i = 0; i < statements.Count; i++)
        {
            var statement = statements[i];
            var db = DatabaseOf(statement, dbParam);
            var result = await router.RunAsync(i, statement, db, parameters, context.RequestAborted);
            if (statement.Kind.IsShowDatabases && !config.DbList.IsEmpty)
                result = ResultMerge.filterFirstColumn(FSharpFunc(name => config.DbList.Contains(name)), result);
            TrackSchema(statement, db, succeeded: result["error"] is null, catalog);
            results.Add(result);
        }
        await WriteResults(context, new JsonObject { ["results"] = results });
    }

    /// <summary>
    /// Keeps the write path's catalog in step with schema statements run through the proxy: what they created once
    /// they succeeded, what they dropped even when some backend failed (forgetting only makes the next write ask).
    /// </summary>
    private static void TrackSchema(Statement statement, string db, bool succeeded, DatabaseCatalog catalog)
    {
        switch (statement.Kind)
        {
            case StatementKind.CreateDatabase create when succeeded:
                catalog.Remember(create.name);
                break;
            case StatementKind.DropDatabase drop:
                catalog.Forget(drop.name);
                break;
            case StatementKind.CreateRetentionPolicy create when succeeded:
                catalog.RememberRetentionPolicy(db, create.name);
                break;
            case StatementKind.DropRetentionPolicy drop:
                catalog.ForgetRetentionPolicy(db, drop.name);
                break;
        }
    }

    /// <summary>The database a statement runs against: its ON clause, a <c>db.rp.m</c> source, or the <c>db</c> parameter.</summary>
    private static string DatabaseOf(Statement statement, string dbParam) =>
        statement.On?.Value
        ?? statement.Sources.SelectMany(SourceModule.databases).FirstOrDefault()
        ?? dbParam;

    /// <summary>With a whitelist, every database a request names must be on it: parameter, ON clauses, sources.</summary>
    private static string? FirstForbiddenDatabase(List<Statement> statements, string dbParam, ProxyConfig config)
    {
        if (config.DbList.IsEmpty)
            return null;
        var named = statements
            .SelectMany(s => (s.On is null ? [] : new[] { s.On.Value }).Concat(s.Sources.SelectMany(SourceModule.databases)))
            .Append(dbParam)
            .Where(db => db.Length > 0);
        return named.FirstOrDefault(db => !config.DbList.Contains(db));
    }

    /// <summary>Streams the owner's answer through, trying the next circle's owner on a transport failure or a 5xx.</summary>
    private static async Task RelayAsync(HttpContext context, QueryRouter router, Statement statement, string db,
        Dictionary<string, string> parameters, Func<string, string> form)
    {
        var request = QueryRouter.Form(statement.Text, db, parameters);
        foreach (var name in new[] { "chunked", "chunk_size", "pretty" })
            if (form(name) is { Length: > 0 } value)
                request.Add(new(name, value));
        var accept = WantsCsv(context.Request) ? "application/csv" : "application/json";
        var failures = new List<string>();
        foreach (var backend in router.Candidates(db, statement))
        {
            var (response, failure) = await backend.Queries.SendAsync(request, accept, context.RequestAborted);
            if (response is null || (int)response.StatusCode >= 500)
            {
                failures.Add($"{backend.Info.Name}: {(response is null ? failure : $"status {(int)response.StatusCode}")}");
                response?.Dispose();
                continue;
            }
            using (response)
            {
                context.Response.StatusCode = (int)response.StatusCode;
                context.Response.ContentType = response.Content.Headers.ContentType?.ToString() ?? "application/json";
                if (response.Headers.TryGetValues("X-Influxdb-Error", out var error))
                    context.Response.Headers["X-Influxdb-Error"] = error.ToArray();
                await using var body = await response.Content.ReadAsStreamAsync(context.RequestAborted);
                await body.CopyToAsync(context.Response.Body, context.RequestAborted);
            }
            return;
        }
        await Errors.Write(context, StatusCodes.Status503ServiceUnavailable, "no backend could answer: " + string.Join("; ", failures));
    }

    private static bool WantsCsv(HttpRequest request) => request.Headers.Accept.ToString().Contains("application/csv");

    private static async Task WriteResults(HttpContext context, JsonObject answer)
    {
        if (WantsCsv(context.Request))
        {
            context.Response.ContentType = "application/csv";
            await context.Response.WriteAsync(Csv(answer), context.RequestAborted);
            return;
        }
        // Whatever the client accepts (msgpack included), the answer is JSON and says so.
        context.Response.ContentType = "application/json";
        var text = JsonBody.WantsPretty(context.Request) ? answer.ToJsonString(Pretty) : answer.ToJsonString();
        await context.Response.WriteAsync(text + "\n", context.RequestAborted);
    }

    /// <summary>InfluxDB's CSV: <c>name,tags,columns…</c> then one row per value.</summary>
    private static string Csv(JsonObject answer)
    {
        var csv = new StringBuilder();
        foreach (var result in answer["results"]!.AsArray())
            foreach (var series in result?["series"]?.AsArray() ?? [])
            {
                var columns = series!["columns"]!.AsArray().Select(c => c!.GetValue<string>());
                csv.Append("name,tags,").AppendJoin(',', columns).Append('\n');
                var name = series["name"]?.GetValue<string>() ?? "";
                var tags = string.Join(',', series["tags"]?.AsObject().Select(t => $"{t.Key}={t.Value}") ?? []);
                foreach (var row in series["values"]?.AsArray() ?? [])
                    csv.Append(Quote(name)).Append(',').Append(Quote(tags)).Append(',')
                        .AppendJoin(',', row!.AsArray().Select(v => Quote(v is JsonValue value && value.TryGetValue<string>(out var s) ? s : v?.ToJsonString() ?? "")))
                        .Append('\n');
            }
        return csv.ToString();
    }

    private static string Quote(string text) =>
        text.IndexOfAny([',', '"', '\n']) < 0 ? text : "\"" + text.Replace("\"", "\"\"") + "\"";

    private static Microsoft.FSharp.Core.FSharpFunc<string, bool> FSharpFunc(Func<string, bool> f) =>
        Microsoft.FSharp.Core.FuncConvert.FromFunc(f);
}
