using System.IO.Compression;
using InfluxProxy.Host.Write;

namespace InfluxProxy.Host.Http;

/// <summary>A request body read whole into a pooled buffer (the caller disposes it).</summary>
public static class RequestBody
{
    public enum Problem { None, TooLarge, BadGzip }

    /// <summary>
    /// Reads the body, gunzipping it when <c>Content-Encoding: gzip</c>; the limit applies to the decompressed
    /// bytes too, so a gzip bomb stops at <paramref name="maxBytes"/>.
    /// </summary>
    public static async Task<(PooledBuffer? Body, Problem Problem, string Detail)> ReadAsync(HttpRequest request, int maxBytes, CancellationToken ct)
    {
        if (request.ContentLength > maxBytes)
            return (null, Problem.TooLarge, "");
        var gzip = string.Equals(request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase);
        await using var source = gzip ? new GZipStream(request.Body, CompressionMode.Decompress, leaveOpen: true) : null;
        var body = new PooledBuffer((int)Math.Min(request.ContentLength ?? 64 * 1024, maxBytes) + 1);
        try
        {
            while (body.Length <= maxBytes)
            {
                var read = await (source ?? request.Body).ReadAsync(body.GetMemory(), ct);
                if (read == 0)
                    return (body, Problem.None, "");
                body.Advance(read);
            }
        }
        catch (InvalidDataException e)
        {
            body.Dispose();
            return (null, Problem.BadGzip, e.Message);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            body.Dispose();
            return (null, Problem.TooLarge, "");
        }
        catch
        {
            body.Dispose();
            throw;
        }
        body.Dispose();
        return (null, Problem.TooLarge, "");
    }
}
