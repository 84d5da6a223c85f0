using System.Buffers;
using System.IO.Compression;

namespace InfluxProxy.Host.Http;

/// <summary>A request body read whole into a pooled buffer; dispose to return it.</summary>
public sealed class RequestBody : IDisposable
{
    private byte[] _buffer;

    private RequestBody(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    public int Length { get; }
    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0)
            ArrayPool<byte>.Shared.Return(buffer);
    }

    public enum Problem { None, TooLarge, BadGzip }

    /// <summary>
    /// Reads the body, gunzipping it when <c>Content-Encoding: gzip</c>; the limit applies to the decompressed
    /// bytes too, so a gzip bomb stops at <paramref name="maxBytes"/>.
    /// </summary>
    public static async Task<(RequestBody? Body, Problem Problem, string Detail)> ReadAsync(HttpRequest request, int maxBytes, CancellationToken ct)
    {
        if (request.ContentLength > maxBytes)
            return (null, Problem.TooLarge, "");
        var gzip = string.Equals(request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase);
        await using var source = gzip ? new GZipStream(request.Body, CompressionMode.Decompress, leaveOpen: true) : null;
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(request.ContentLength ?? 64 * 1024, maxBytes) + 1);
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > maxBytes)
                        break;
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxBytes + 1));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var read = await (source ?? request.Body).ReadAsync(buffer.AsMemory(length), ct);
                if (read == 0)
                    break;
                length += read;
            }
        }
        catch (InvalidDataException e)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return (null, Problem.BadGzip, e.Message);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return (null, Problem.TooLarge, "");
        }
        if (length > maxBytes)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return (null, Problem.TooLarge, "");
        }
        return (new RequestBody(buffer, length), Problem.None, "");
    }
}
