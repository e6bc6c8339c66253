namespace ChatWire.Gateway.Api;

/// <summary>How large an HTTP request body may be (docs/http-api.md, "Conventions").</summary>
internal static class RequestLimits
{
    /// <summary>Any API request: its bodies are small JSON objects.</summary>
    public const long MaxBodyBytes = 64 * 1024;
}
