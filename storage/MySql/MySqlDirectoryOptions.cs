namespace ChatWire.Storage.MySql;

/// <summary>Where the MySQL (MariaDB) directory lives.</summary>
/// <param name="ConnectionString">
/// The primary, with its database (<c>Database=…</c>, created when missing). May list failover hosts
/// (<c>Server=a,b;LoadBalance=FailOver</c>); connections are pooled whatever it says.
/// </param>
public sealed record MySqlDirectoryOptions(string ConnectionString)
{
    /// <summary>
    /// A replica of the same database for the reads whose staleness is harmless (see
    /// <see cref="MySqlDirectoryStore"/>); every read goes to the primary when null.
    /// </summary>
    public string? ReplicaConnectionString { get; init; }
}
