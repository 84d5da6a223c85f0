namespace InfluxProxy.Host.Http;

/// <summary>Go's <c>FormValue</c>: a urlencoded or multipart body value first, then the URL query; "" when absent.</summary>
public static class RequestValues
{
    public static async Task<Func<string, string>> Read(HttpContext context)
    {
        var request = context.Request;
        var form = await FormAsync(context);
        return name => form?[name] is { Count: > 0 } fromBody ? fromBody.ToString()
            : request.Query[name] is { Count: > 0 } fromQuery ? fromQuery.ToString()
            : "";
    }

    /// <summary>
    /// The body's form, null when it is none. As Go's <c>FormValue</c>, a multipart body it cannot read (no boundary,
    /// cut short, past the form reader's limits) leaves the URL's values; a urlencoded one past the limits is a 413
    /// (<see cref="Errors.Unhandled"/>).
    /// </summary>
    public static async Task<IFormCollection?> FormAsync(HttpContext context)
    {
        if (!context.Request.HasFormContentType)
            return null;
        if (!context.Request.ContentType!.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase))
            return await context.Request.ReadFormAsync(context.RequestAborted);
        try
        {
            return await context.Request.ReadFormAsync(context.RequestAborted);
        }
        catch (Exception e) when (e is InvalidDataException or IOException and not BadHttpRequestException && !context.RequestAborted.IsCancellationRequested)
        {
            return null;
        }
    }
}
