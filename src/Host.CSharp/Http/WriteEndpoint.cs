using System.IO.Compression;
using InfluxProxy.Core;
using InfluxProxy.Host.Schema;
using InfluxProxy.Host.Write;

namespace InfluxProxy.Host.Http;

/// <summary>
/// <c>POST /write?db=&amp;rp=&amp;precision=&amp;consistency=</c>, and InfluxDB 1.8's <c>POST /api/v2/write?bucket=db/rp&amp;precision=</c>
/// for 2.x clients: InfluxDB's status codes and error texts.
/// </summary>
public static class WriteEndpoint
{
    public static async Task Handle(HttpContext context, WritePipeline pipeline, DatabaseCatalog catalog, EndpointOptions options, TimeProvider time)
    {
        var query = context.Request.Query;
        var db = query["db"].ToString();
        if (db.Length == 0)
        {
            await Errors.BadRequest(context, "database is required");
            return;
        }
        var precision = PrecisionModule.parse(query["precision"].ToString());
        if (precision.IsError)
        {
            await Errors.BadRequest(context, PrecisionErrorModule.text(precision.ErrorValue));
            return;
        }
        var consistency = ConsistencyLevelModule.parse(query["consistency"].ToString());
        if (consistency.IsError)
        {
            await Errors.BadRequest(context, consistency.ErrorValue);
            return;
        }
        await WriteAsync(context, db, query["rp"].ToString(), precision.ResultValue, consistency.ResultValue, pipeline, catalog, options, time);
    }

    /// <summary>The bucket names the database and retention policy; the organization is not used, as in InfluxDB 1.8.</summary>
    public static async Task HandleV2(HttpContext context, WritePipeline pipeline, DatabaseCatalog catalog, EndpointOptions options, TimeProvider time)
    {
        var query = context.Request.Query;
        var precision = WriteV2.precision(query["precision"].ToString());
        if (precision.IsError)
        {
            await Errors.BadRequest(context, precision.ErrorValue);
            return;
        }
        var consistency = ConsistencyLevelModule.parse(query["consistency"].ToString());
        if (consistency.IsError)
        {
            await Errors.BadRequest(context, consistency.ErrorValue);
            return;
        }
        var bucket = WriteV2.bucket(query["bucket"].ToString());
        if (bucket.IsError)
        {
            await Errors.Write(context, StatusCodes.Status404NotFound, bucket.ErrorValue);
            return;
        }
        var (db, rp) = bucket.ResultValue;
        await WriteAsync(context, db, rp, precision.ResultValue, consistency.ResultValue, pipeline, catalog, options, time);
    }

    private static async Task WriteAsync(HttpContext context, string db, string rp, Precision precision, ConsistencyLevel consistency,
        WritePipeline pipeline, DatabaseCatalog catalog, EndpointOptions options, TimeProvider time)
    {
        if (await RefusedAsync(context, options, db) || await BodyAsync(context, options) is not { } body)
            return;
        using (body)
            await StoreAsync(context, db, rp, precision, consistency, body.Written, pipeline, catalog, time);
    }

    /// <summary>Answers 403 for a database the whitelist does not allow; whether it did.</summary>
    internal static async Task<bool> RefusedAsync(HttpContext context, EndpointOptions options, string db)
    {
        if (Whitelist.allows(options.DbList, db))
            return false;
        await Errors.Write(context, StatusCodes.Status403Forbidden, $"database forbidden: {db}");
        return true;
    }

    /// <summary>The request's body (the caller disposes it); null once answered 413 or 400 (a gzip body that does not decode).</summary>
    internal static async Task<PooledBuffer?> BodyAsync(HttpContext context, EndpointOptions options)
    {
        var (body, problem, detail) = await ReadBodyAsync(context.Request, options.MaxBodySize, context.RequestAborted);
        if (body is null)
            await (problem == BodyProblem.TooLarge
                ? Errors.Write(context, StatusCodes.Status413PayloadTooLarge, $"request entity too large: the body exceeds max_body_size ({options.MaxBodySize} bytes)")
                : Errors.BadRequest(context, detail));
        return body;
    }

    /// <summary>Writes the lines of a request whose database is allowed, and answers as InfluxDB does.</summary>
    internal static async Task StoreAsync(HttpContext context, string db, string rp, Precision precision, ConsistencyLevel consistency,
        ReadOnlyMemory<byte> lines, WritePipeline pipeline, DatabaseCatalog catalog, TimeProvider time)
    {
        if (await catalog.CheckAsync(db, context.RequestAborted) == Existence.Missing)
        {
            await Errors.Write(context, StatusCodes.Status404NotFound, $"database not found: \"{db}\"");
            return;
        }
        // InfluxDB's own answer, a 500: clients keep the points and retry until the policy is created. A body
        // of bad lines only gets their 400 first, as from InfluxDB.
        if (rp.Length > 0 && await catalog.CheckRetentionPolicyAsync(db, rp, context.RequestAborted) == Existence.Missing
            && !LineScanner.OnlyMalformed(lines.Span, precision))
        {
            await Errors.Write(context, StatusCodes.Status500InternalServerError, $"retention policy not found: {rp}");
            return;
        }
        var nowNs = (time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
        await Respond(context, await pipeline.WriteAsync(db, rp, precision, consistency, nowNs, lines));
    }

    private static Task Respond(HttpContext context, WriteAnswer answer)
    {
        if (WriteAnswerModule.error(answer) is { } error)
            return Errors.Write(context, WriteAnswerModule.status(answer), error.Value);
        context.Response.StatusCode = WriteAnswerModule.status(answer);
        return Task.CompletedTask;
    }

    private enum BodyProblem { None, TooLarge, BadGzip }

    /// <summary>
    /// Reads the body whole into a pooled buffer (the caller disposes it), gunzipping it when <c>Content-Encoding: gzip</c>; the limit applies to the decompressed
    /// bytes too, so a gzip bomb stops at <paramref name="maxBytes"/>.
    /// </summary>
    private static async Task<(PooledBuffer? Body, BodyProblem Problem, string Detail)> ReadBodyAsync(HttpRequest request, int maxBytes, CancellationToken ct)
    {
        if (request.ContentLength > maxBytes)
            return (null, BodyProblem.TooLarge, "");
        var trailer = string.Equals(request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase) ? new GzipTrailer(request.Body, maxBytes) : null;
        await using var source = trailer is null ? null : new GZipStream(trailer, CompressionMode.Decompress, leaveOpen: true);
        var body = new PooledBuffer((int)Math.Min(request.ContentLength ?? 64 * 1024, maxBytes) + 1);
        try
        {
            while (body.Length <= maxBytes)
            {
                var read = await (source ?? request.Body).ReadAsync(body.GetMemory(), ct);
                if (read == 0 && trailer is not null && !trailer.Ends(body.Written.Span))
                {
                    // Cut short: InfluxDB's words (Go's gzip reader's), and none of its lines.
                    body.Dispose();
                    return (null, BodyProblem.BadGzip, "unexpected EOF");
                }
                if (read == 0)
                    return (body, BodyProblem.None, "");
                body.Advance(read);
            }
        }
        catch (InvalidDataException e)
        {
            body.Dispose();
            return (null, BodyProblem.BadGzip, $"unable to decode gzip body: {e.Message}");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            body.Dispose();
            return (null, BodyProblem.TooLarge, "");
        }
        catch
        {
            body.Dispose();
            throw;
        }
        body.Dispose();
        return (null, BodyProblem.TooLarge, "");
    }
}
