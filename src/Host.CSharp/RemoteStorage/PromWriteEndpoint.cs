using System.Text;
using Google.Protobuf;
using InfluxProxy.Core;
using InfluxProxy.Host.Http;
using InfluxProxy.Host.RemoteStorage.Wire;
using InfluxProxy.Host.Schema;
using InfluxProxy.Host.Write;
using Snappier;

namespace InfluxProxy.Host.RemoteStorage;

/// <summary>
/// <c>POST /api/v1/prom/write?db=&amp;rp=</c>: Prometheus remote write (snappy-compressed protobuf), turned into the
/// lines InfluxDB 1.x would store (<see cref="PromWrite"/>) and written as a /write is: journal, batching, backlog,
/// every circle, each series to its measurement's owner. InfluxDB's status codes and texts.
/// </summary>
public static class PromWriteEndpoint
{
    public static async Task Handle(HttpContext context, WritePipeline pipeline, DatabaseCatalog catalog, EndpointOptions options, TimeProvider time)
    {
        if (await PromRequest.OpenAsync(context, options) is not var (db, body))
            return;
        using (body)
        {
            var (lines, error) = Lines(body.Written, options.MaxBodySize);
            if (lines is { } taken)
                await WriteEndpoint.StoreAsync(context, db, context.Request.Query["rp"].ToString(), Precision.Nanosecond, ConsistencyLevel.Any,
                    taken, pipeline, catalog, time);
            else
                await Errors.BadRequest(context, error);
        }
    }

    /// <summary>The request's samples as line protocol, or InfluxDB's 400 text.</summary>
    private static (ReadOnlyMemory<byte>? Lines, string Error) Lines(ReadOnlyMemory<byte> compressed, int maxBytes)
    {
        WriteRequest request;
        try
        {
            if (Snappy.GetUncompressedLength(compressed.Span) > maxBytes)
                return (null, $"the decompressed body exceeds max_body_size ({maxBytes} bytes)");
            request = WriteRequest.Parser.ParseFrom(Snappy.DecompressToArray(compressed.Span));
        }
        catch (Exception e) when (e is InvalidDataException or InvalidProtocolBufferException)
        {
            return (null, e.Message);
        }
        var text = new StringBuilder();
        foreach (var series in request.Timeseries)
        {
            var labels = Microsoft.FSharp.Collections.ListModule.OfSeq(series.Labels.Select(l => Tuple.Create(l.Name, l.Value)));
            var appended = PromWrite.append(labels, series.Samples.Select(s => Tuple.Create(s.Value, s.Timestamp)), text);
            if (appended.IsError)
                return (null, appended.ErrorValue);
        }
        return (Encoding.UTF8.GetBytes(text.ToString()), "");
    }
}
