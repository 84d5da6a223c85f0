namespace InfluxProxy.Host.Http;

/// <summary>Go's <c>FormValue</c>: a urlencoded or multipart body value first, then the URL query; "" when absent.</summary>
public static class RequestValues
{
    public static async Task<Func<string, string>> Read(HttpContext context)
    {
        var request = context.Request;
        var form = request.HasFormContentType ? await request.ReadFormAsync(context.RequestAborted) : null;
        return name => form?[name] is { Count: > 0 } fromBody ? fromBody.ToString()
            : request.Query[name] is { Count: > 0 } fromQuery ? fromQuery.ToString()
            : "";
    }
}
