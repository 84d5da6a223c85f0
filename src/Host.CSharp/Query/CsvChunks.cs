using System.Text;
using System.Text.Json.Nodes;
using InfluxProxy.Core;

namespace InfluxProxy.Host.Query;

/// <summary>
/// Chunks in CSV as InfluxDB writes them one after another (its <c>csvFormatter</c>): a statement's header once, from
/// its first series, with a blank line before every header but the first, and again only where the columns change
/// between two series of one chunk. A chunk without series (an error, an empty result) writes nothing.
/// </summary>
public sealed class CsvChunks
{
    /// <summary>The statement whose header was written last; none before the first.</summary>
    private int? statementId;

    public string Text(JsonObject chunk)
    {
        var csv = new StringBuilder();
        var series = ResultJson.series(chunk).ToList();
        var id = ResultJson.statementId(chunk);
        if (id != statementId)
        {
            if (series.Count == 0)
                return "";
            if (statementId is not null)
                csv.Append('\n');
            statementId = id;
            CsvRows.AppendHeader(csv, series[0]);
        }
        foreach (var (s, i) in series.Select((s, i) => (s, i)))
        {
            if (i > 0 && !CsvRows.Columns(series[i - 1]).SequenceEqual(CsvRows.Columns(s)))
                CsvRows.AppendHeader(csv.Append('\n'), s);
            CsvRows.AppendRows(csv, s);
        }
        return csv.ToString();
    }
}
