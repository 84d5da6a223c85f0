namespace InfluxProxy.Host.Http;

/// <summary>
/// A request body whose framing is broken (a chunk size that overflows, say) makes Kestrel throw a bare
/// <see cref="IOException"/> from a read, which would pass for our own failure. It is the client's: a 400, as InfluxDB
/// answers it.
/// </summary>
public static class ClientBody
{
    public static Task Guard(HttpContext context, Func<Task> next)
    {
        context.Request.Body = new FramingFaults(context.Request.Body);
        return next();
    }

    private static BadHttpRequestException ClientFault(IOException e) => new(e.Message, StatusCodes.Status400BadRequest, e);

    /// <summary>The request body, its read failures turned into the client's.</summary>
    private sealed class FramingFaults(Stream body) : ReadOnlyStream
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            try
            {
                var read = body.ReadAsync(buffer, ct);
                return read.IsCompletedSuccessfully ? read : Awaited(read);
            }
            catch (IOException e) when (e is not BadHttpRequestException) // Kestrel's own keep their status (408, 413)
            {
                throw ClientFault(e);
            }
        }

        private static async ValueTask<int> Awaited(ValueTask<int> read)
        {
            try
            {
                return await read;
            }
            catch (IOException e) when (e is not BadHttpRequestException)
            {
                throw ClientFault(e);
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        public override int Read(byte[] buffer, int offset, int count)
        {
            try
            {
                return body.Read(buffer, offset, count);
            }
            catch (IOException e) when (e is not BadHttpRequestException)
            {
                throw ClientFault(e);
            }
        }
    }
}
