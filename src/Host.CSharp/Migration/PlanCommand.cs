using System.Security.Cryptography;
using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using Microsoft.FSharp.Collections;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// <c>influx-proxy -plan -config new.json -from old.json</c>: what changing the configuration from old to new would
/// move, circle by circle, before anything is changed: the backends' data is read (nothing is written) and each
/// circle is planned as the rebalance the new configuration would need, the backends the new one leaves out
/// counted as removed. The original has no such tool.
/// </summary>
public static class PlanCommand
{
    public static async Task<int> RunAsync(ProxyConfig next, ProxyConfig current, TextWriter output, CancellationToken ct)
    {
        var cluster = new Cluster(next);
        string Plain(BackendConfig b, string credential) => ProxyConfigModule.backendCredentialsEncrypted(current, b) ? Cipher.decrypt(credential) : credential;
        try
        {
            using var http = new BackendClients(BackendTls.From(next), () => new SocketsHttpHandler(), TimeSpan.FromMinutes(10));
            foreach (var circle in cluster.Circles)
            {
                var kept = circle.Backends.Select(b => MigrationBackends.Url(b.Url)).ToHashSet();
                var removed = current.Circles.ElementAtOrDefault(circle.Id)?.Backends.Where(b => !kept.Contains(b.Url))
                    .Select(b => new RemovedBackend(b.Name, b.Url, Plain(b, b.Username), Plain(b, b.Password), b.TlsInsecureSkipVerify)).ToList() ?? [];
                var backends = new MigrationBackends(cluster, http);
                var members = backends.Members(removed, circle.Id);
                var operation = MigrationOperation.NewRebalance(circle.Id, ListModule.OfSeq(members.Skip(cluster.Backends.Count)));
                var plan = await Planner.PlanAsync(backends, members, operation, FSharpList<string>.Empty,
                    SetModule.Empty<Tuple<string, string, string, string, string>>(), MigrationRequestModule.defaultWorkers, ct);
                Print(output, circle, plan);
            }
            return 0;
        }
        catch (Exception e) when (e is StepFailure or IOException or CryptographicException) // the last two: backend_tls_ca_file
        {
            await Console.Error.WriteLineAsync($"cannot plan: {e.Message}");
            return 1;
        }
    }

    private static void Print(TextWriter output, CircleInfo circle, PlannedJob plan)
    {
        var copies = plan.Steps.Where(s => s.Kind.IsCopy).DistinctBy(s => (s.Source, s.Db, s.Rp, s.Measurement)).ToList();
        var measurements = copies.Select(s => (s.Source, s.Db, s.Measurement)).Distinct().Count();
        var points = copies.Sum(s => s.Points?.Value ?? 0);
        output.WriteLine($"circle {circle.Id} ({circle.Name}): {measurements} measurements, {points} points to move, {plan.Steps.Length} steps");
        foreach (var step in plan.Steps)
            output.WriteLine($"  {MigrationProgress.describe(plan, step)}{(step.Kind.IsCopy && step.Points?.Value is { } p ? $": {p} points" : "")}");
    }
}
