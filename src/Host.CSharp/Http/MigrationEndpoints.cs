using System.Text;
using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Migration;

namespace InfluxProxy.Host.Http;

/// <summary>
/// The migration endpoints: <c>POST /rebalance</c>, <c>/recovery</c>, <c>/resync</c>, <c>/clear</c> (v2.5.12's
/// <c>/cleanup</c>) start a job, or with <c>dry_run=true</c> answer its plan; <c>GET /migrate/stats</c>
/// (<c>/transfer/stats</c>) the original's counters and ours; <c>GET /migrate/jobs</c> every job with its steps;
/// <c>DELETE /migrate/job?id=</c> cancels one.
/// </summary>
public static class MigrationEndpoints
{
    private const int MaxBody = 1 << 20;

    public static async Task Start(HttpContext context, string endpoint, MigrationRunner runner)
    {
        var (parameters, body) = await ReadAsync(context);
        if (parameters.Any(p => p.Name == "dry_run" && p.Value == "true"))
        {
            var plan = await runner.DryRunAsync(endpoint, parameters, body, context.RequestAborted);
            if (plan.IsError)
                await Refuse(context, plan.ErrorValue);
            else
                await JsonBody.Write(context, StatusCodes.Status200OK, PlanView(plan.ResultValue));
            return;
        }
        var accepted = runner.Submit(endpoint, parameters, body);
        if (accepted.IsError)
        {
            await Refuse(context, accepted.ErrorValue);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers["X-Influx-Proxy-Job"] = accepted.ResultValue;
        await context.Response.WriteAsync("accepted\n", context.RequestAborted);
    }

    /// <param name="transfer">v2.5.12's <c>/transfer/stats</c>: <c>transfer_count</c> instead of <c>migrate_count</c>.</param>
    public static async Task Stats(HttpContext context, Cluster cluster, MigrationRunner runner, bool transfer)
    {
        var value = await RequestValues.Read(context);
        var asked = MigrationRequestModule.parseStats(cluster.Circles.Count, Microsoft.FSharp.Core.FuncConvert.FromFunc(value));
        if (asked.IsError)
        {
            await Errors.BadRequest(context, MigrationRequestErrorModule.text(asked.ErrorValue));
            return;
        }
        var (circle, kind) = asked.ResultValue.ToValueTuple();
        var stats = new SortedDictionary<string, Dictionary<string, object>>(StringComparer.Ordinal);
        foreach (var s in runner.Stats(circle, kind))
            stats[s.Url] = new()
            {
                ["database_total"] = s.DatabaseTotal,
                ["database_done"] = s.DatabaseDone,
                ["measurement_total"] = s.MeasurementTotal,
                ["measurement_done"] = s.MeasurementDone,
                [transfer ? "transfer_count" : "migrate_count"] = s.MigrateCount,
                ["inplace_count"] = s.InplaceCount,
                ["points_copied"] = s.PointsCopied,
                ["steps_total"] = s.StepsTotal,
                ["steps_done"] = s.StepsDone,
                ["steps_failed"] = s.StepsFailed,
                ["errors"] = s.Errors,
            };
        await JsonBody.Write(context, StatusCodes.Status200OK, stats);
    }

    public static Task Jobs(HttpContext context, MigrationRunner runner, TimeProvider time) =>
        JsonBody.Write(context, StatusCodes.Status200OK, runner.Jobs.Select(j => JobView(j, time.GetUtcNow())).ToList());

    public static async Task Cancel(HttpContext context, MigrationRunner runner)
    {
        var id = (await RequestValues.Read(context))("id");
        if (await runner.CancelAsync(id))
            await JsonBody.Write(context, StatusCodes.Status200OK, new Dictionary<string, string> { ["cancelled"] = id });
        else
            await Errors.Write(context, StatusCodes.Status404NotFound, $"no running migration job {id}");
    }

    private static Task Refuse(HttpContext context, MigrationRequestError error) =>
        Errors.Write(context, error.IsBusy ? StatusCodes.Status409Conflict : StatusCodes.Status400BadRequest, MigrationRequestErrorModule.text(error));

    /// <summary>The parameters as Go's FormValue sees them (form first, then the query) and the body when it is not a form.</summary>
    private static async Task<(List<(string Name, string Value)>, string)> ReadAsync(HttpContext context)
    {
        var request = context.Request;
        var form = await RequestValues.FormAsync(context);
        var value = await RequestValues.Read(context);
        var names = request.Query.Keys.Concat(form?.Keys ?? []).Distinct(StringComparer.Ordinal);
        var parameters = names.Select(n => (n, value(n))).ToList();
        if (form is not null)
            return (parameters, "");
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var buffer = new char[MaxBody];
        var read = await reader.ReadBlockAsync(buffer, context.RequestAborted);
        return (parameters, new string(buffer, 0, read));
    }

    private static Dictionary<string, object?> PlanView(PlannedJob plan)
    {
        var copies = plan.Steps.Where(s => s.Kind.IsCopy).ToList();
        return new()
        {
            ["measurements"] = copies.Select(s => (s.Source, s.Db, s.Measurement)).Distinct().Count(),
            ["points"] = copies.DistinctBy(s => (s.Source, s.Db, s.Rp, s.Measurement)).Sum(s => s.Points?.Value ?? 0),
            ["steps"] = plan.Steps.Select(s => StepView(plan, s, null)).ToList(),
        };
    }

    private static Dictionary<string, object?> JobView(JobRun run, DateTimeOffset now)
    {
        var view = new Dictionary<string, object?>
        {
            ["id"] = run.Job.Id,
            ["operation"] = run.Job.Endpoint,
            ["parameters"] = run.Job.Parameters.ToDictionary(p => p.Item1, p => p.Item2),
            ["state"] = JobStateModule.name(run.State),
        };
        if (run.End is JobEnd.Abandoned abandoned)
            view["error"] = abandoned.reason;
        if (run.Plan is not { } plan)
            return view;
        var (read, total, rate, secondsLeft) = run.Progress(now);
        view["points_copied"] = read;
        view["points_total"] = total;
        if (run.End is null)
        {
            view["points_per_second"] = rate;
            view["eta_seconds"] = secondsLeft;
            if (run.StepsAtOnce > 0)
                view["steps_at_once"] = run.StepsAtOnce;
        }
        view["steps"] = plan.Steps.Select(s => StepView(plan, s, run.Status(s.Id))).ToList();
        return view;
    }

    private static Dictionary<string, object?> StepView(PlannedJob plan, MigrationStep step, StepStatus? status)
    {
        string Url(int id) => plan.Members.FirstOrDefault(m => m.Id == id)?.Url ?? $"#{id}";
        var view = new Dictionary<string, object?> { ["id"] = step.Id };
        switch (step.Kind)
        {
            case StepKind.Copy copy:
                view["kind"] = "copy";
                view["destinations"] = copy.destinations.Select(Url).ToList();
                view["from"] = copy.window.From?.Value;
                view["until"] = copy.window.Until?.Value;
                break;
            case StepKind.Verify verify:
                view["kind"] = "verify";
                view["destination"] = Url(verify.destination);
                break;
            default:
                view["kind"] = step.Kind.IsDrop ? "drop" : "drained";
                break;
        }
        view["source"] = Url(step.Source);
        view["db"] = step.Db;
        view["rp"] = step.Rp;
        view["measurement"] = step.Measurement;
        view["points"] = step.Points?.Value;
        switch (status)
        {
            case null:
                break;
            case StepStatus.Done done:
                (view["status"], view["copied"]) = ("done", done.points);
                break;
            case StepStatus.Running running:
                (view["status"], view["copied"]) = ("running", running.points);
                break;
            case StepStatus.FailedWith failed:
                (view["status"], view["reason"]) = ("failed", failed.reason);
                break;
            case StepStatus.Skipped skipped:
                (view["status"], view["reason"]) = ("skipped", skipped.reason);
                break;
            default:
                view["status"] = "pending";
                break;
        }
        return view;
    }
}
