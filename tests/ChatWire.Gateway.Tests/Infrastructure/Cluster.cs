using ChatWire.Tests.Shared;

namespace ChatWire.Gateway.Tests.Infrastructure;

/// <summary>
/// Several gateway processes (real child processes) sharing the distributed backends: a fresh database on
/// the suite's MariaDB primary (with its replica for the directory's stale-tolerant reads) for the directory
/// and the messages, and Redis for the bus, presence and the membership cache's shared tier.
/// </summary>
internal sealed class Cluster : IAsyncDisposable
{
    private readonly string _database;
    private readonly Dictionary<string, string> _settings;

    private Cluster(string database, Dictionary<string, string> settings, List<GatewayChild> nodes)
    {
        _database = database;
        _settings = settings;
        Nodes = nodes;
    }

    public List<GatewayChild> Nodes { get; }

    public GatewayChild this[int index] => Nodes[index];

    /// <summary>Starts <paramref name="count"/> nodes, the first alone (it creates and migrates the database).</summary>
    public static async Task<Cluster> StartAsync(int count, string? redisConfiguration = null, IReadOnlyDictionary<string, string>? extra = null)
    {
        var database = BackingServices.NewDatabaseName("cluster");
        var settings = new Dictionary<string, string>
        {
            ["Storage:Directory"] = "mysql",
            ["Storage:Messages"] = "mysql",
            ["Storage:MySql:ConnectionString"] = BackingServices.MySqlDatabase(database),
            ["Storage:MySql:ReplicaConnectionString"] = BackingServices.MySqlReplicaDatabase(database),
            ["Routing:Bus"] = "redis",
            ["Routing:Redis:Configuration"] = redisConfiguration ?? BackingServices.Redis,
            ["Limits:SendMessagesPerSecondPerUser"] = "0",
            ["Limits:SendBytesPerSecondPerUser"] = "0",
            ["Limits:SendMessagesPerSecondPerDevice"] = "0",
            ["Limits:SendBytesPerSecondPerDevice"] = "0",
            ["Limits:SendMessagesPerSecondPerConversation"] = "0",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        var nodes = new List<GatewayChild> { await GatewayChild.StartAsync(4096, settings) };
        try
        {
            for (var i = 1; i < count; i++)
            {
                nodes.Add(await GatewayChild.StartAsync(4096, settings));
            }
        }
        catch
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }

            throw;
        }

        return new Cluster(database, settings, nodes);
    }

    /// <summary>Starts one more node with the same settings (e.g. to take over from one that was killed).</summary>
    public async Task<GatewayChild> AddNodeAsync()
    {
        var node = await GatewayChild.StartAsync(4096, _settings);
        lock (Nodes)
        {
            Nodes.Add(node);
        }

        return node;
    }


    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }

        try
        {
            await using var connection = new MySqlConnector.MySqlConnection(BackingServices.MySql);
            await connection.OpenAsync();
            await using var drop = new MySqlConnector.MySqlCommand($"DROP DATABASE IF EXISTS `{_database}`", connection);
            await drop.ExecuteNonQueryAsync();
        }
        catch (MySqlConnector.MySqlException)
        {
        }
    }
}
