using Prometheus;

namespace InfluxProxy.Host.Migration;

/// <summary>The migration's series on <c>/metrics</c>.</summary>
public static class MigrationMetrics
{
    public static readonly Counter PointsCopied = Prometheus.Metrics.CreateCounter(
        "influxproxy_migration_points_copied_total", "Points migration copies read from a source and stored or backlogged at every destination.");

    public static readonly Counter Steps = Prometheus.Metrics.CreateCounter(
        "influxproxy_migration_steps_total", "Migration steps ended, by kind (copy, verify, drop, drained) and result (done, failed).",
        new CounterConfiguration { LabelNames = ["kind", "result"] });

    public static readonly Gauge JobsRunning = Prometheus.Metrics.CreateGauge(
        "influxproxy_migration_jobs_running", "Migration jobs accepted and not ended.");
}
