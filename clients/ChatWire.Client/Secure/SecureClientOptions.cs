namespace ChatWire.Client.Secure;

/// <summary>How a <see cref="SecureClient"/> uses its key store.</summary>
public sealed record SecureClientOptions
{
    /// <summary>
    /// Whether the key store stays open (and locked) from the first call until <see cref="SecureClient.Dispose"/>
    /// (the default). The store never resumes an outbound chain it loads from disk (a restored state must not reuse
    /// a nonce), so only a held store keeps one sender chain across sends: closing it after each call makes every
    /// send start a new chain and seal its seed to every member again. Set it to <see langword="false"/> when
    /// several short-lived processes of one profile share the store (the CLI's <c>listen</c> and <c>send</c>): the
    /// store is then opened for each call and closed after it, and they take turns on its lock.
    /// </summary>
    public bool HoldStore { get; init; } = true;
}
