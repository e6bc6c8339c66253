namespace ChatWire.Gateway.Admin;

/// <summary>Section <c>Admin</c>: the operator's management API (docs/deploy.md, "Administration").</summary>
public sealed class AdminOptions
{
    public const string Section = "Admin";

    /// <summary>The minimum length of <see cref="Token"/>.</summary>
    public const int MinTokenLength = 32;

    /// <summary>
    /// The bearer token the management API requires (at least 32 characters, e.g. <c>openssl rand -hex 32</c>); empty
    /// turns the API off (every <c>/admin/</c> path answers 404). Give it as <c>CHATWIRE_Admin__Token</c>, not in a file
    /// others can read.
    /// </summary>
    public string Token { get; set; } = "";
}
