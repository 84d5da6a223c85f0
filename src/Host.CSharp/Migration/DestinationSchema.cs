using System.Collections.Concurrent;
using InfluxProxy.Core;
using InfluxProxy.Host.Schema;
using Microsoft.FSharp.Core;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// A destination's database and retention policy, made like the source's before points are copied to them: the
/// same duration and shard group duration, and the default flag when the database is new there (an existing
/// database's default decides where its live writes without <c>rp</c> go, so it is left alone). Once per job.
/// </summary>
public sealed class DestinationSchema
{
    private readonly ConcurrentDictionary<(int, string), Lazy<Task<bool>>> _databases = new();
    private readonly ConcurrentDictionary<(int, string, string), Lazy<Task<bool>>> _policies = new();

    public Task EnsureAsync(SchemaQueries source, SchemaQueries destination, string db, string rp, CancellationToken ct) =>
        Once(_policies, (destination.Info.Id, db, rp), () => EnsurePolicyAsync(source, destination, db, rp, ct));

    /// <summary>The first caller's work, shared; forgotten when it failed, so the next caller tries again.</summary>
    private static async Task<T> Once<TKey, T>(ConcurrentDictionary<TKey, Lazy<Task<T>>> done, TKey key, Func<Task<T>> work) where TKey : notnull
    {
        var once = done.GetOrAdd(key, _ => new(work));
        try
        {
            return await once.Value;
        }
        catch
        {
            done.TryRemove(KeyValuePair.Create(key, once));
            throw;
        }
    }

    private async Task<bool> EnsurePolicyAsync(SchemaQueries source, SchemaQueries destination, string db, string rp, CancellationToken ct)
    {
        var created = await Once(_databases, (destination.Info.Id, db), () => EnsureDatabaseAsync(destination, db, ct));
        var there = Policies(await destination.RetentionPoliciesAsync(db, ct), destination);
        if (there.Any(p => p.Name == rp))
            return false;
        var policy = Policies(await source.RetentionPoliciesAsync(db, ct), source).FirstOrDefault(p => p.Name == rp)
            ?? throw new StepFailure($"{source.Info.Url} has no retention policy {rp} on {db} any more");
        Done(await destination.ExecuteAsync(db, MigrationQueries.createRetentionPolicy(db, policy, created && policy.Default), ct), destination);
        return true;
    }

    /// <summary>True when it had to be created.</summary>
    private static async Task<bool> EnsureDatabaseAsync(SchemaQueries destination, string db, CancellationToken ct)
    {
        var dbs = await destination.DatabasesAsync(ct);
        if (dbs.IsError)
            throw new StepFailure($"{destination.Info.Url} cannot list its databases: {dbs.ErrorValue}");
        if (dbs.ResultValue.Contains(db))
            return false;
        Done(await destination.ExecuteAsync(db, MigrationQueries.createDatabase(db), ct), destination);
        return true;
    }

    private static IReadOnlyList<RetentionPolicy> Policies(FSharpResult<IReadOnlyList<RetentionPolicy>, string> result, SchemaQueries backend) =>
        result.IsOk ? result.ResultValue : throw new StepFailure($"{backend.Info.Url} cannot list its retention policies: {result.ErrorValue}");

    private static void Done(FSharpResult<int, string> result, SchemaQueries backend)
    {
        if (result.IsError)
            throw new StepFailure($"{backend.Info.Url}: {result.ErrorValue}");
    }
}
