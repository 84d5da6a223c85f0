namespace InfluxProxy.Host.Http;

/// <summary>
/// <c>GET /</c> and <c>GET /ui</c>: one self-contained HTML page (<c>StatusPage.html</c>, embedded) that shows
/// <c>/health</c>, <c>/debug/vars</c> and <c>/migrate/jobs</c> and refreshes itself from them every 2 s.
/// </summary>
public static class StatusPage
{
    // Its script and style are inline; it may fetch from the proxy and load nothing else, nor be framed.
    private const string ContentSecurityPolicy =
        "default-src 'none'; connect-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly byte[] Html = Load();

    public static Task Handle(HttpContext context)
    {
        var response = context.Response;
        response.ContentType = "text/html; charset=utf-8";
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        response.Headers.CacheControl = "no-store";
        return response.Body.WriteAsync(Html, context.RequestAborted).AsTask();
    }

    private static byte[] Load()
    {
        using var stream = typeof(StatusPage).Assembly.GetManifestResourceStream("StatusPage.html")
            ?? throw new InvalidOperationException("StatusPage.html is not embedded in the host assembly");
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return bytes.ToArray();
    }
}
